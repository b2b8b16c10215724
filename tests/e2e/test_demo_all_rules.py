"""`strideguard demo --scenario all-rules`: one runner whose weeks fire every enabled rule.

The whole product runs for real (simulator over HTTP, worker jobs, SMTP into the sink); the
runner's back-pain answers are stored as the check-in page stores them.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from rules import load_config
from strideguard.demo import Demo


def _text(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return " ".join(str(body.get_content()).split())


def test_all_rules_scenario_fires_every_enabled_rule_and_delivers_the_digests(
    tmp_path: Path,
) -> None:
    with Demo(tmp_path / "work", tmp_path / "outbox", scenario="all-rules") as demo:
        demo.connect()
        results = demo.evaluate(demo.weeks)
    enabled = {rule.id for rule in load_config().rules.values() if rule.enabled}
    fired = {rule for result in results for rule in result.rules}
    assert fired == enabled
    busiest = max(results, key=lambda r: len(r.rules))
    assert len(busiest.rules) >= 4
    assert {"back_pain_severe", "single_run_spike", "shoe_mileage"} <= set(busiest.rules)
    for result in results:
        assert (result.email is not None) == bool(result.rules), result
        if result.email is not None:
            text = _text(result.email)
            assert "HOW IS YOUR BACK THIS WEEK?" in text
            assert "urgent or emergency care the same day" in text
    last = _text(busiest.email)  # type: ignore[arg-type]
    # Strong pain: the warning signs open the email, before the greeting.
    assert last.index("WHEN TO GET MEDICAL HELP") < last.index("Hi ")
