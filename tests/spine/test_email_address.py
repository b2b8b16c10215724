"""The one address rule every form uses: ordinary addresses pass (normalised as stored), and
each refusal names what to change."""

from __future__ import annotations

import pytest

from strideguard.email_address import EmailAddressError, check_email_address


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  ada@example.org \n", "ada@example.org"),
        ("o'brien+strideguard@example.co.uk", "o'brien+strideguard@example.co.uk"),
        ("Ada@Example.ORG", "Ada@example.org"),  # the domain is case-blind, the mailbox not
        ("ana@exämple.com", "ana@xn--exmple-cua.com"),  # sent as ASCII, like every MTA wants
    ],
)
def test_ordinary_addresses_are_accepted_as_stored(typed: str, stored: str) -> None:
    assert check_email_address(typed) == stored


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "Please enter an email address."),
        ("=?utf-8?q?attacker=40evil=2Ecom=2C?=x@example.com", 'it contains "=?"'),
        ("a\x00b@example.com", "NUL character"),
        ("a@example.com\nBcc: b@example.com", "line break"),
        ("a@example.com, b@example.com", "comma"),
        ("<script>alert(1)</script>@example.com", "doesn't look like an email address"),
        ("ana@localhost", "should have a period"),
        ("josé@example.com", "internationalized characters before the @-sign"),
        ("a" * 250 + "@example.com", "longer than 254 characters"),
    ],
)
def test_refusals_say_what_is_wrong(typed: str, reason: str) -> None:
    with pytest.raises(EmailAddressError) as refused:
        check_email_address(typed)
    assert reason in str(refused.value)
