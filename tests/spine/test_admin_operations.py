"""The admin view's live sections: rate budget, queue depths, rules in force, last check."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from strideguard.integrations.strava.budget import Reservation
from strideguard.passwords import hash_password
from strideguard.rules.config import SHIPPED_RULES
from strideguard.settings import Settings
from strideguard.web.app import create_app
from strideguard.web.worker_seam import attach_worker

PASSWORD = "correct horse battery"


def _dashboard(client: TestClient) -> str:
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    client.post("/admin/login", data={"password": PASSWORD, "csrf": csrf.group(1)})
    page_text: str = client.get("/admin").text
    return page_text


def test_budget_queues_and_rules_in_force(app_settings: Settings, tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    shutil.copy(SHIPPED_RULES, rules_file)
    settings = app_settings.model_copy(
        update={"admin_password_hash": hash_password(PASSWORD), "rules_path": rules_file}
    )
    app = create_app(settings)
    attach_worker(app, settings, with_scheduler=False)
    with TestClient(app) as client:
        page = _dashboard(client)
        assert "Strava rate budget" in page
        assert re.search(r"read requests</td><td class=\"num\">0 / 100</td>", page)
        assert "<td>evaluate" in page or "evaluate" in page.split("<h2>Queues</h2>")[1]
        assert f"Loaded from <code>{rules_file}</code>" in page
        assert "weekly_distance_spike" in page
        assert "Last <code>rules check</code>: valid." in page

        # A broken edit is refused; the dashboard says so and names the line.
        rules_file.write_text(rules_file.read_text().replace("\nrules:", "\nrules: [", 1))
        page = client.get("/admin").text
        assert "The last edit of the rules file was refused" in page
        assert re.search(rf"{re.escape(str(rules_file))}:\d+:\d+: ", page)
        assert "weekly_distance_spike" in page  # the old rules stay in force


def test_the_webhook_sync_mode_in_force_and_why(app_settings: Settings) -> None:
    settings = app_settings.model_copy(update={"admin_password_hash": hash_password(PASSWORD)})
    app = create_app(settings)
    runtime = attach_worker(app, settings, with_scheduler=False)
    with TestClient(app) as client:
        page = " ".join(_dashboard(client).split())
        assert "New runs from webhooks: <strong>read at once</strong>" in page
        assert "(STRAVA_WEBHOOK_SYNC=auto; auto: 1000 of today&#39;s reads are free" in page
        # Once every read left today is held for due evaluations, auto falls back to deferred.
        now = runtime.clock()
        runtime.strava.budget.hold(now, Reservation(evaluations_window=3, evaluations_day=1000))
        page = " ".join(client.get("/admin").text.split())
        assert "<strong>left to the next window refresh</strong>" in page
        assert "held for 1000 due evaluations" in page
        assert 'held for due evaluations</td><td class="num">3</td><td class="num">1000' in page


def test_a_process_without_a_worker_runtime_says_so(app_settings: Settings) -> None:
    settings = app_settings.model_copy(update={"admin_password_hash": hash_password(PASSWORD)})
    with TestClient(create_app(settings)) as client:
        assert "runs no worker runtime" in _dashboard(client)
