"""The demo: the whole product on one generated runner, in one process, with no servers.

Every hop is the real one. The Strava simulator serves real HTTP; the runner connects through
`/connect`, the simulator's consent page and `/strava/callback`; the backfill and each weekly
evaluation run as dramatiq jobs on in-process worker threads; every digest travels a real SMTP
hop into a local sink that files it as `.eml` and `.html`. Only the calendar is compressed: the
demo replays 16 past weeks one after another instead of waiting for 16 Monday mornings.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import requests
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import select

from strideguard.checkins import record_checkin
from strideguard.db import alembic_config
from strideguard.integrations.strava.simulator import Simulator, generate_history
from strideguard.mailsink import OutboxSink
from strideguard.models import Alert, Athlete, DeliveryRecord, Evaluation, StravaConnection
from strideguard.passwords import hash_password
from strideguard.runtime import WorkerRuntime
from strideguard.settings import Settings
from strideguard.status import DeliveryKind, DeliveryStatus, EvaluationStatus
from strideguard.web.app import create_app
from strideguard.web.live import LiveServer, free_port
from strideguard.web.worker_seam import attach_worker
from strideguard.worker.scheduler import Scheduler

DEMO_WEEKS = 16
DEMO_ATHLETE_ID = 4242
# West of UTC, so Sunday-evening runs are already Monday in UTC: the week rules must not care.
DEMO_ZONE = "America/Denver"
DEMO_EMAIL = "runner@example.org"
FINISHED_EVALUATION = (
    EvaluationStatus.DONE,
    EvaluationStatus.SKIPPED,
    EvaluationStatus.FAILED,
)
FINISHED_EMAIL = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED)
SCENARIOS = ("demo", "all-rules")
# The runner's answers to "How is your back this week?" in the all-rules scenario, by week
# index: rising from week 12, 5 in week 14 (back_pain_reported) and 8 in the big last week
# (both back-pain rules, with the red flags first).
ALL_RULES_CHECKINS = {12: 2, 13: 3, 14: 5, 15: 8}


class DemoError(Exception):
    """A demo step did not complete; the message says which and why."""


@dataclass(frozen=True)
class WeekResult:
    week_start: dt.date
    rules: list[str]
    email: Path | None


def last_closed_sunday(today: dt.date) -> dt.date:
    """The Sunday that ended the last complete ISO week before `today`'s week."""
    return today - dt.timedelta(days=today.weekday() + 1)


class Demo:
    """Start with `with Demo(workdir, outbox) as demo:`, then `connect()` and `evaluate(...)`."""

    def __init__(
        self,
        workdir: Path,
        outbox: Path,
        *,
        today: dt.date | None = None,
        admin_password: str | None = None,
        scenario: str = "demo",
    ) -> None:
        if scenario not in SCENARIOS:
            raise DemoError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.workdir = workdir
        self.outbox = outbox
        self.admin_password = admin_password
        # The runner's own calendar: every activity of the replayed weeks has really happened.
        self.end = last_closed_sunday(today or dt.datetime.now(ZoneInfo(DEMO_ZONE)).date())
        self.history = generate_history(
            DEMO_ATHLETE_ID,
            DEMO_WEEKS,
            tz=DEMO_ZONE,
            seed=7,
            end=self.end,
            scenario=scenario,
        )
        first_monday = self.end - dt.timedelta(days=6, weeks=DEMO_WEEKS - 1)
        self.weeks = [first_monday + dt.timedelta(weeks=n) for n in range(DEMO_WEEKS)]
        self._started: list[Any] = []

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Demo:
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        database = self.workdir / "demo.db"
        for stale in self.workdir.glob("demo.db*"):
            stale.unlink()
        if self.outbox.exists():
            shutil.rmtree(self.outbox)
        database_url = f"sqlite:///{database}"
        command.upgrade(alembic_config(database_url), "head")

        self.simulator = Simulator([self.history])
        strava_url = self.simulator.start()
        self._started.append(self.simulator)
        self.sink = OutboxSink(self.outbox).start()
        self._started.append(self.sink)

        port = free_port()
        self.settings = Settings(
            database_url=database_url,
            smtp_url=self.sink.smtp_url,
            strava_client_id=self.simulator.client_id,
            strava_client_secret=self.simulator.client_secret,
            strava_base_url=strava_url,
            strava_webhook_verify_token=secrets.token_urlsafe(16),
            public_base_url=f"http://127.0.0.1:{port}",
            secret_key=secrets.token_urlsafe(48),
            token_encryption_key=Fernet.generate_key().decode(),
            # Replaying 16 weeks needs all of them fetched at evaluation time.
            lookback_weeks=DEMO_WEEKS,
            admin_password_hash=hash_password(self.admin_password) if self.admin_password else None,
        )
        app = create_app(self.settings)
        self.runtime: WorkerRuntime = attach_worker(app, self.settings, with_scheduler=False)
        self.web = LiveServer(app, port=port).start()
        # The server's shutdown handler stops the worker threads and closes the runtime.
        self._started.append(self.web)

    def _stop(self) -> None:
        while self._started:
            self._started.pop().stop()

    @property
    def base_url(self) -> str:
        return self.settings.public_base_url

    # ------------------------------------------------------------------ steps

    def connect(self, browser: requests.Session | None = None) -> str:
        """Walk the connect flow as a browser would; return the final page's text."""
        browser = browser or requests.Session()
        landing = _ok(browser.get(f"{self.base_url}/connect", timeout=10), "the /connect page")
        start = _find(r'href="([^"]+)"[^>]*>Connect with Strava', landing.text, "connect button")
        # Strava's consent (auto-approved by the simulator) redirects back to our callback.
        connected = _ok(
            browser.get(_absolute(self.base_url, start), timeout=30), "the Strava callback"
        )
        if self.scenario == "all-rules":
            # Before the address is saved: the welcome (which judges the last closed week at
            # once) waits for an address, so it sees these answers as a runner's would be.
            self.answer_checkins(ALL_RULES_CHECKINS)
        token = _find(r'name="token" value="([^"]+)"', connected.text, "email form")
        action = _find(r'<form method="post" action="([^"]+)"', connected.text, "email form")
        saved = _ok(
            browser.post(
                _absolute(self.base_url, action),
                data={"token": token, "email": DEMO_EMAIL},
                timeout=10,
            ),
            "saving the email address",
        )
        self.wait_for_backfill()
        return connected.text + saved.text

    def answer_checkins(self, answers: dict[int, int]) -> None:
        """Store the runner's back-pain answers for replayed weeks (by index into `weeks`).

        The check-in page records the week it is answered in; the demo compresses the
        calendar, so it stores past weeks' answers directly, as if each was clicked that week.
        """
        athlete_id = self.athlete_id
        with self.runtime.sessions.begin() as session:
            for index, score in answers.items():
                record_checkin(session, athlete_id, self.weeks[index], score, None)

    def wait_for_backfill(self, timeout_s: float = 60) -> None:
        def backfilled() -> bool:
            with self.runtime.sessions() as session:
                done = session.scalar(
                    select(StravaConnection.backfilled_at)
                    .join(Athlete)
                    .where(Athlete.strava_athlete_id == DEMO_ATHLETE_ID)
                )
            return done is not None

        _wait(backfilled, timeout_s, "the backfill")

    @property
    def athlete_id(self) -> int:
        with self.runtime.sessions() as session:
            athlete_id = session.scalar(
                select(Athlete.id).where(Athlete.strava_athlete_id == DEMO_ATHLETE_ID)
            )
        if athlete_id is None:
            raise DemoError("the runner is not connected yet")
        return athlete_id

    def evaluate(self, weeks: list[dt.date], timeout_s: float = 180) -> list[WeekResult]:
        """Evaluate these closed weeks as the scheduler would, then wait for every digest."""
        athlete_id = self.athlete_id
        Scheduler(self.runtime).schedule_weeks(athlete_id, weeks)

        def settled() -> bool:
            with self.runtime.sessions() as session:
                open_evaluations = session.scalar(
                    select(Evaluation.id).where(
                        Evaluation.athlete_id == athlete_id,
                        Evaluation.week_start.in_(weeks),
                        Evaluation.status.not_in(FINISHED_EVALUATION),
                    )
                )
                open_email = session.scalar(
                    select(DeliveryRecord.id).where(
                        DeliveryRecord.athlete_id == athlete_id,
                        DeliveryRecord.status.not_in(FINISHED_EMAIL),
                    )
                )
            return open_evaluations is None and open_email is None

        _wait(settled, timeout_s, "the weekly evaluations and their emails")
        return self.results(weeks)

    def results(self, weeks: list[dt.date]) -> list[WeekResult]:
        athlete_id = self.athlete_id
        with self.runtime.sessions() as session:
            alerts = session.execute(
                select(Alert.week_start, Alert.rule_id).where(Alert.athlete_id == athlete_id)
            ).all()
            emails = dict(
                session.execute(
                    select(DeliveryRecord.week_start, DeliveryRecord.message_id).where(
                        DeliveryRecord.athlete_id == athlete_id,
                        DeliveryRecord.status == DeliveryStatus.SENT,
                        DeliveryRecord.kind == DeliveryKind.DIGEST,  # not the welcome
                    )
                ).all()
            )
        fired: dict[dt.date, list[str]] = {}
        for week, rule in alerts:
            fired.setdefault(week, []).append(rule)
        return [
            WeekResult(
                week_start=week,
                rules=sorted(fired.get(week, [])),
                email=self.sink.files.get(emails[week]) if week in emails else None,
            )
            for week in weeks
        ]


def _ok(response: requests.Response, step: str) -> requests.Response:
    if response.status_code != 200:
        raise DemoError(f"{step} answered HTTP {response.status_code} at {response.url}")
    return response


def _find(pattern: str, page: str, what: str) -> str:
    match = re.search(pattern, page)
    if match is None:
        raise DemoError(f"the page has no {what}")
    return html.unescape(match.group(1))


def _absolute(base_url: str, link: str) -> str:
    return link if link.startswith("http") else base_url + link


def _wait(ready: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise DemoError(f"{what} did not finish within {timeout_s:.0f} s")
        time.sleep(0.1)
