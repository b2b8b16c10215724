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


class _Divert(logging.Filter):
    """On Apprise's logger: hands each record to the collector of the thread that wrote it,
    if any, and lets none through to any handler (ours, an operator's or a test runner's)."""

    def __init__(self) -> None:
        super().__init__()
        self.collectors: dict[int, list[logging.LogRecord]] = {}
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self.lock:
            collected = self.collectors.get(record.thread or 0)
        if collected is not None and record.levelno >= logging.WARNING:
            collected.append(record)
        return False


class _ThisThreadSilenced(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


_DIVERT = _Divert()


@contextmanager
def apprise_records() -> Iterator[list[logging.LogRecord]]:
    """The WARNING and ERROR records Apprise writes in this thread inside the block."""
    logger = logging.getLogger(APPRISE_LOGGER)
    if _DIVERT not in logger.filters:
        logger.addFilter(_DIVERT)  # for good: Apprise's records are never logged as such
        logger.propagate = False
    thread = threading.get_ident()
    records: list[logging.LogRecord] = []
    silenced = _ThisThreadSilenced()
    with _DIVERT.lock:
        _DIVERT.collectors[thread] = records
    for name in HTTP_LOGGERS:
        logging.getLogger(name).addFilter(silenced)
    try:
        yield records
    finally:
        with _DIVERT.lock:
            _DIVERT.collectors.pop(thread, None)
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
