"""The short texts a push or chat channel carries, as a runner reads them on a phone: the
figures in their units, each risky run named, what to do, the next-run ceiling, the red flags,
"not medical advice" and a way to stop them, in every message."""

from __future__ import annotations

import datetime as dt

import pytest

from strideguard.worker.ports import ShortMessage
from strideguard.worker.short_messages import (
    NOT_MEDICAL_ADVICE,
    RED_FLAGS,
    RiskyRun,
    RunAlertFacts,
    digest_notice,
    render,
    run_alert,
)

STOP = "https://sg.example.org/email/channels?token=t"


def closes_safely(message: ShortMessage) -> None:
    lines = message.body.splitlines()
    assert RED_FLAGS in lines
    assert NOT_MEDICAL_ADVICE in lines
    assert f"Stop these messages: {STOP}" in lines
    assert "saddle area" in RED_FLAGS
    assert "not medical advice" in NOT_MEDICAL_ADVICE


def test_a_per_run_alert_names_the_run_its_jump_and_the_next_run_ceiling() -> None:
    message = run_alert(
        RunAlertFacts(
            runs=[RiskyRun(dt.date(2026, 12, 3), 14_200, 10_000, 1.42)],
            ceiling="up to 15.6 km",
            units="km",
        ),
        page_url="https://sg.example.org/me",
        stop_url=STOP,
    )
    assert message.title == "strideguard: a long run on Thursday 3 December"
    text = message.body
    assert (
        "Your run on Thursday 3 December, 14.2 km, was 42% longer than your longest in the "
        "30 days before it (10.0 km)." in text
    )
    assert "For the next few days keep your runs easy and shorter" in text
    assert "Next run: up to 15.6 km stays within the range linked to fewer injuries." in text
    assert "Your page: https://sg.example.org/me" in text
    closes_safely(message)


def test_a_watch_syncing_several_runs_gets_one_alert_naming_each_in_miles() -> None:
    message = run_alert(
        RunAlertFacts(
            runs=[
                RiskyRun(dt.date(2026, 11, 29), 16_093, 12_875, 1.25),
                RiskyRun(dt.date(2026, 12, 1), 20_117, 16_093, 1.25),
            ],
            ceiling="up to 11.0 mi",
            units="mi",
        ),
        page_url="https://sg.example.org/me",
        stop_url=STOP,
    )
    assert message.title == "strideguard: a long run"
    assert "Your run on Sunday 29 November, 10.0 mi, was 25% longer" in message.body
    assert "Your run on Tuesday 1 December, 12.5 mi, was 25% longer" in message.body
    assert "(8.0 mi)" in message.body
    closes_safely(message)


@pytest.mark.parametrize(
    ("by_email", "said"),
    [
        (True, "Hi Ana, your weekly check for the week of 30 November is in your email."),
        (False, "Hi Ana, your weekly check for the week of 30 November is ready on your page."),
    ],
)
def test_a_digest_notice_points_at_the_email_only_when_one_goes_out(
    by_email: bool, said: str
) -> None:
    message = digest_notice(
        firstname="Ana",
        week_start=dt.date(2026, 11, 30),
        digest_url="https://sg.example.org/me/digests/9",
        stop_url=STOP,
        by_email=by_email,
    )
    assert message.title == "strideguard: your weekly check (week of 30 November)"
    assert said in message.body
    assert "https://sg.example.org/me/digests/9" in message.body
    closes_safely(message)


def test_render_reads_a_stored_run_alert_and_refuses_an_unknown_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from strideguard.settings import get_settings

    monkeypatch.setenv("SECRET_KEY", "short-messages-key-" + "s" * 32)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://sg.example.org")
    get_settings.cache_clear()
    settings = get_settings()
    facts = {
        "runs": [
            {"run_date": "2026-12-03", "distance_m": 14200, "longest_30d_m": 10000, "ratio": 1.42}
        ],
        "ceiling": "up to 15.6 km",
        "units": "km",
        "week_start": "2026-11-30",
    }
    message = render("run", facts, 7, "Ana", settings)
    assert "42% longer" in message.body
    assert "https://sg.example.org/email/channels?token=" in message.body
    with pytest.raises(ValueError, match="no short message of kind 'weekly'"):
        render("weekly", facts, 7, "Ana", settings)
    get_settings.cache_clear()
