"""A local SMTP server that files every message under a folder, as `.eml` and `.html`.

The embedded default and the demo have no mail relay, yet digests should still travel a real
SMTP hop (so what is tested is what production does) and land somewhere a person can open.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from strideguard.private_files import private_dir
from strideguard.web.live import free_port


def _file_stem(message: EmailMessage, fallback: int) -> str:
    """A readable, filesystem-safe name from the Message-ID, stable across re-deliveries."""
    message_id = str(message.get("Message-ID", "")).strip("<>").split("@")[0]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", message_id).strip("-.")
    return stem or f"message-{fallback}"


class _FileHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Messages filed: counted once the .eml is written, so a reader that waits for a
        # count finds the file (under load the write may take a while).
        self.count = 0
        self._seq = 0
        self.lock = threading.Lock()
        # Message-ID (with its angle brackets) -> the .eml file it was filed as.
        self.files: dict[str, Path] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            return "554 Message content missing"
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if not isinstance(message, EmailMessage):
            return "554 Message could not be parsed"
        with self.lock:
            self._seq += 1
            stem = _file_stem(message, self._seq)
        eml = self.directory / f"{stem}.eml"
        eml.write_bytes(raw)
        html = message.get_body(preferencelist=("html",))
        if html is not None:
            (self.directory / f"{stem}.html").write_text(html.get_content(), encoding="utf-8")
        with self.lock:
            self.files[str(message.get("Message-ID", "")).strip()] = eml
            self.count += 1
        return "250 Message accepted for delivery"


class OutboxSink:
    """Context manager: an SMTP server on loopback writing into `directory`."""

    def __init__(self, directory: Path, port: int = 0) -> None:
        self.directory = directory
        private_dir(self.directory)  # the messages hold working email-link tokens
        self._handler = _FileHandler(directory)
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=port)

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self._controller.port}"

    @property
    def received(self) -> int:
        return self._handler.count

    @property
    def files(self) -> dict[str, Path]:
        """Message-ID -> .eml path of everything received so far."""
        with self._handler.lock:
            return dict(self._handler.files)

    def start(self) -> OutboxSink:
        if self._controller.port == 0:
            self._controller.port = free_port()
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> OutboxSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
