"""Apprise as the pipeline's `Channel` (worker/ports.py), registered as "apprise".

One `deliver` is one URL and one short message, with its own timeout, so a service that
hangs holds up only the job row of that one channel. Apprise answers a send with True or
False and says why only in its log; the records of the call sort the failure:

- the service refused the request (HTTP 4xx other than 408 and 429: a revoked bot token, a
  deleted webhook, a chat that no longer exists): `ChannelRefused`, permanent, and the
  pipeline switches the channel off with the reason;
- anything else (5xx, 429, a timeout, no connection): `ChannelUnavailable`, retried.
"""

from __future__ import annotations

import datetime as dt
import re

from strideguard.integrations.apprise.quiet import apprise_records, scrub
from strideguard.integrations.apprise.urls import RefusedUrl, instantiate
from strideguard.models import Athlete
from strideguard.settings import Settings
from strideguard.worker.ports import Delivery, DeliveryError, ShortMessage

# Apprise's plugins end a failed request's warning with "error=403." (most of them) or
# "error code 403"; a 4xx that a later attempt may clear is not a refusal.
STATUS = re.compile(r"error(?:=| code:? )(\d{3})\b")
RETRYABLE_4XX = {408, 425, 429}


class ChannelRefused(DeliveryError):
    """The service refused the URL or its target for good; a retry will not help."""

    permanent = True


class ChannelUnavailable(DeliveryError):
    """The service did not take the message this time (down, slow, rate-limited)."""


class AppriseChannel:
    def __init__(self, settings: Settings) -> None:
        self.timeout_s = settings.channel_timeout_seconds

    def blocked_reason(self, athlete: Athlete, week_start: dt.date) -> str | None:
        """A pause covers every channel; unsubscribing from email does not stop a chat
        channel the runner added on purpose (removing it does)."""
        if athlete.paused_until is not None and week_start <= athlete.paused_until:
            return f"paused until {athlete.paused_until.isoformat()}"
        return None

    def deliver(self, delivery: Delivery) -> None:
        """`delivery.recipient` is the Apprise URL; `delivery.message` a `ShortMessage`."""
        message = delivery.message
        assert isinstance(message, ShortMessage)
        url = delivery.recipient
        try:
            service = instantiate(url)
        except RefusedUrl as exc:
            raise ChannelRefused(str(exc)) from None
        # Per target: a hanging service costs this row at most about twice this.
        service.socket_connect_timeout = self.timeout_s
        service.socket_read_timeout = self.timeout_s
        with apprise_records() as records:
            try:
                sent = bool(service.notify(body=message.body, title=message.title))
            except Exception as exc:  # a plugin bug must not look like a refusal
                raise ChannelUnavailable(scrub(f"{type(exc).__name__}: {exc}", url)) from None
        if sent:
            return
        said = [scrub(r.getMessage(), url) for r in records if r.levelno >= 30]
        reason = "; ".join(said) or f"{service.service_name} did not accept the message"
        codes = [int(code) for text in said for code in STATUS.findall(text)]
        if any(400 <= code < 500 and code not in RETRYABLE_4XX for code in codes):
            raise ChannelRefused(f"{service.service_name} refused the message: {reason}")
        raise ChannelUnavailable(reason)
