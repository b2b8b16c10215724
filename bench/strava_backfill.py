"""Backfilling 1,000 newly connected runners: simulated time against the rate limits' minimum.

    .venv/bin/python bench/strava_backfill.py [--athletes 1000] [--processes 2] [--activities-only]

What a runner waits for is their activities: a backfill stores the lookback window (one request)
and leaves the shoes it has never seen to the `read_gear` job, which reads them at background
priority once no runner's first sync is still to come. The run goes on until every shoe is
read, and reports both moments: when the last runner's activities were stored, and when the
last shoe was read.

Real parts: two `worker` processes (dramatiq worker threads, `InProcessWorker`, the same actors
`strideguard worker` runs) on the real Redis broker, one shared Redis rate budget, PostgreSQL,
and the simulator over HTTP with Strava's default limits (100 reads / 15 min, 1,000 / day).
Every runner connects at the same moment (the web seam's enqueue, as the OAuth callback does).

Simulated time, shared by processes: the simulator and the workers read one clock kept in
Redis. dramatiq's `delay` counts real milliseconds, so for this benchmark the worker processes
put a deferred job (the budget is spent: "try again at the next window") into a Redis set
ordered by *simulated* due time instead; whenever the queue is empty, this driver moves the
clock to the earliest due job and sends every job that is due. Nothing else changes: the
budget, the deferral decision and the delay are the product's own.

Minimums are computed from the limits alone, starting at the same moment: fill each 15-minute
window up to its cap while the UTC day has room under its cap. The target compares the last
runner's activities with the minimum for one request per runner at the full limits (nothing
else is due that day, so the budget holds nothing back: backfills may use every read); the
minimums within the backfill share (its cap), and for every request sent (shoes included),
are reported beside it. Each on two bases: whole windows used ("1,000 requests = 10 windows
= 150 min"), and the time of the last request.

`--activities-only` stops once every runner's activities are stored (the target), leaving
the shoe reads that follow at background priority unfinished: a run of a few minutes instead
of simulating the week the shoes take, for this shared machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis
from common import (
    REDIS_URL,
    scratch_postgres,
    scratch_redis_namespace,
    service_env,
    settings_from,
    wait_for_workers,
    write_result,
)
from sqlalchemy import func, select

from strideguard.integrations.strava.budget import DAY_S, WINDOW_S, Limits, caps
from strideguard.integrations.strava.jobs import StravaJob
from strideguard.integrations.strava.mapping import parse_utc
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.integrations.strava.simulator.generator import generate_seed
from strideguard.integrations.strava.sync import window_start
from strideguard.integrations.strava.tokens import store_grant
from strideguard.integrations.strava.webhook_jobs import strava_enqueue
from strideguard.models import Athlete, StravaConnection
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.worker.embedded import InProcessWorker
from strideguard.worker.jobs import Jobs

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # a Monday morning, on a window boundary
HISTORY_WEEKS = 7
TARGET_RATIO = 1.1
STALL_S = 300.0  # real seconds without progress before the run is declared stuck


class RedisClock(SimClock):
    """A frozen simulated clock every process reads from Redis; only the driver moves it."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        super().__init__(START, ticking=False)
        self._redis = client
        self._key = key

    def time(self) -> float:
        return float(self._redis.get(self._key) or 0.0)

    def set(self, moment: dt.datetime) -> None:
        self._redis.set(self._key, repr(moment.timestamp()))

    def advance(self, seconds: float) -> None:
        self._redis.incrbyfloat(self._key, seconds)


class SimDelayedJobs(Jobs):
    """Sends like `Jobs`, except that a delayed job waits in Redis for *simulated* time."""

    def __init__(self, runtime: WorkerRuntime, client: redis.Redis, key: str) -> None:
        super().__init__(runtime.broker)
        self._clock = runtime.clock
        self._redis = client
        self._key = key

    def _send(self, actor_name: str, *args: Any, delay: int | None = None) -> None:
        if not delay:
            super()._send(actor_name, *args)
            return
        due = self._clock().timestamp() + delay / 1000
        self._redis.zadd(self._key, {json.dumps([actor_name, list(args), time.time_ns()]): due})


def keys(namespace: str) -> tuple[str, str]:
    return f"{namespace}:sim-clock", f"{namespace}:sim-delayed"


def run_worker_process(threads: int) -> None:
    """A worker process on simulated time: `strideguard worker` with the two seams above."""
    settings = settings_from(os.environ)
    client = redis.Redis.from_url(REDIS_URL)
    clock_key, delayed_key = keys(settings.queue_namespace)
    clock = RedisClock(client, clock_key)
    runtime = start_runtime(settings, clock=clock.now)
    runtime.jobs = SimDelayedJobs(runtime, client, delayed_key)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pool = InProcessWorker(runtime, threads=threads).start()
    stop.wait()
    pool.stop()
    runtime.close()


def minimum_last_request(
    requests: int, start: dt.datetime, per_window: int, per_day: int
) -> dt.datetime:
    """The earliest moment the `requests`-th request can be sent, from the caps alone."""
    window = int(start.timestamp()) // WINDOW_S
    day, day_used, left = -1, 0, requests
    while True:
        if window * WINDOW_S // DAY_S != day:
            day, day_used = window * WINDOW_S // DAY_S, 0
        room = min(per_window, per_day - day_used)
        if room >= left:
            moment = max(start.timestamp(), window * WINDOW_S)
            return dt.datetime.fromtimestamp(moment, dt.UTC)
        left -= max(room, 0)
        day_used += max(room, 0)
        window += 1


def request_kind(path: str) -> str:
    """/api/v3/athlete/activities -> athlete/activities; /api/v3/gear/g12 -> gear."""
    parts = path.removeprefix("/api/v3/").split("/")
    return "/".join(parts[:2]) if parts[0] == "athlete" else parts[0]


def shoes_in_window(seed: list[dict[str, Any]], lookback_weeks: int) -> int:
    """Shoes used in the runners' lookback windows at the start: what there is to read."""
    after = window_start(START, lookback_weeks)
    return sum(
        len(
            {
                a["gear_id"]
                for a in entry["activities"]
                if a.get("gear_id") and parse_utc(a["start_date"]) > after
            }
        )
        for entry in seed
    )


def windows_spanned(first: dt.datetime, last: dt.datetime) -> int:
    return int(last.timestamp()) // WINDOW_S - int(first.timestamp()) // WINDOW_S + 1


def connect_everyone(runtime: WorkerRuntime, sim: Simulator, strava_ids: list[int]) -> list[int]:
    """Every runner connected now, as the OAuth callback leaves them: not yet backfilled."""
    athlete_ids = []
    with runtime.sessions.begin() as session:
        for strava_id in strava_ids:
            athlete = Athlete(strava_athlete_id=strava_id, email=f"{strava_id}@example.org")
            session.add(athlete)
            session.flush()
            grant = sim.issue_tokens(strava_id)
            store_grant(session, runtime.strava, athlete.id, grant, "read,activity:read_all")
            athlete_ids.append(athlete.id)
    return athlete_ids


def backfilled(runtime: WorkerRuntime) -> tuple[int, dt.datetime | None]:
    """How many runners have their activities stored, and when the last of them was."""
    with runtime.sessions() as session:
        count, last = session.execute(
            select(func.count(), func.max(StravaConnection.backfilled_at)).where(
                StravaConnection.backfilled_at.is_not(None)
            )
        ).one()
    return int(count), last


def drive(
    runtime: WorkerRuntime,
    client: redis.Redis,
    clock: RedisClock,
    athletes: int,
    *,
    activities_only: bool = False,
) -> dict[str, Any]:
    """Release deferred jobs whenever the queue is idle, until no job is left (or, with
    `activities_only`, until every runner's activities are stored)."""
    namespace = runtime.settings.queue_namespace
    _clock_key, delayed_key = keys(namespace)
    queue_keys = [f"{namespace}:sync.msgs", f"{namespace}:sync.DQ.msgs"]
    releases = 0
    released: Counter[str] = Counter()
    began = last_progress = time.monotonic()
    while True:
        if any(int(client.hlen(key)) for key in queue_keys):
            if time.monotonic() - last_progress > STALL_S:
                raise RuntimeError(f"no progress for {STALL_S} s with jobs in the queue")
            time.sleep(0.02)
            continue
        if activities_only and backfilled(runtime)[0] == athletes:
            break
        earliest = client.zrange(delayed_key, 0, 0, withscores=True)
        if not earliest:
            break
        due = float(earliest[0][1])
        if due > clock.time():
            clock.set(dt.datetime.fromtimestamp(due, dt.UTC))
        ready = client.zrangebyscore(delayed_key, "-inf", due)
        client.zremrangebyscore(delayed_key, "-inf", due)
        for member in ready:
            actor_name, args, _ = json.loads(
                str(member, "utf-8") if isinstance(member, bytes) else str(member)
            )
            runtime.broker.get_actor(actor_name).send(*args)
            released[actor_name] += 1
        releases += 1
        last_progress = time.monotonic()
    done, last_backfill = backfilled(runtime)
    if done != athletes or last_backfill is None:
        raise RuntimeError(f"queue idle, nothing deferred, but only {done} backfilled")
    return {
        "activities_stored_at": last_backfill.astimezone(dt.UTC),
        "clock_moves": releases,
        "deferred_jobs_released": sum(released.values()),
        "deferred_jobs_released_by_kind": dict(released),
        "wall_seconds": round(time.monotonic() - began, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athletes", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--activities-only", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker_process(args.threads)
        return 0

    seed = generate_seed(args.athletes, HISTORY_WEEKS, end=START.date() - dt.timedelta(days=1))
    client = redis.Redis.from_url(REDIS_URL)
    with (
        scratch_postgres("sgbench_backfill") as database_url,
        scratch_redis_namespace("sgbench-backfill") as namespace,
        tempfile.TemporaryDirectory(prefix="sg-bench-") as tmp,
    ):
        clock_key, _ = keys(namespace)
        clock = RedisClock(client, clock_key)
        clock.set(START)
        with Simulator(seed, clock=clock) as sim:
            env = service_env(
                database_url,
                namespace,
                STRAVA_BASE_URL=sim.base_url,
                STRAVA_CLIENT_ID=str(sim.client_id),
                STRAVA_CLIENT_SECRET=sim.client_secret,
            )
            settings = settings_from(env)
            runtime = start_runtime(settings, clock=clock.now)
            athlete_ids = connect_everyone(runtime, sim, [int(e["athlete"]["id"]) for e in seed])
            log = Path(tmp) / "workers.log"
            command = [sys.executable, __file__, "--worker", "--threads", str(args.threads)]
            with log.open("ab") as sink:
                workers = [
                    subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
                    for _ in range(args.processes)
                ]
            try:
                wait_for_workers(namespace, args.processes)
                enqueue = strava_enqueue(runtime)
                for athlete_id in athlete_ids:
                    enqueue(StravaJob("backfill", athlete_id))
                outcome = drive(
                    runtime, client, clock, len(athlete_ids), activities_only=args.activities_only
                )
            finally:
                for worker in workers:
                    worker.send_signal(signal.SIGTERM)
                for worker in workers:
                    worker.wait(60)
                runtime.close()
            requests = [r for r in sim.requests if r.path.startswith("/api/v3/")]
    client.close()

    served = [r for r in requests if r.status != 429]
    per_window = Counter(int(r.at.timestamp()) // WINDOW_S for r in requests)
    per_day = Counter(int(r.at.timestamp()) // DAY_S for r in requests)
    kinds = Counter(request_kind(r.path) for r in served)
    limits = Limits()
    backfill_caps = caps(limits, settings.strava_budget_backfill_share)
    lists = [i for i, r in enumerate(served) if request_kind(r.path) == "athlete/activities"]
    shoes = [i for i, r in enumerate(served) if request_kind(r.path) == "gear"]
    shoes_per_window = Counter(int(served[i].at.timestamp()) // WINDOW_S for i in shoes)
    stored_at = outcome.pop("activities_stored_at")
    last_list = served[lists[-1]].at
    last_shoe = served[shoes[-1]].at if shoes else last_list

    def minutes(moment: dt.datetime) -> float:
        return round((moment - START).total_seconds() / 60, 1)

    def minimum(requests: int, per_window: int, per_day: int) -> dict[str, Any]:
        floor = minimum_last_request(requests, START, per_window, per_day)
        return {
            "requests": requests,
            "per_window": per_window,
            "per_day": per_day,
            "last_request_after_minutes": minutes(floor),
            "windows_used": windows_spanned(START, floor),
        }

    floor_share = minimum(args.athletes, backfill_caps.read_window, backfill_caps.read_day)
    floor_full = minimum(args.athletes, limits.read_window, limits.read_day)
    floor_all = minimum(len(served), limits.read_window, limits.read_day)
    ours_windows = windows_spanned(START, last_list)
    result = {
        "setup": f"{args.processes} worker processes x {args.threads} threads, Redis broker "
        "and shared Redis budget, PostgreSQL, simulator over HTTP; simulated time shared "
        "through Redis",
        "athletes": args.athletes,
        "start": START.isoformat(),
        "limits": {"read_15min": limits.read_window, "read_daily": limits.read_day},
        "budget_backfill_share": settings.strava_budget_backfill_share,
        "budget_held_for_due_work": "nothing due: no evaluations, no webhooks",
        "activities_only": args.activities_only,
        "budget_background_share": settings.strava_budget_background_share,
        "api_requests": len(served),
        "api_requests_by_kind": dict(kinds),
        "requests_429": len(requests) - len(served),
        "max_requests_in_a_15min_window": max(per_window.values()),
        "max_requests_in_a_utc_day": max(per_day.values()),
        "windows_over_limit": sum(1 for n in per_window.values() if n > limits.read_window),
        "days_over_limit": sum(1 for n in per_day.values() if n > limits.read_day),
        "activities": {
            "last_runner_stored_after_minutes": minutes(stored_at),
            "last_request_at": last_list.isoformat(),
            "windows_used": ours_windows,
        },
        "shoes": {
            "in_the_window_at_start": shoes_in_window(seed, settings.lookback_weeks),
            "reads": len(shoes),
            "distinct_shoes_read": len({served[i].path for i in shoes}),
            "reads_before_the_last_activity_list": sum(1 for i in shoes if i < lists[-1]),
            "max_reads_in_a_15min_window": max(shoes_per_window.values(), default=0),
            "last_read_after_minutes": minutes(last_shoe),
            "last_request_at": last_shoe.isoformat(),
            "windows_used": windows_spanned(START, last_shoe),
        },
        "minimum_for_one_request_per_athlete_within_the_backfill_share": floor_share,
        "minimum_for_one_request_per_athlete": floor_full,
        "minimum_for_every_request_sent": floor_all,
        "ratio_whole_windows": round(ours_windows / floor_full["windows_used"], 3),
        "ratio_last_request": round(
            minutes(last_list) / floor_full["last_request_after_minutes"], 3
        ),
        "ratio_whole_windows_vs_the_backfill_share": round(
            ours_windows / floor_share["windows_used"], 3
        ),
        "ratio_all_requests_whole_windows": round(
            windows_spanned(START, last_shoe) / floor_all["windows_used"], 3
        ),
        **outcome,
        "targets": {
            "ratio": f"<= {TARGET_RATIO}",
            "windows_over_limit": 0,
            "requests_429": 0,
            "shoe_reads_before_the_last_activity_list": 0,
        },
    }
    result["meets_target"] = (
        result["ratio_whole_windows"] <= TARGET_RATIO
        and result["windows_over_limit"] == 0
        and result["requests_429"] == 0
        and result["shoes"]["reads_before_the_last_activity_list"] == 0
    )
    write_result("strava_backfill", result)
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
