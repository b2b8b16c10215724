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

from worker.notifier.digest_links import DigestLinks
from worker.notifier.render import RenderedEmail

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
