"""Webhook intake: POST /strava/webhook/<secret> at a steady rate from a load generator on loopback.

    .venv/bin/python bench/webhook_intake.py [--rate 200] [--seconds 30] [--repeats 3]

Production shape: `strideguard web` (uvicorn, PostgreSQL, jobs sent to Redis) and one
`strideguard worker` process, each its own OS process, against a private PostgreSQL database
and a private Redis namespace. The load generator sends valid Strava activity events on a
fixed schedule (open loop: latency is counted from the moment a request was *due*, so a slow
answer cannot hide by delaying the next request), from threads with one keep-alive
connection each. One event in fifty is sent a second time, as Strava does when it retries.

Afterwards every accepted event must be one `webhook_events` row, and each row must end
`processed` after exactly one attempt; re-sent events must have been answered "duplicate".
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    cpu_seconds,
    latency_summary,
    scratch_postgres,
    scratch_redis_namespace,
    service_env,
    start_process,
    stop_processes,
    wait_for_http,
    write_result,
)
from sqlalchemy import func, select

from strideguard.db import make_engine, make_sessionmaker
from strideguard.integrations.strava.subscription import webhook_url
from strideguard.models import Athlete, StravaSubscription, WebhookEvent
from strideguard.settings import Settings
from strideguard.status import WebhookEventStatus
from strideguard.web.live import free_port

SUBSCRIPTION_ID = 120475
PUBLIC = "https://strideguard.example.org"  # service_env's PUBLIC_BASE_URL
RUNNERS = 500
RESEND_EVERY = 50
TARGET_P99_MS = 50.0
PROCESSING_TIMEOUT_S = 120.0
SWEEP_SECONDS = 10.0


@dataclass
class Shot:
    due: float  # perf_counter when the request should leave
    body: bytes
    resend: bool


@dataclass
class LoadReport:
    latencies_ms: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    lateness_ms: list[float] = field(default_factory=list)  # how late requests left
    lock: threading.Lock = field(default_factory=threading.Lock)


def event_body(serial: int, runner: int) -> bytes:
    return json.dumps(
        {
            "aspect_type": "create",
            "event_time": 1_770_000_000 + serial,
            "object_id": 9_000_000_000 + serial,
            "object_type": "activity",
            "owner_id": 200_000 + runner,
            "subscription_id": SUBSCRIPTION_ID,
            "updates": {},
        }
    ).encode()


def schedule(rate: float, seconds: float, first_serial: int, start: float) -> list[Shot]:
    shots = []
    for index in range(int(rate * seconds)):
        body = event_body(first_serial + index, index % RUNNERS)
        shots.append(Shot(start + index / rate, body, resend=False))
        if index % RESEND_EVERY == RESEND_EVERY - 1:
            shots.append(Shot(start + (index + 0.5) / rate, body, resend=True))
    shots.sort(key=lambda shot: shot.due)
    return shots


_OK = ("received", "duplicate")


def accepted_in(answers: Counter[str] | dict[str, int]) -> int:
    return sum(count for key, count in answers.items() if key.endswith(":received"))


def fire(port: int, path: str, shots: list[Shot], report: LoadReport) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    for shot in shots:
        pause = shot.due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        left = time.perf_counter()
        connection.request("POST", path, body=shot.body, headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read()).get("status", f"http {response.status}")
        done = time.perf_counter()
        with report.lock:
            report.latencies_ms.append((done - shot.due) * 1000)
            report.lateness_ms.append(max(0.0, left - shot.due) * 1000)
            report.answers[f"{'resent' if shot.resend else 'first'}:{answer}"] += 1
    connection.close()


def run_load(
    port: int, path: str, rate: float, seconds: float, threads: int, first_serial: int
) -> LoadReport:
    report = LoadReport()
    shots = schedule(rate, seconds, first_serial, time.perf_counter() + 0.5)
    workers = [
        threading.Thread(target=fire, args=(port, path, shots[k::threads], report))
        for k in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return report


def seed_database(database_url: str, callback_url: str) -> None:
    engine = make_engine(database_url)
    with make_sessionmaker(engine).begin() as session:
        session.add(StravaSubscription(subscription_id=SUBSCRIPTION_ID, callback_url=callback_url))
        session.add_all(
            Athlete(strava_athlete_id=200_000 + i, email=f"r{i}@example.org")
            for i in range(RUNNERS)
        )
    engine.dispose()


def wait_processed(
    database_url: str, expected: int
) -> tuple[dict[WebhookEventStatus, int], Counter[int], float]:
    """Statuses and attempt counts once nothing is left `received` (or the timeout passes)."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    began = time.perf_counter()
    try:
        while True:
            with sessions() as session:
                statuses = dict(
                    session.execute(
                        select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status)
                    ).all()
                )
                attempts = Counter(
                    dict(
                        session.execute(
                            select(WebhookEvent.attempts, func.count()).group_by(
                                WebhookEvent.attempts
                            )
                        ).all()
                    )
                )
            waited = time.perf_counter() - began
            settled = sum(statuses.values()) >= expected and not statuses.get(
                WebhookEventStatus.RECEIVED
            )
            if settled or waited > PROCESSING_TIMEOUT_S:
                return statuses, attempts, waited
            time.sleep(0.2)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=16, help="load generator threads")
    parser.add_argument(
        "--sweep",
        type=lambda text: [float(r) for r in text.split(",") if r],
        default=[50.0, 100.0, 150.0],
        help="lower rates measured once each afterwards, to show where latency stays low",
    )
    args = parser.parse_args(argv)

    with (
        scratch_postgres("sgbench_webhook") as database_url,
        scratch_redis_namespace("sgbench-webhook") as namespace,
        tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp,
    ):
        port = free_port()
        env = service_env(database_url, namespace)
        callback = webhook_url(Settings(SECRET_KEY=env["SECRET_KEY"], PUBLIC_BASE_URL=PUBLIC))
        seed_database(database_url, callback)
        path = callback.removeprefix(PUBLIC)
        log = Path(tmp) / "services.log"
        processes = [
            start_process(["web", "--port", str(port)], env, log),
            start_process(["worker", "--threads", "8"], env, log),
        ]
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz")
            serial = 0
            accepted_total = 0

            def measure(rate: float, seconds: float) -> dict[str, Any]:
                nonlocal serial, accepted_total
                cpu_before = [cpu_seconds(process.pid) for process in processes]
                began = time.perf_counter()
                report = run_load(port, path, rate, seconds, args.threads, serial)
                took = time.perf_counter() - began - 0.5
                serial += int(rate * seconds)
                accepted_total += accepted_in(report.answers)
                statuses, attempts, waited = wait_processed(database_url, accepted_total)
                cpu_ms = [
                    (cpu_seconds(process.pid) - before) * 1000 / len(report.latencies_ms)
                    for process, before in zip(processes, cpu_before, strict=True)
                ]
                summary = latency_summary(report.latencies_ms)
                print(f"{rate:g} req/s for {seconds:g} s: {summary}", flush=True)
                return {
                    "rate_per_s": rate,
                    "requests": len(report.latencies_ms),
                    "achieved_per_s": round(len(report.latencies_ms) / took, 1),
                    "latency_ms": summary,
                    "send_lateness_ms_p99": latency_summary(report.lateness_ms)["p99"],
                    "answers": dict(report.answers),
                    "rows_by_status": statuses,
                    "rows_by_attempts": {str(k): v for k, v in sorted(attempts.items())},
                    "seconds_until_all_processed": round(waited, 2),
                    "cpu_ms_per_request": {
                        "web": round(cpu_ms[0], 2),
                        "worker": round(cpu_ms[1], 2),
                    },
                    "load_average_1min_after": round(os.getloadavg()[0], 2),
                }

            runs = [measure(args.rate, args.seconds) for _ in range(args.repeats)]
            sweep = [measure(rate, SWEEP_SECONDS) for rate in args.sweep]
        finally:
            stop_processes(processes)
            if any(process.returncode not in (0, -15) for process in processes):
                print(log.read_text()[-3000:], file=sys.stderr)

    last = (sweep or runs)[-1]
    rows = sum(last["rows_by_status"].values())
    accepted = sum(accepted_in(run["answers"]) for run in [*runs, *sweep])
    distinct = int(args.rate * args.seconds) * args.repeats + sum(
        int(rate * SWEEP_SECONDS) for rate in args.sweep
    )
    # Each distinct event accepted exactly once (its twin, whichever came second, is a
    # duplicate), recorded once, and processed in exactly one attempt.
    once = (
        accepted == distinct
        and rows == accepted
        and last["rows_by_status"].get("processed", 0) == accepted
        and last["rows_by_attempts"] == {"1": accepted}
        and all(
            set(run["answers"]) <= {f"{k}:{a}" for k in ("first", "resent") for a in _OK}
            for run in [*runs, *sweep]
        )
    )
    p99 = statistics.median(float(run["latency_ms"]["p99"]) for run in runs)
    result = {
        "setup": "strideguard web (uvicorn) + 1 strideguard worker, PostgreSQL, Redis broker",
        "rate_per_s": args.rate,
        "seconds_per_run": args.seconds,
        "repeats": args.repeats,
        "load_generator": f"{args.threads} threads, http.client keep-alive, open loop",
        "p99_ms_median_of_runs": round(p99, 2),
        "median_ms_median_of_runs": round(
            statistics.median(float(run["latency_ms"]["median"]) for run in runs), 2
        ),
        "accepted_events": accepted,
        "webhook_event_rows": rows,
        "every_accepted_event_recorded_once_and_processed_once": once,
        "runs": runs,
        "sweep": sweep,
        "targets": {"p99_ms": f"< {TARGET_P99_MS}", "processed_once": True},
        "meets_target": p99 < TARGET_P99_MS and once,
    }
    write_result("webhook_intake", result)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
