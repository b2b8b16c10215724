"""Structured, secret-free logging.

Every line is `key=value` pairs so operators can grep by athlete or job. A filter scrubs
anything shaped like a bearer token, OAuth parameter or Fernet ciphertext before it is
written, because a single leaked refresh token is a full account takeover.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

_SECRET_PATTERNS = [
    # key=value and JSON forms of the OAuth fields
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|code|password|verify_token"
        r"|authorization|token|state|csrf)[\"']?\s*[:=]\s*[\"']?(?:Bearer\s+)?)[^\s\"'&,}]+"
    ),
    re.compile(r"(?i)(Bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # Fernet tokens start with gAAAAA
    re.compile(r"()gAAAAA[A-Za-z0-9_=-]{20,}"),
    # the Strava webhook callback's secret path segment (uvicorn's access log prints paths)
    re.compile(r"(/strava/webhook/)[^\s/?\"']+"),
]

CONTEXT_FIELDS = ("athlete_id", "job_id", "week_start", "rule", "outbox_id")


def redact(text: str) -> str:
    """Replace secret values in `text` with ***."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


class RedactingFormatter(logging.Formatter):
    """`time level logger msg key=value ...`, with secrets scrubbed from the whole line."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        )
        return redact(f"{line} {extras}" if extras else line)


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted.

    A handler that captured the stream at configure time keeps writing to it after the
    program (or a test runner) swapped stderr out and closed the old one.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        """The stream is always the current stderr."""


def configure_logging(level: str = "INFO") -> None:
    handler = _CurrentStderrHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
