"""The sign-in email: a plain message with the one-time link, sent over the real SMTP path."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlencode, urlsplit

from strideguard import runner_sessions
from strideguard.integrations.email.mime import HEADER_POLICY
from strideguard.integrations.email.smtp import SendError, send_message
from strideguard.settings import Settings

log = logging.getLogger(__name__)
OPEN_PATH = "/signin/open"
SMTP_TIMEOUT_S = 30


def signin_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}{OPEN_PATH}?{urlencode({'token': token})}"


def signin_message(settings: Settings, to: str, token: str) -> EmailMessage:
    minutes = int(runner_sessions.LINK_LIFETIME.total_seconds() // 60)
    msg = EmailMessage(policy=HEADER_POLICY)
    msg["Subject"] = "Your strideguard sign-in link"
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=urlsplit(settings.public_base_url).hostname)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        "Someone (we hope you) asked to sign in to strideguard with this address.\n\n"
        f"Open this link to see your page:\n{signin_url(settings, token)}\n\n"
        f"It works once, for {minutes} minutes, and only in the browser where you asked for "
        "it. If you did not ask, ignore this email: nothing happens without the link.\n"
    )
    return msg


def send_signin_link(settings: Settings, to: str, token: str) -> None:
    """Runs after the response (a background task), so the page takes as long for an unknown
    address as for a known one. A failure is logged without the link, which signs people in."""
    if not settings.smtp_url:
        log.warning("sign-in link not sent: SMTP_URL is not set")
        return
    try:
        send_message(signin_message(settings, to, token), settings.smtp_url, SMTP_TIMEOUT_S)
    except SendError as error:
        log.warning("sign-in link not sent: %s", type(error).__name__)
