"""The built message, parsed back the way a mail client would."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from strideguard.integrations.email.mime import build_message
from strideguard.integrations.email.render import render_digest
from tests.notifier.worked import BUILT_IN, digest, links


def _parsed() -> EmailMessage:
    context = digest([BUILT_IN["weekly_distance_spike"]])
    msg = build_message(
        render_digest(context),
        to="Ana <ana@example.org>",
        from_="strideguard <alerts@sg.example.org>",
        message_id="<digest-7-2025-10-13@sg.example.org>",
        links=context.links,
    )
    parsed = message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_multipart_alternative_with_text_then_html() -> None:
    parsed = _parsed()
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    text = parts[0].get_content()
    assert "You ran 52.0 km this week" in text
    assert "not medical advice" in text
    assert "<strong>52.0&nbsp;km</strong>" in parts[1].get_content()
    assert parts[0].get_content_charset() == "utf-8"


def test_headers() -> None:
    parsed = _parsed()
    assert parsed["Subject"] == "Your week of 13 Oct: distance up 37% on your 4-week average"
    assert parsed["Message-ID"] == "<digest-7-2025-10-13@sg.example.org>"
    assert parsed["To"] == "Ana <ana@example.org>"
    assert parsed["Date"]
    unsubscribe = links(["weekly_distance_spike"])
    # Long URLs make the header fold onto its own line; unfolded, it is exactly the two URIs.
    assert parsed["List-Unsubscribe"].strip() == (
        f"<{unsubscribe.unsubscribe}>, <{unsubscribe.unsubscribe_mailto}>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Auto-Submitted"] == "auto-generated"


def test_list_unsubscribe_is_plain_on_the_wire() -> None:
    """Mail clients read the raw header: encoded words would hide the URLs from them."""
    context = digest([BUILT_IN["no_rest_day"]])
    msg = build_message(
        render_digest(context), "a@example.org", "s@example.org", "<x-1@x.org>", context.links
    )
    raw = msg.as_bytes()
    line = next(header for header in raw.split(b"\n") if header.startswith(b"List-Unsubscribe:"))
    assert b"=?utf-8?" not in line
    assert f"<{context.links.unsubscribe}>".encode() in line


def test_message_id_gets_angle_brackets_and_bad_ones_are_refused() -> None:
    context = digest([BUILT_IN["no_rest_day"]])
    rendered = render_digest(context)
    msg = build_message(rendered, "a@example.org", "s@example.org", "x-1@x.org", context.links)
    assert msg["Message-ID"] == "<x-1@x.org>"
    with pytest.raises(ValueError, match="message_id"):
        build_message(rendered, "a@example.org", "s@example.org", "no-domain", context.links)
    with pytest.raises(ValueError, match="recipient"):
        build_message(rendered, "nobody", "s@example.org", "<x@y>", context.links)
