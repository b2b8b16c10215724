"""Apprise's own log, kept to ourselves: it writes channel URLs, and URLs carry secrets.

Apprise logs a URL it cannot parse in full ("Unparseable Telegram URL tgram://...") and may
log a request's URL while sending, and urllib3 logs each request's path at DEBUG (a Discord
webhook's path is its token). Apprise's records never reach our log handlers, and urllib3's
are dropped while this thread talks to a channel; the caller gets Apprise's records of its
own call back, to turn them into a reason with the secrets taken out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

APPRISE_LOGGER = "apprise"
# Loggers of the HTTP stack under Apprise that write request paths.
HTTP_LOGGERS = ("urllib3.connectionpool", "requests")


class _Collector(logging.Handler):
    """Keeps the records one thread writes, so concurrent sends never mix their reasons."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)


class _ThisThreadSilenced(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


@contextmanager
def apprise_records() -> Iterator[list[logging.LogRecord]]:
    """The WARNING and ERROR records Apprise writes in this thread inside the block."""
    logger = logging.getLogger(APPRISE_LOGGER)
    # Once and for good: no record of Apprise's goes up to the root logger's handlers.
    logger.propagate = False
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    collector = _Collector()
    silenced = _ThisThreadSilenced()
    logger.addHandler(collector)
    for name in HTTP_LOGGERS:
        logging.getLogger(name).addFilter(silenced)
    try:
        yield collector.records
    finally:
        logger.removeHandler(collector)
        for name in HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(silenced)


def scrub(text: str, url: str) -> str:
    """`text` without the URL or any piece of it long enough to be a secret."""
    text = text.replace(url, "this URL")
    pieces = {url.partition("://")[2]}
    for separator in "/:@?&=#":
        pieces |= {p for piece in pieces for p in piece.split(separator)}
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 6:
            text = text.replace(piece, "…")
    return text
