"""Deliver one message over SMTP and say what kind of failure it was.

The outbox needs three answers, not one: try again later (`TransientSendError`), this address
is dead so stop mailing the athlete (`PermanentBounce`), or this message can never go
(`PermanentSendError`). Nothing here logs the body or the SMTP credentials.

Each worker thread keeps its SMTP connection open from one digest to the next: connecting,
greeting, EHLO, login and QUIT cost more than sending a digest (bench/email_pipeline.py). A
kept connection is checked with NOOP before each use, so one the server closed meanwhile is
replaced before any message is sent on it; after `MESSAGES_PER_CONNECTION` messages, or any
error, it is closed and the next send opens a new one.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from strideguard.integrations.email.mime import (
    RecipientMismatch,
    envelope_recipient,
    envelope_sender,
)
from strideguard.worker.ports import DeliveryError

log = logging.getLogger(__name__)
DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}
# Some providers refuse more messages than this on one connection; staying under it means
# never meeting that refusal mid-burst.
MESSAGES_PER_CONNECTION = 100


class SendError(DeliveryError):
    """Base of the send outcomes; `.code` is the SMTP reply code when there was one."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(f"{code} {reason}" if code else reason)
        self.reason = reason
        self.code = code


class TransientSendError(SendError):
    """Worth retrying with backoff: the server was unreachable, slow, or answered 4xx."""


class PermanentSendError(SendError):
    """Retrying will not help (5xx other than a refused recipient, bad TLS, bad login)."""

    permanent = True


class PermanentBounce(SendError):
    """The server refused the recipient with 5xx: mark the athlete bounced, send no more."""

    permanent = True


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    @property
    def safe_name(self) -> str:
        """For logs: never the credentials."""
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_smtp_url(smtp_url: str) -> SmtpTarget:
    parts = urlsplit(smtp_url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise PermanentSendError(
            "SMTP_URL must look like smtp://user:pass@host:port "
            "(smtps:// or smtp+starttls:// for TLS)"
        )
    return SmtpTarget(
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def send_message(
    msg: EmailMessage, smtp_url: str, timeout: float = 30, *, recipient: str | None = None
) -> None:
    """Send `msg` to its one To address; raise one of the `SendError` kinds on failure.

    `recipient` is the address as stored: it becomes the envelope recipient, and a To header
    that parses to anything else is a `PermanentSendError` before any connection is made.
    """
    target = parse_smtp_url(smtp_url)
    try:
        recipient = envelope_recipient(msg, recipient)
    except RecipientMismatch as exc:
        raise PermanentSendError(str(exc)) from None
    try:
        with _kept_connection(smtp_url, target, timeout) as client:
            refused = client.send_message(msg, from_addr=envelope_sender(msg), to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        raise _classify(code, reply, recipient_refused=True) from None
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, auth, ...
        raise _classify(exc.smtp_code, exc.smtp_error, recipient_refused=False) from None
    except ssl.SSLError as exc:
        raise PermanentSendError(f"TLS with {target.safe_name} failed: {exc.reason}") from None
    except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, dropped, DNS
        raise TransientSendError(
            f"cannot reach {target.safe_name}: {type(exc).__name__}: {exc}"
        ) from None
    if refused:
        code, reply = next(iter(refused.values()))
        raise _classify(code, reply, recipient_refused=True)
    log.info("sent message_id=%s via %s", msg["Message-ID"], target.safe_name)


@dataclass
class _Kept:
    client: smtplib.SMTP
    sent: int = 0


_threads = threading.local()


@contextlib.contextmanager
def _kept_connection(smtp_url: str, target: SmtpTarget, timeout: float) -> Iterator[smtplib.SMTP]:
    """This thread's live connection to `smtp_url`, opened (and logged in) when needed."""
    kept: dict[str, _Kept] = _threads.__dict__.setdefault("connections", {})
    current = kept.pop(smtp_url, None)
    if current is not None and not _alive(current):
        current = None
    if current is None:
        current = _Kept(_open(target, timeout))
    try:
        yield current.client
    except BaseException:
        _close(current.client)  # its state after an error is unknown: never reuse it
        raise
    current.sent += 1
    if current.sent < MESSAGES_PER_CONNECTION:
        kept[smtp_url] = current
    else:
        _close(current.client, polite=True)


def _alive(kept: _Kept) -> bool:
    try:
        if kept.client.noop()[0] == 250:
            return True
    except (OSError, smtplib.SMTPException):
        pass
    _close(kept.client)
    return False


def _close(client: smtplib.SMTP, *, polite: bool = False) -> None:
    with contextlib.suppress(OSError, smtplib.SMTPException):
        if polite:
            client.quit()
    client.close()


def _open(target: SmtpTarget, timeout: float) -> smtplib.SMTP:
    """A new connection, with TLS as the URL asks and logged in when it carries credentials."""
    if target.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            target.host, target.port, timeout=timeout, context=_tls_context()
        )
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    try:
        if target.scheme == "smtp+starttls":
            client.starttls(context=_tls_context())
        if target.username:
            client.login(target.username, target.password or "")
    except BaseException:
        client.close()
        raise
    return client


def _tls_context() -> ssl.SSLContext:
    """The default TLS context, built once per CA setting rather than once per email.

    Loading the system's CA store takes longer than rendering and sending a digest (measured
    in bench/email_pipeline.py), and plain smtp:// needs no context at all.
    """
    return _default_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _default_context(_cafile: str | None, _capath: str | None) -> ssl.SSLContext:
    return ssl.create_default_context()


def _classify(code: int, reply: bytes | str, *, recipient_refused: bool) -> SendError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    reason = " ".join(text.split())[:200]
    if 400 <= code < 500:
        return TransientSendError(reason, code)
    if recipient_refused and 500 <= code < 600:
        return PermanentBounce(reason, code)
    if 500 <= code < 600:
        return PermanentSendError(reason, code)
    # A reply outside 4xx/5xx (e.g. a dropped connection reported as -1) may well pass later.
    return TransientSendError(reason or "unexpected SMTP reply", code or None)
