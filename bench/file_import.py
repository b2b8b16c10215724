"""Benchmark: import a 400-file Strava bulk export (FIT, GPX and TCX, gzip, as Strava ships it).

    .venv/bin/python bench/file_import.py [--files 400] [--step 2] [--repeats 1] [--read]

Generates a marathon runner's history with the simulator, writes it as the export ZIP a runner
downloads (activities.csv with Strava's real header, one compressed file per recorded
activity, a track point every `--step` seconds: 1 s is a watch's densest setting, Garmin's
default "smart" recording writes one every 1-7 s), then times the import path,
`strideguard.integrations.files.importer.import_paths` (read, deduplicate, store the rows in a
migrated SQLite database, match them with Strava's rows), in one process and with two
worker processes, each into a fresh database; then the re-import of the same export, which must
store nothing. `--read` also times `read_export` alone (the reading without the database).
Reading time grows with the number of points, so `--step 1` doubles it. The export spans
about 70 weeks, so FILE_RETENTION_DAYS is set to 800 here to store all of it.
Writes bench/results/file_import.json. Target: under 30 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command
from common import write_result

from strideguard.db import alembic_config, make_engine, make_sessionmaker
from strideguard.integrations.files import read_export
from strideguard.integrations.files.importer import import_paths
from strideguard.integrations.strava.simulator.generator import generate_history
from strideguard.models import Athlete
from strideguard.settings import Settings
from tests.files.exports import write_export

TARGET_S = 30.0
# The history ends on Sunday 29 November 2026; the import runs the next day.
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


def _cpu_s() -> float:
    """CPU seconds of this process and its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _time_import(
    export: Path, scratch: Path, workers: int, args: argparse.Namespace
) -> dict[str, Any]:
    """`import_paths` into a fresh migrated SQLite database, then the no-op re-import."""
    runs: list[float] = []
    load = os.getloadavg()[0]
    cpu_before = _cpu_s()
    names: list[str] = []
    for repeat in range(args.repeats):
        url = f"sqlite:///{scratch / f'import-{workers}-{repeat}.db'}"
        command.upgrade(alembic_config(url), "head")
        settings = Settings.model_validate({"DATABASE_URL": url, "FILE_RETENTION_DAYS": 800})
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            athlete = Athlete(firstname="Bench", email="bench@example.org", timezone="Europe/Oslo")
            session.add(athlete)
            session.flush()
            athlete_id = athlete.id
        start = time.perf_counter()
        outcome = import_paths(
            sessions, athlete_id, [export], settings=settings, workers=workers, now=NOW
        )
        runs.append(time.perf_counter() - start)
        if outcome.failed or len(outcome.imported) != args.files:
            raise SystemExit(f"imported {len(outcome.imported)}: {outcome.failed[:3]}")
        names = outcome.imported
        start = time.perf_counter()
        again = import_paths(
            sessions, athlete_id, [export], settings=settings, workers=workers, now=NOW
        )
        reimport_s = time.perf_counter() - start
        if again.imported or len(again.duplicates) != args.files:
            raise SystemExit(f"re-import stored {len(again.imported)}")
        engine.dispose()
    cpu_ms = (_cpu_s() - cpu_before) / args.repeats / args.files * 1000
    median = statistics.median(runs)
    return {
        "runs_s": [round(r, 2) for r in runs],
        "median_s": round(median, 2),
        "files_per_s": round(args.files / median, 1),
        "within_target": median < TARGET_S,
        "reimport_s": round(reimport_s, 2),
        "load_1min_at_start": round(load, 2),
        "cpu_ms_per_file_import_and_reimport": round(cpu_ms, 1),
        "names": names,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--step", type=int, default=2, help="seconds between track points")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--read", action="store_true", help="also time read_export alone")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    history = generate_history(
        42, 104, tz="Europe/Oslo", seed=7, end=dt.date(2026, 11, 29), profile="marathon"
    )
    recorded = [a for a in history["activities"] if not a["manual"]][: args.files]
    if len(recorded) < args.files:
        raise SystemExit(f"the history has only {len(recorded)} recorded activities")
    history["activities"] = recorded
    with tempfile.TemporaryDirectory(prefix="file-import-") as scratch:
        export = write_export(history, Path(scratch) / "export.zip", step_s=args.step)
        generate_s = time.perf_counter() - began
        export_mb = export.stat().st_size / 2**20
        imports = {
            f"workers_{workers}": _time_import(export, Path(scratch), workers, args)
            for workers in (1, 2)
        }
        names = [name for timing in imports.values() for name in timing.pop("names")][: args.files]
        timings: dict[str, Any] = {}
        for workers in (1, 2) if args.read else ():
            runs: list[float] = []
            load = os.getloadavg()[0]
            cpu_before = _cpu_s()
            for _ in range(args.repeats):
                start = time.perf_counter()
                report = read_export(export, athlete_zone=ZoneInfo("Europe/Oslo"), workers=workers)
                runs.append(time.perf_counter() - start)
            cpu_ms = (_cpu_s() - cpu_before) / args.repeats / args.files * 1000
            if report.problems or len(report.activities) != args.files:
                raise SystemExit(f"read {len(report.activities)}: {report.problems[:3]}")
            median = statistics.median(runs)
            timings[f"workers_{workers}"] = {
                "runs_s": [round(r, 2) for r in runs],
                "median_s": round(median, 2),
                "files_per_s": round(args.files / median, 1),
                "within_target": median < TARGET_S,
                "load_1min_at_start": round(load, 2),
                "cpu_ms_per_file": round(cpu_ms, 1),
            }
    result = {
        "files": args.files,
        "formats": dict(collections.Counter(Path(name).suffixes[0][1:] for name in names)),
        "track_point_every_s": args.step,
        "export_mb": round(export_mb, 1),
        "generate_s": round(generate_s, 1),
        "import": imports,
        "read_only": timings or "not run (pass --read)",
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "target_s": TARGET_S,
    }
    path = write_result("file_import", result)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
