"""Wrap a rendered digest as a standards-abiding message.

The Message-ID comes from the outbox row, so a retried send is recognisably the same email;
the List-Unsubscribe headers follow RFC 2369 and RFC 8058 so mail clients can offer their own
one-click unsubscribe button.
"""

from __future__ import annotations

import email.policy
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from strideguard.integrations.email.digest_links import DigestLinks
from strideguard.integrations.email.render import RenderedEmail

_MESSAGE_ID = re.compile(r"^<?([^<>@\s]+@[^<>@\s]+)>?$")

# Headers longer than 78 characters with no space to fold at (List-Unsubscribe's signed URLs)
# would otherwise be written as RFC 2047 encoded words, which mail clients do not decode in
# List-Unsubscribe; RFC 5322 allows lines up to 998 characters.
HEADER_POLICY = email.policy.default.clone(max_line_length=998)


def build_message(
    rendered: RenderedEmail,
    to: str,
    from_: str,
    message_id: str,
    links: DigestLinks,
) -> EmailMessage:
    """multipart/alternative (text first, HTML preferred) with our headers set."""
    match = _MESSAGE_ID.match(message_id.strip())
    if not match:
        raise ValueError(f"message_id must look like <id@domain>, not {message_id!r}")
    if "@" not in parseaddr(to)[1]:
        raise ValueError("the recipient address is missing or has no @")
    msg = EmailMessage(policy=HEADER_POLICY)
    msg["Subject"] = rendered.subject
    msg["From"] = from_
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = f"<{match.group(1)}>"
    unsubscribe = [f"<{links.unsubscribe}>"]
    if links.unsubscribe_mailto:
        unsubscribe.append(f"<{links.unsubscribe_mailto}>")
    msg["List-Unsubscribe"] = ", ".join(unsubscribe)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Tells autoresponders (vacation replies) not to answer a machine.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    # base64 is encoded in C; quoted-printable runs in pure Python over the whole inlined HTML
    # and cost more than rendering it. Every mail client decodes either.
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="base64")
    return msg


def envelope_sender(msg: EmailMessage) -> str:
    """The bare address of From, for the SMTP envelope."""
    return Address(addr_spec=parseaddr(str(msg["From"]))[1]).addr_spec


class RecipientMismatch(ValueError):
    """The `To` header would reach someone other than the one address we mean to mail."""


def envelope_recipient(msg: EmailMessage, stored: str | None = None) -> str:
    """The one address the message goes to, as the SMTP envelope recipient.

    The `To` header is parsed the way a mail client parses it (RFC 2047 encoded words
    decoded), and must name exactly one address, equal to `stored` (the athlete's address as
    the database holds it) when that is given. An address that decodes into other addresses
    is refused here rather than delivered to them.
    """
    named = [str(address.addr_spec) for address in getattr(msg["To"], "addresses", ())]
    if stored is None and len(named) == 1:
        return named[0]
    if stored is not None and named == [stored]:
        return stored
    expected = f"only {stored!r}" if stored is not None else "exactly one address"
    raise RecipientMismatch(
        f"the To header names {', '.join(named) or 'no address'!r}, not {expected}; nothing "
        "was sent. The runner must enter their address again in their preferences."
    )
