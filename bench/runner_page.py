"""GET /me for a runner with 16 weeks of data, on SQLite, over real HTTP: p95 under 100 ms.

One `strideguard` app (uvicorn, in this process's thread) on a migrated scratch SQLite file,
the runner seeded as in tests/runner/history.py (21 weeks of runs, 3 emailed alerts, a
check-in), a session opened for them, then sequential keep-alive GETs of /me after a warm-up.
Each answer is checked (200 and the 16-week table), so an error page cannot look fast.

    .venv/bin/python bench/runner_page.py [--requests 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import sys
import tempfile
import time
from pathlib import Path

from alembic import command
from common import latency_summary, write_result

# The seeded runner is the one the tests use (tests/runner/history.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strideguard import runner_sessions
from strideguard.db import alembic_config, make_engine, make_sessionmaker
from strideguard.models import utcnow
from strideguard.settings import Settings
from strideguard.web.app import create_app
from strideguard.web.live import LiveServer
from strideguard.web.runner.common import SESSION_COOKIE
from tests.runner.history import seed_runner

TARGET_P95_MS = 100.0
WARM_UP = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sg-bench-me-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        command.upgrade(alembic_config(url), "head")
        settings = Settings(
            DATABASE_URL=url,
            SECRET_KEY="bench-runner-page-" + "b" * 32,
            PUBLIC_BASE_URL="http://127.0.0.1",
            RETENTION_DAYS=150,  # the seeded history is kept whole, so every week is drawn
        )
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        athlete_id = seed_runner(sessions, dt.datetime.now(dt.UTC))
        with sessions.begin() as session:
            session_id = runner_sessions.open_session(session, athlete_id, utcnow())
        samples: list[float] = []
        with LiveServer(create_app(settings)) as server:
            host, port = server.url.removeprefix("http://").split(":")
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            headers = {"Cookie": f"{SESSION_COOKIE}={session_id}"}
            for n in range(WARM_UP + args.requests):
                started = time.perf_counter()
                connection.request("GET", "/me", headers=headers)
                answer = connection.getresponse()
                body = answer.read()
                elapsed_ms = (time.perf_counter() - started) * 1000
                if answer.status != 200 or body.count(b'<g class="week') != 16:
                    raise SystemExit(f"/me answered {answer.status} without the 16-week chart")
                if n >= WARM_UP:
                    samples.append(elapsed_ms)
            connection.close()
        engine.dispose()
    latency = latency_summary(samples)
    p95 = latency["p95"]
    write_result(
        "runner_page",
        {
            "setup": "app over uvicorn on loopback, SQLite, one runner with 21 weeks of runs",
            "requests": args.requests,
            "warm_up": WARM_UP,
            "latency_ms": latency,
            "target_p95_ms": TARGET_P95_MS,
            "pass": p95 is not None and p95 < TARGET_P95_MS,
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    )


if __name__ == "__main__":
    main()
