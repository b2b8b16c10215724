"""The one rule for an email address a person gives us, used by every form and the CLI.

A stored address ends up in a `To` header and as the SMTP envelope recipient. Python's header
parser decodes RFC 2047 encoded words, so `=?utf-8?q?a=40evil=2Ecom=2C?=x@example.com`, a valid
RFC 5322 local part, becomes two recipients; a NUL cannot be stored by PostgreSQL at all. So the
few characters that change what a header means are refused first, each with its own reason, and
the rest is left to `email-validator`, which keeps up with the RFCs so we do not have to.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254  # RFC 5321's limit on a forward path, which email-validator also enforces
EXAMPLE = "name@example.com"

# Checked before the validator, so the runner learns exactly what to remove.
_FORBIDDEN = (
    ("\x00", "it contains a NUL character, which no address may contain"),
    ("\r", "it contains a line break; enter the address on one line"),
    ("\n", "it contains a line break; enter the address on one line"),
    (",", "it contains a comma; enter one address only"),
    ("=?", 'it contains "=?", which mail programs decode into other text, even other addresses'),
)


class EmailAddressError(ValueError):
    """The address is refused; the message says why and is meant for the person who typed it."""


def check_email_address(entered: str) -> str:
    """The address to store (domain lower-cased, IDNA for non-ASCII domains), or the reason not.

    Non-ASCII before the @ is refused: it needs SMTPUTF8 from every server on the way, and a
    digest that cannot be delivered is worse than a form that asks for another address.
    """
    address = entered.strip()
    if not address:
        raise EmailAddressError("Please enter an email address.")
    reason = next((why for text, why in _FORBIDDEN if text in address), None)
    if reason is None and len(address) > MAX_LENGTH:
        reason = f"it is longer than {MAX_LENGTH} characters"
    if reason is None:
        try:
            checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError as problem:
            text = str(problem).rstrip(".")
            reason = text[:1].lower() + text[1:]
        else:
            return str(checked.ascii_email or checked.normalized)
    raise EmailAddressError(
        f"That doesn't look like an email address: {reason}. An address looks like {EXAMPLE}."
    )
