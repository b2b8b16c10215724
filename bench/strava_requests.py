"""Strava requests per athlete-week in steady state, and 429s, for 1,000 simulated runners.

    .venv/bin/python bench/strava_requests.py [--athletes 1000] [--weeks 8]
        [--webhook-sync auto|deferred|immediate] [--out PATH]

Everything real but the calendar: the simulator serves Strava over HTTP with the default limits
(100 reads / 15 min, 1,000 / day), our web app is served by uvicorn and receives every webhook,
the sync functions run through stravalib against a SQLite database, and one shared budget
(in memory, as in the embedded default) guards every request. Time is the simulator's clock,
moved from event to event: uploads (each sends a webhook), and each runner's weekly
evaluation at Monday 06:00 in their own zone, which refreshes their lookback window. A job
that meets a spent budget is deferred to the time `BudgetExceeded` names, as the worker does.

Timeline: a warm-up backfill of everyone (as if they had all just connected; not measured),
with the shoe reads each backfill leaves to the background job, then the measured weeks (8 by
default): every upload as it happens, and one weekly evaluation per runner per week.

Side by side, in the same process, a naive baseline runs against its own simulator built from
the same seed with the same default limits (an application's budget is its own, so the two
must not share one): every simulated hour, for every runner, GET /athlete/activities?after=
<last activity seen>, refreshing the token when it expires. The naive poller is sent plain
HTTP on one keep-alive connection (no stravalib) because it makes about 168 requests per
runner-week; it runs over `--naive-weeks` of the same measured period.

`--webhook-sync` (default `deferred`, the recorded baseline) sets STRAVA_WEBHOOK_SYNC. In `auto`
each new run is read at once while the day has room; to hold back what is due as the
scheduler does, every 15 simulated minutes from the end of the warm-up's first day the bench
hands the budget the evaluations not yet done that are due this window and day (and, counted
ahead, in the next window) and the last day's rate of new-run webhooks
(`strideguard.integrations.strava.due_reads.reservations_ahead`, the scheduler's own
arithmetic). Outside `deferred` each new run is also judged for a per-run alert, which
refreshes the runner's window at RUN priority as `judge_run` does; `run_judgements` counts
them.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import functools
import heapq
import http.client
import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import uvicorn
from alembic import command
from common import latency_summary
from cryptography.fernet import Fernet
from sqlalchemy import select

from strideguard.db import alembic_config, make_engine, make_sessionmaker
from strideguard.integrations.strava.budget import MemoryBudget
from strideguard.integrations.strava.context import StravaContext, make_context
from strideguard.integrations.strava.due_reads import reservations_ahead, unknown_shoes
from strideguard.integrations.strava.errors import BudgetExceeded, StravaError
from strideguard.integrations.strava.jobs import StravaJob, run_job
from strideguard.integrations.strava.mapping import parse_utc
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.integrations.strava.simulator.generator import generate_seed
from strideguard.integrations.strava.subscription import ensure_subscription
from strideguard.integrations.strava.sync import backfill, read_unknown_gear, refresh_window
from strideguard.integrations.strava.tokens import store_grant
from strideguard.models import Athlete, WebhookEvent
from strideguard.settings import Settings
from strideguard.times import week_start_of
from strideguard.web.app import create_app
from strideguard.web.live import free_port
from strideguard.worker.ports import Priority

WARM_UP_MONDAY = dt.date(2026, 3, 2)  # week W-1: everyone connects and is backfilled
FIRST_MEASURED_MONDAY = dt.date(2026, 3, 9)
MEASURED_WEEKS = 8
LOOKBACK_WEEKS = 6
UPLOAD_DELAY = dt.timedelta(minutes=5)  # watch to Strava after the activity ends
EVALUATION_LOCAL_TIME = dt.time(6, 0)
RESULTS = Path(__file__).parent / "results" / "strava_requests.json"


@dataclass(order=True)
class Event:
    at: dt.datetime
    seq: int
    run: Callable[[], None] = field(compare=False)


class Timeline:
    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.queue: list[Event] = []
        self.counter = itertools.count()

    def at(self, when: dt.datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, Event(when, next(self.counter), action))

    def run_until(self, end: dt.datetime | None = None) -> None:
        while self.queue and (end is None or self.queue[0].at < end):
            event = heapq.heappop(self.queue)
            if event.at > self.clock.now():
                self.clock.set(event.at)
            event.run()


@dataclass
class Tally:
    deferrals: int = 0
    failures: list[str] = field(default_factory=list)
    evaluation_delays_s: list[float] = field(default_factory=list)
    webhook_jobs: int = 0
    run_judgements: int = 0
    # Judgements that found their week judged when their turn came: no read (judge_run's step 0).
    judgements_covered: int = 0
    # Why measured evaluations were deferred (the budget's reason), and how often.
    evaluation_deferrals: Counter[str] = field(default_factory=Counter)
    webhook_round_trip_ms: list[float] = field(default_factory=list)


def _settings(tmp: Path, sim: Simulator, port: int, webhook_sync: str) -> Settings:
    return Settings(
        DATABASE_URL=f"sqlite:///{tmp / 'bench.db'}",
        STRAVA_BASE_URL=sim.base_url,
        STRAVA_CLIENT_ID=sim.client_id,
        STRAVA_CLIENT_SECRET=sim.client_secret,
        STRAVA_WEBHOOK_VERIFY_TOKEN="bench-verify",  # noqa: S106 - a throwaway bench value
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        SECRET_KEY="bench-secret-" + "x" * 32,
        TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        LOOKBACK_WEEKS=LOOKBACK_WEEKS,
        STRAVA_WEBHOOK_SYNC=webhook_sync,
    )


def _serve(
    settings: Settings, ctx: StravaContext, enqueue: Callable[[StravaJob], None], port: int
) -> uvicorn.Server:
    app = create_app(settings)
    app.state.strava = ctx
    app.state.strava_enqueue = enqueue
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server


def _upload_time(activity: dict[str, Any]) -> dt.datetime:
    started = parse_utc(str(activity["start_date"]))
    return started + dt.timedelta(seconds=int(activity.get("elapsed_time") or 0)) + UPLOAD_DELAY


@dataclass
class NaiveTally:
    requests: int = 0
    requests_429: int = 0
    activities_seen: int = 0
    token_refreshes: int = 0


class NaivePoller:
    """The baseline: every hour, ask Strava for each runner's activities since the last seen."""

    def __init__(self, sim: Simulator, strava_ids: list[int], since: dt.datetime) -> None:
        self.sim = sim
        split = urlsplit(sim.base_url)
        self.http = http.client.HTTPConnection(split.hostname or "127.0.0.1", split.port)
        self.grants = {sid: sim.issue_tokens(sid) for sid in strava_ids}
        self.last_seen = dict.fromkeys(strava_ids, int(since.timestamp()))
        self.tally = NaiveTally()

    def _call(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        self.http.request(method, path, headers=headers)
        response = self.http.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def _token(self, strava_id: int) -> str:
        grant = self.grants[strava_id]
        if int(grant["expires_at"]) <= self.sim.clock.time() + 60:
            form = urlencode(
                {
                    "client_id": self.sim.client_id,
                    "client_secret": self.sim.client_secret,
                    "grant_type": "refresh_token",
                    "refresh_token": grant["refresh_token"],
                }
            )
            status, body = self._call("POST", f"/oauth/token?{form}", {})
            if status == 200:
                self.tally.token_refreshes += 1
                self.grants[strava_id] = grant = body
        return str(grant["access_token"])

    def poll_everyone(self) -> None:
        for strava_id in self.grants:
            query = urlencode({"after": self.last_seen[strava_id], "per_page": 200})
            status, body = self._call(
                "GET",
                f"/api/v3/athlete/activities?{query}",
                {"Authorization": f"Bearer {self._token(strava_id)}"},
            )
            self.tally.requests += 1
            if status == 429:
                self.tally.requests_429 += 1
            elif status == 200 and body:
                self.tally.activities_seen += len(body)
                self.last_seen[strava_id] = max(
                    int(parse_utc(str(a["start_date"])).timestamp()) for a in body
                )

    def close(self) -> None:
        self.http.close()


def run_naive_poller(
    seed: list[dict[str, Any]],
    uploads: list[tuple[int, dict[str, Any]]],
    start: dt.datetime,
    weeks: int,
) -> dict[str, Any]:
    """The hourly poller over `weeks` from `start`, on its own simulator with the same seed."""
    clock = SimClock(start, ticking=False)
    pending = sorted(uploads, key=lambda upload: _upload_time(upload[1]))
    before = [u for u in pending if _upload_time(u[1]) < start]
    later = [u for u in pending if _upload_time(u[1]) >= start]
    began = time.monotonic()
    with Simulator(copy.deepcopy(seed), clock=clock) as sim:
        for strava_id, activity in before:
            sim.add_activity(strava_id, copy.deepcopy(activity))
        poller = NaivePoller(sim, [int(e["athlete"]["id"]) for e in seed], start)
        hour = start
        end = start + dt.timedelta(weeks=weeks)
        while hour < end:
            clock.set(hour)
            while later and _upload_time(later[0][1]) <= hour:
                strava_id, activity = later.pop(0)
                sim.add_activity(strava_id, copy.deepcopy(activity))
            poller.poll_everyone()
            hour += dt.timedelta(hours=1)
        poller.close()
    tally = poller.tally
    athlete_weeks = len(seed) * weeks
    return {
        "weeks": weeks,
        "api_requests_per_athlete_week": round(tally.requests / athlete_weeks, 2),
        "requests": tally.requests,
        "requests_429": tally.requests_429,
        "share_429": round(tally.requests_429 / max(1, tally.requests), 4),
        "activities_seen": tally.activities_seen,
        "token_refreshes": tally.token_refreshes,
        "wall_seconds": round(time.monotonic() - began, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athletes", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=MEASURED_WEEKS, help="measured weeks")
    parser.add_argument(
        "--naive-weeks", type=int, default=1, help="weeks the naive hourly poller runs (0: none)"
    )
    parser.add_argument(
        "--webhook-sync", choices=("auto", "deferred", "immediate"), default="deferred"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: bench/results/...")
    args = parser.parse_args(argv)
    if args.out is None:
        plain = args.webhook_sync == "deferred" and args.athletes == 1000
        name = f"strava_requests_{args.webhook_sync}_{args.athletes}.json"
        args.out = RESULTS if plain else RESULTS.with_name(name)
    began = time.monotonic()

    weeks = args.weeks
    last_day = FIRST_MEASURED_MONDAY + dt.timedelta(weeks=weeks) - dt.timedelta(days=1)
    seed = generate_seed(args.athletes, LOOKBACK_WEEKS + 1 + weeks + 1, end=last_day)
    warm_up = dt.datetime.combine(WARM_UP_MONDAY, dt.time(), dt.UTC)
    uploads: list[tuple[int, dict[str, Any]]] = []
    for entry in seed:
        already: list[dict[str, Any]] = []
        later: list[dict[str, Any]] = []
        for activity in entry["activities"]:
            (already if _upload_time(activity) < warm_up else later).append(activity)
        entry["activities"] = already
        uploads.extend((int(entry["athlete"]["id"]), activity) for activity in later)
    naive_seed = copy.deepcopy(seed)
    naive_uploads = copy.deepcopy(uploads)

    clock = SimClock(warm_up, ticking=False)
    tally = Tally()
    shm = Path("/dev/shm")  # noqa: S108 - a private TemporaryDirectory inside it
    scratch = str(shm) if shm.is_dir() else None  # the bench counts requests, not fsyncs
    with tempfile.TemporaryDirectory(dir=scratch) as tmp, Simulator(seed, clock=clock) as sim:
        port = free_port()
        settings = _settings(Path(tmp), sim, port, args.webhook_sync)
        command.upgrade(alembic_config(settings.database_url), "head")
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        ctx = make_context(settings, sessions, budget=MemoryBudget(), clock=clock.now)
        timeline = Timeline(clock)
        received: list[StravaJob] = []
        lock = threading.Lock()

        def enqueue(job: StravaJob) -> None:  # called on the web server's thread
            with lock:
                received.append(job)

        server = _serve(settings, ctx, enqueue, port)
        ensure_subscription(ctx)

        # What the scheduler would hold: evaluations not yet done, and new-run webhooks seen.
        pending: Counter[tuple[dt.datetime, int]] = Counter()  # (due, athlete id)
        new_runs: deque[dt.datetime] = deque()
        judged_weeks: set[tuple[int, dt.date]] = set()  # (athlete id, week start)

        def hold_due_reads() -> None:
            now = clock.now()
            while new_runs and new_runs[0] <= now - dt.timedelta(days=1):
                new_runs.popleft()
            with sessions() as session:
                shoes = unknown_shoes(session)
            due = [(when, 1 + shoes.get(athlete, 0)) for when, athlete in pending.elements()]
            # As the Strava source does: `deferred` fetches no new run, so holds none.
            runs = len(new_runs) if settings.strava_webhook_sync != "deferred" else 0
            for moment, reservation in reservations_ahead(now, due, runs):
                ctx.budget.hold(moment, reservation)
            if timeline.queue:
                timeline.at(now + dt.timedelta(minutes=15), hold_due_reads)

        def judged_athlete(job: StravaJob) -> tuple[int, str] | None:
            """The athlete (id, zone) whose new run the pipeline would judge for a per-run
            alert (worker/run_alerts.py: `judge_run`, queued for each `create` outside
            `deferred`)."""
            if settings.strava_webhook_sync == "deferred" or job.kind != "webhook_event":
                return None
            with sessions() as session:
                event = session.get(WebhookEvent, job.target_id)
                if event is None or (event.object_type, event.aspect_type) != (
                    "activity",
                    "create",
                ):
                    return None
                row = session.execute(
                    select(Athlete.id, Athlete.timezone).where(
                        Athlete.strava_athlete_id == event.owner_id
                    )
                ).first()
                return (row.id, row.timezone) if row else None

        def drain_webhooks() -> None:
            with lock:
                jobs, received[:] = list(received), []
            for job in jobs:
                tally.webhook_jobs += 1
                new_runs.append(clock.now())
                attempt(functools.partial(run_job, ctx, job), clock.now())
                judged = judged_athlete(job)
                if judged is not None:
                    # The judgement's own window refresh, at RUN priority: the 30-day rule
                    # needs the month before the run, and rows are kept only RETENTION_DAYS.
                    # It reads the shoes it finds unknown, as the Strava source's refresh does.
                    # A judgement whose turn comes after its week's digest stops unread.
                    tally.run_judgements += 1
                    athlete_id, zone = judged
                    week = week_start_of(clock.now().astimezone(ZoneInfo(zone)).date())
                    attempt(functools.partial(judge, athlete_id, week), clock.now())

        def judge(athlete_id: int, week: dt.date) -> None:
            if (athlete_id, week) in judged_weeks:
                tally.judgements_covered += 1
                return
            refresh_window(ctx, athlete_id, priority=Priority.RUN)

        def evaluate(athlete_id: int, week: dt.date) -> None:
            refresh_window(ctx, athlete_id, priority=Priority.EVALUATION)
            judged_weeks.add((athlete_id, week))

        def attempt(
            work: Callable[[], object],
            due: dt.datetime,
            measured: bool = False,
            athlete: int | None = None,
        ) -> None:
            try:
                work()
            except BudgetExceeded as exceeded:
                tally.deferrals += 1
                if measured:
                    tally.evaluation_deferrals[f"{exceeded} at {clock.now():%a %H:%M}"] += 1
                retry_at = clock.now() + dt.timedelta(milliseconds=exceeded.retry_after_ms)
                timeline.at(retry_at, functools.partial(attempt, work, due, measured, athlete))
                return
            except StravaError as error:
                tally.failures.append(f"{type(error).__name__}: {error}")
                return
            if measured:
                tally.evaluation_delays_s.append((clock.now() - due).total_seconds())
                pending[(due, athlete or 0)] -= 1

        # everyone connects at the start of the warm-up week
        athlete_ids: dict[int, int] = {}
        with sessions.begin() as session:
            for entry in seed:
                strava_id = int(entry["athlete"]["id"])
                athlete = Athlete(strava_athlete_id=strava_id, email=f"{strava_id}@example.org")
                session.add(athlete)
                session.flush()
                grant = sim.issue_tokens(strava_id)
                store_grant(session, ctx, athlete.id, grant, "read,activity:read_all")
                athlete_ids[strava_id] = athlete.id

        def connect(athlete_id: int) -> None:
            """The backfill job, then the shoe job it sends for the shoes it left unread."""
            if backfill(ctx, athlete_id).gear_unread:
                read_shoes = functools.partial(read_unknown_gear, ctx, athlete_id)
                timeline.at(clock.now(), functools.partial(attempt, read_shoes, warm_up))

        for athlete_id in athlete_ids.values():
            first_sync = functools.partial(connect, athlete_id)
            timeline.at(warm_up, functools.partial(attempt, first_sync, warm_up))

        for strava_id, activity in uploads:

            def upload(strava_id: int = strava_id, activity: dict[str, Any] = activity) -> None:
                posted = time.perf_counter()
                sim.add_activity(strava_id, activity, wait=True)  # returns once we answered
                tally.webhook_round_trip_ms.append((time.perf_counter() - posted) * 1000)
                drain_webhooks()

            timeline.at(_upload_time(activity), upload)

        # The backfills are done within the first day; from then on the scheduler's ticks
        # hold what is due, as they would in production, the warm-up's last days included.
        timeline.run_until(warm_up + dt.timedelta(days=1))
        with sessions() as session:
            zones = {
                row.id: row.timezone
                for row in session.execute(select(Athlete.id, Athlete.timezone))
            }
        for week in range(weeks):
            monday = FIRST_MEASURED_MONDAY + dt.timedelta(weeks=week)
            for athlete_id in athlete_ids.values():
                local = dt.datetime.combine(
                    monday, EVALUATION_LOCAL_TIME, ZoneInfo(zones[athlete_id])
                )
                due = local.astimezone(dt.UTC)
                closed = functools.partial(evaluate, athlete_id, monday - dt.timedelta(weeks=1))
                timeline.at(due, functools.partial(attempt, closed, due, True, athlete_id))
                pending[(due, athlete_id)] += 1
        timeline.at(clock.now(), hold_due_reads)
        timeline.run_until(
            dt.datetime.combine(FIRST_MEASURED_MONDAY, dt.time(), dt.UTC) - dt.timedelta(hours=20)
        )
        warm_up_requests = len(sim.requests)
        warm_up_deferrals = tally.deferrals
        timeline.run_until()
        sim.flush_webhooks()
        server.should_exit = True
        engine.dispose()

        measured = sim.requests[warm_up_requests:]
        api = [r for r in measured if r.path.startswith("/api/v3/")]
        oauth = [r for r in measured if r.path.startswith("/oauth/")]
        athlete_weeks = args.athletes * weeks
        delays = sorted(tally.evaluation_delays_s)
        result = {
            "athletes": args.athletes,
            "measured_weeks": weeks,
            "limits": {"read_15min": 100, "read_daily": 1000},
            "webhook_sync": settings.strava_webhook_sync,
            "webhook_new_runs_read_at_once": sum(
                1 for r in measured if r.path.startswith("/api/v3/activities/")
            ),
            "api_requests_per_athlete_week": round(len(api) / athlete_weeks, 4),
            "oauth_token_requests_per_athlete_week": round(len(oauth) / athlete_weeks, 4),
            "requests_429_measured": sum(1 for r in measured if r.status == 429),
            "requests_429_including_warm_up": sum(1 for r in sim.requests if r.status == 429),
            "warm_up_api_requests": sum(
                1 for r in sim.requests[:warm_up_requests] if r.path.startswith("/api/v3/")
            ),
            "evaluations_done": len(delays),
            "evaluation_delay_minutes": {
                "median": round(statistics.median(delays) / 60, 1) if delays else None,
                "p95": round(delays[int(len(delays) * 0.95) - 1] / 60, 1) if delays else None,
                "max": round(delays[-1] / 60, 1) if delays else None,
            },
            # a deferral is a job re-enqueued for the next window (no request, no sleep)
            "budget_deferrals_warm_up": warm_up_deferrals,
            "budget_deferrals_measured": tally.deferrals - warm_up_deferrals,
            "evaluation_deferrals_by_reason": dict(tally.evaluation_deferrals.most_common(10)),
            "webhook_post_round_trip_ms": latency_summary(tally.webhook_round_trip_ms),
            "webhook_events_handled": tally.webhook_jobs,
            "run_judgements": tally.run_judgements,
            "run_judgements_covered_by_a_digest": tally.judgements_covered,
            "webhooks_delivered": sum(1 for d in sim.deliveries if d.delivered),
            "failures": tally.failures[:10],
            "wall_seconds": round(time.monotonic() - began, 1),
            # `deferred` reads nothing per run: about one request per runner-week. The other
            # modes read each new run, so only the 429 target applies to them.
            "targets": {"requests_429": 0}
            | (
                {"api_requests_per_athlete_week": "<= 1.1"}
                if settings.strava_webhook_sync == "deferred"
                else {}
            ),
        }
    if args.naive_weeks:
        start = dt.datetime.combine(FIRST_MEASURED_MONDAY, dt.time(), dt.UTC)
        naive = run_naive_poller(naive_seed, naive_uploads, start, min(args.naive_weeks, weeks))
        result["naive_hourly_poller"] = naive
        result["naive_to_ours_requests_ratio"] = round(
            naive["api_requests_per_athlete_week"] / result["api_requests_per_athlete_week"], 1
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["requests_429_measured"] == 0 and not tally.failures else 1


if __name__ == "__main__":
    sys.exit(main())
