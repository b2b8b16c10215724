"""The Monday-morning burst: how fast the worker judges every runner's week and mails digests.

    .venv/bin/python bench/worker_pipeline.py [--athletes 200] [--threads 8]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB] [--out PATH]

The PostgreSQL database must exist (it is migrated here); SQLite gets a fresh file.

Everything real: the scheduler creates the week's evaluations and enqueues them on the Redis
broker (127.0.0.1:6379, a private namespace), dramatiq worker threads run `evaluate_week`
(one window refresh through stravalib against the simulator over HTTP, the rules, the alerts
and outbox transaction) and `send_digest` (render, MIME, SMTP to aiosmtpd on loopback). Every
fourth runner has a risky week. The simulator's rate limits are raised so the figure is the
worker's own throughput: in production Strava's 100 reads / 15 min is the bottleneck, and the
budget defers the rest (see bench/strava_requests.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
from aiosmtpd.controller import Controller
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strideguard.db import alembic_config
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.models import DeliveryRecord, Evaluation
from strideguard.runtime import start_runtime
from strideguard.settings import get_settings
from strideguard.status import DeliveryStatus, EvaluationStatus
from strideguard.worker.embedded import InProcessWorker
from strideguard.worker.scheduler import Scheduler
from tests.worker.strava_history import (
    CLIENT_ID,
    CLIENT_SECRET,
    connect,
    history,
    sim_athlete,
)

NOW = dt.datetime(2025, 10, 20, 7, 0, tzinfo=dt.UTC)  # Monday 09:00 in Oslo
WEEK = dt.date(2025, 10, 13)
CONNECTED = dt.datetime(2025, 10, 15, tzinfo=dt.UTC)  # only the week of 13 October is due
STEADY = (5.0, 5.0, 10.0)
RISKY = (10.0, 10.0, 20.0)
RESULTS = Path(__file__).resolve().parent / "results"


class CountingInbox:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, _server: object, _session: object, _envelope: object) -> str:
        self.count += 1
        return "250 OK"


def runners(count: int) -> list[dict[str, object]]:
    athletes = []
    for index in range(count):
        weeks = {WEEK - dt.timedelta(weeks=i): STEADY for i in range(1, 6)}
        weeks[WEEK] = RISKY if index % 4 == 0 else STEADY
        athletes.append(sim_athlete(100_000 + index, f"R{index}", history(index * 100, weeks)))
    return athletes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athletes", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--out", type=Path, default=None, help="default: results/worker_pipeline.<database>.json"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sg-bench-"))
    os.chdir(workdir)
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    command.upgrade(alembic_config(database_url), "head")
    namespace = f"sgbench-{uuid.uuid4().hex[:8]}"
    inbox = CountingInbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = int(probe.getsockname()[1])
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    clock = SimClock(NOW, ticking=True)
    sim = Simulator(
        runners(args.athletes),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=clock,
        read_limits=(1_000_000, 10_000_000),
        overall_limits=(1_000_000, 10_000_000),
    )
    sim.start()
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL="redis://127.0.0.1:6379/0",
        QUEUE_NAMESPACE=namespace,
        SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        STRAVA_BASE_URL=sim.base_url,
        STRAVA_CLIENT_ID=str(CLIENT_ID),
        STRAVA_CLIENT_SECRET=CLIENT_SECRET,
        SECRET_KEY=secrets.token_urlsafe(32),
        TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        PUBLIC_BASE_URL="https://strideguard.example.org",
    )
    get_settings.cache_clear()
    runtime = start_runtime(get_settings(), clock=clock.now)
    try:
        for index in range(args.athletes):
            connect(
                runtime.sessions,
                runtime.strava,
                sim,
                100_000 + index,
                email=f"r{index}@example.com",
                connected_at=CONNECTED,
            )
        pool = InProcessWorker(runtime, threads=args.threads).start()
        started = time.perf_counter()
        scheduled = len(Scheduler(runtime).tick().scheduled)
        expected_mail = (args.athletes + 3) // 4
        while True:
            with runtime.sessions() as session:
                done = session.scalar(
                    select(func.count()).where(Evaluation.status != EvaluationStatus.PENDING)
                )
                sent = session.scalar(
                    select(func.count()).where(DeliveryRecord.status == DeliveryStatus.SENT)
                )
            if done == scheduled and sent == expected_mail:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        pool.stop()
    finally:
        runtime.close()
        sim.stop()
        smtp.stop()
        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
    requests = [r for r in sim.requests if r.path.startswith("/api/v3/athlete/activities")]
    result = {
        "benchmark": "worker_pipeline",
        "database": database_url.split(":", 1)[0].split("+", 1)[0],
        "athletes": args.athletes,
        "worker_threads": args.threads,
        "evaluations": scheduled,
        "digests_sent": inbox.count,
        "seconds": round(elapsed, 2),
        "evaluations_per_s": round(scheduled / elapsed, 1),
        "activity_requests_per_evaluation": round(len(requests) / scheduled, 2),
    }
    assert inbox.count == expected_mail, result
    out = args.out or RESULTS / f"worker_pipeline.{result['database']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
