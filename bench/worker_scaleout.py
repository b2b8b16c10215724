"""Worker scale-out: the Monday burst through 1 and then 2 `strideguard worker` processes.

    .venv/bin/python bench/worker_scaleout.py [--athletes 200] [--threads 8] [--repeats 3]

The job mix is the weekly one: the scheduler (run here, once) creates every runner's
evaluation for last week and enqueues it on the real Redis; `strideguard worker` processes run
`evaluate_week` (one window refresh through stravalib against the simulator over HTTP, the
rules, alerts and outbox in one PostgreSQL transaction) and `send_digest` (render, MIME, SMTP
to aiosmtpd in its own process) for the quarter of runners whose week was risky. The
simulator's limits are raised so the figure is the workers' own throughput (with Strava's
default limits the budget, not the worker, sets the pace: see strava_backfill.py).

Each repeat gets a fresh database; 1 and 2 processes alternate so a change in the machine's
load hits both. The figure is evaluations per second (digests included), median of repeats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import (
    SmtpSinkProcess,
    cpu_seconds,
    scratch_postgres,
    scratch_redis_namespace,
    service_env,
    settings_from,
    start_process,
    stop_processes,
    wait_for_workers,
    write_result,
)
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.models import DeliveryRecord, Evaluation
from strideguard.runtime import start_runtime
from strideguard.status import DeliveryStatus, EvaluationStatus
from strideguard.worker.scheduler import Scheduler
from tests.worker.strava_history import CLIENT_ID, CLIENT_SECRET, connect, history, sim_athlete

STEADY = (5.0, 5.0, 10.0)
RISKY = (10.0, 10.0, 20.0)
TIMEOUT_S = 600.0


def last_week(now: dt.datetime) -> dt.date:
    """Monday of the latest week that closed (with grace) before `now`."""
    back = (now - dt.timedelta(days=2)).date()
    return back - dt.timedelta(days=back.weekday() + 7)


def runners(count: int, week: dt.date) -> list[dict[str, object]]:
    athletes = []
    for index in range(count):
        weeks = {week - dt.timedelta(weeks=i): STEADY for i in range(1, 6)}
        weeks[week] = RISKY if index % 4 == 0 else STEADY
        athletes.append(sim_athlete(100_000 + index, f"R{index}", history(index * 100, weeks)))
    return athletes


def one_run(
    processes: int, args: argparse.Namespace, sim: Simulator, smtp_port: int
) -> dict[str, float]:
    now = sim.clock.now()
    week = last_week(now)
    with (
        scratch_postgres("sgbench_scale") as database_url,
        scratch_redis_namespace("sgbench-scale") as namespace,
        tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp,
    ):
        env = service_env(
            database_url,
            namespace,
            SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
            STRAVA_BASE_URL=sim.base_url,
            STRAVA_CLIENT_ID=str(CLIENT_ID),
            STRAVA_CLIENT_SECRET=CLIENT_SECRET,
        )
        settings = settings_from(env)
        runtime = start_runtime(settings)
        for index in range(args.athletes):
            connect(
                runtime.sessions,
                runtime.strava,
                sim,
                100_000 + index,
                email=f"r{index}@example.com",
                connected_at=dt.datetime.combine(week + dt.timedelta(days=2), dt.time(), dt.UTC),
            )
        log = Path(tmp) / "worker.log"
        workers = [
            start_process(["worker", "--threads", str(args.threads)], env, log)
            for _ in range(processes)
        ]
        try:
            wait_for_workers(namespace, processes)  # all listening before the burst
            cpu_before = sum(cpu_seconds(w.pid) for w in workers)
            started = time.perf_counter()
            scheduled = len(Scheduler(runtime).tick().scheduled)
            while True:
                with runtime.sessions() as session:
                    pending = session.scalar(
                        select(func.count()).where(Evaluation.status == EvaluationStatus.PENDING)
                    )
                    unsent = session.scalar(
                        select(func.count()).where(DeliveryRecord.status != DeliveryStatus.SENT)
                    )
                    sent = session.scalar(
                        select(func.count()).where(DeliveryRecord.status == DeliveryStatus.SENT)
                    )
                if (
                    pending == 0 and unsent == 0 and sent
                ) or time.perf_counter() - started > TIMEOUT_S:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu_before
        finally:
            stop_processes(workers)
            runtime.close()
    return {
        "evaluations": scheduled,
        "digests_sent": int(sent or 0),
        "seconds": round(elapsed, 2),
        "evaluations_per_s": round(scheduled / elapsed, 1),
        "worker_cpu_ms_per_evaluation": round(cpu * 1000 / scheduled, 1),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athletes", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    clock = SimClock()  # real time: worker processes read their own clocks
    week = last_week(clock.now())
    sim = Simulator(
        runners(args.athletes, week),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=clock,
        read_limits=(10**7, 10**8),
        overall_limits=(10**7, 10**8),
    )
    with sim, SmtpSinkProcess() as smtp:
        for _ in range(args.repeats):
            for processes in (1, 2):
                run = one_run(processes, args, sim, smtp.port)
                runs[processes].append(run)
                print(f"{processes} process(es): {run}", flush=True)
    rate = {n: statistics.median(r["evaluations_per_s"] for r in runs[n]) for n in runs}
    write_result(
        "worker_scaleout",
        {
            "setup": "strideguard worker processes on Redis, PostgreSQL, simulator over HTTP, "
            "aiosmtpd in its own process",
            "athletes": args.athletes,
            "threads_per_process": args.threads,
            "repeats": args.repeats,
            "week": week.isoformat(),
            "evaluations_per_s_median": {f"{n} process(es)": rate[n] for n in rate},
            "speedup_2_over_1": round(rate[2] / rate[1], 2),
            "runs": {f"{n} process(es)": runs[n] for n in runs},
            "target": "report",
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
