"""Signed link tokens: bound to athlete and purpose, expiring, tamper-evident."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from strideguard.integrations.email.digest_links import make_digest_links
from strideguard.links import LinkTokenError, make_link_token, read_link_token
from strideguard.settings import Settings

SETTINGS = Settings(SECRET_KEY="test-signing-key-" + "x" * 32)


def test_round_trip_binds_athlete_and_rule() -> None:
    token = make_link_token(7, "mute", SETTINGS, {"rule_id": "no_rest_day"})
    assert read_link_token(token, "mute", SETTINGS) == {"athlete_id": 7, "rule_id": "no_rest_day"}


def test_extra_cannot_override_the_athlete() -> None:
    token = make_link_token(7, "preferences", SETTINGS, {"athlete_id": 8})
    assert read_link_token(token, "preferences", SETTINGS)["athlete_id"] == 7


def test_tampered_token_is_refused() -> None:
    token = make_link_token(7, "unsubscribe", SETTINGS)
    head, _, signature = token.rpartition(".")
    # Flip a middle character: the last base64 character carries padding bits that a
    # decoder may ignore, so changing it does not always change the signature.
    middle = len(signature) // 2
    flipped = (
        signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    )
    with pytest.raises(LinkTokenError) as caught:
        read_link_token(f"{head}.{flipped}", "unsubscribe", SETTINGS)
    assert caught.value.problem == "tampered"


def test_token_from_another_key_is_refused() -> None:
    other = Settings(SECRET_KEY="another-key-" + "y" * 32)
    with pytest.raises(LinkTokenError) as caught:
        read_link_token(make_link_token(7, "pause", other), "pause", SETTINGS)
    assert caught.value.problem == "tampered"


def test_wrong_purpose_is_named() -> None:
    mute = make_link_token(7, "mute", SETTINGS, {"rule_id": "acwr"})
    with pytest.raises(LinkTokenError) as caught:
        read_link_token(mute, "unsubscribe", SETTINGS)
    assert caught.value.problem == "wrong_purpose"
    assert "mute" in str(caught.value)


def test_expired_token_is_refused() -> None:
    token = make_link_token(7, "preferences", SETTINGS)
    with pytest.raises(LinkTokenError) as caught:  # a token of age 0 is past a max age of -1
        read_link_token(token, "preferences", SETTINGS, max_age_s=-1)
    assert caught.value.problem == "expired"


def test_digest_links_point_at_our_pages() -> None:
    settings = Settings(SECRET_KEY="k" * 40, PUBLIC_BASE_URL="https://sg.example.org/")
    links = make_digest_links(7, ["acwr", "no_rest_day", "acwr"], settings)
    assert sorted(links.mute) == ["acwr", "no_rest_day"]
    mute = urlsplit(links.mute["acwr"])
    assert (mute.scheme, mute.netloc, mute.path) == ("https", "sg.example.org", "/email/mute")
    payload = read_link_token(parse_qs(mute.query)["token"][0], "mute", settings)
    assert payload == {"athlete_id": 7, "rule_id": "acwr"}
    assert parse_qs(urlsplit(links.pause).query)["weeks"] == ["2"]
    assert links.unsubscribe.startswith("https://sg.example.org/email/unsubscribe?token=")
    assert links.unsubscribe_mailto is None
