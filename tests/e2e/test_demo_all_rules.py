"""`strideguard demo --scenario all-rules`: one runner whose weeks fire every enabled rule.

The whole product runs for real (simulator over HTTP, worker jobs, SMTP into the sink); the
runner's back-pain answers are stored as the check-in page stores them.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize

from strideguard.demo import Demo
from strideguard.rules import load_config
from tests.contrast import AA_TEXT, contrast, visible_texts_js

PHONE: ViewportSize = {"width": 390, "height": 844}
# Each visible text's colour and the first opaque background behind it, as computed.
COLOURS_JS = visible_texts_js("h1, p, label, legend, button, a")


def _raw_text(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _text(path: Path) -> str:
    return " ".join(_raw_text(path).split())


def _check_phone_layout_and_contrast(page: Page) -> None:
    """Fits a 390 px screen without sideways scrolling; every text meets WCAG AA (4.5:1)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    texts = page.evaluate(COLOURS_JS)
    assert any(text.startswith("Save") for text, _, _ in texts)  # the button is measured too
    for text, colour, background in texts:
        ratio = contrast(colour, background)
        assert ratio >= AA_TEXT, f"{text!r}: {colour} on {background} is {ratio:.2f}:1"


def test_all_rules_scenario_fires_every_enabled_rule_and_delivers_the_digests(
    tmp_path: Path, browser: Browser
) -> None:
    with Demo(tmp_path / "work", tmp_path / "outbox", scenario="all-rules") as demo:
        demo.connect()
        results = demo.evaluate(demo.weeks)
        # The runner answers from the last email, on a phone.
        last_email = max(results, key=lambda r: len(r.rules)).email
        assert last_email is not None
        link = re.search(r"(http\S+/email/back-pain\?\S+score=3)\s", _raw_text(last_email))
        assert link is not None
        page = browser.new_page(viewport=PHONE)
        page.goto(link.group(1))
        assert page.is_checked("input[name=score][value='3']")
        _check_phone_layout_and_contrast(page)
        page.fill("textarea[name=note]", "Stiff in the morning")
        page.click("text=Save my answer")
        page.wait_for_url(re.compile(r"/email/back-pain/thanks"))
        assert "We saved 3 out of 10" in page.inner_text("main")
        assert page.input_value("textarea[name=note]") == "Stiff in the morning"
        _check_phone_layout_and_contrast(page)
        page.close()
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
