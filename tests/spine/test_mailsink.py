"""The local SMTP sink files real SMTP deliveries as .eml and .html."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from strideguard.mailsink import OutboxSink


def _digest(message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Your week of 13 Oct"
    message["From"] = "strideguard <alerts@localhost>"
    message["To"] = "ada@example.org"
    message["Message-ID"] = message_id
    message.set_content("You ran 52.0 km this week.")
    message.add_alternative("<p>You ran <b>52.0 km</b> this week.</p>", subtype="html")
    return message


def test_delivery_is_filed_by_message_id(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    with OutboxSink(outbox) as sink:
        host, port = sink.smtp_url.removeprefix("smtp://").split(":")
        with smtplib.SMTP(host, int(port), timeout=5) as smtp:
            smtp.send_message(_digest("<digest-7-2025-10-13@sg.example.org>"))
        assert sink.received == 1
    eml = outbox / "digest-7-2025-10-13.eml"
    assert b"Subject: Your week of 13 Oct" in eml.read_bytes()
    html = (outbox / "digest-7-2025-10-13.html").read_text()
    assert "<b>52.0 km</b>" in html


def test_a_redelivery_overwrites_rather_than_duplicates(tmp_path: Path) -> None:
    with OutboxSink(tmp_path) as sink:
        host, port = sink.smtp_url.removeprefix("smtp://").split(":")
        for _ in range(2):
            with smtplib.SMTP(host, int(port), timeout=5) as smtp:
                smtp.send_message(_digest("<digest-1-2025-10-20@x>"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "digest-1-2025-10-20.eml",
        "digest-1-2025-10-20.html",
    ]


def test_a_message_is_counted_only_once_its_files_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests wait for `received` and then read the files: counted before the write, a
    loaded machine let them find the count but no file (a sign-in link not there yet)."""
    counted_while_writing: list[int] = []
    write_bytes = Path.write_bytes

    def watched(path: Path, data: bytes) -> int:
        counted_while_writing.append(sink.received)
        return write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", watched)
    with OutboxSink(tmp_path) as sink:
        host, port = sink.smtp_url.removeprefix("smtp://").split(":")
        with smtplib.SMTP(host, int(port), timeout=5) as smtp:
            smtp.send_message(_digest("<signin-1@x>"))
        assert sink.received == 1
        assert list(sink.files) == ["<signin-1@x>"]
    assert counted_while_writing == [0]
