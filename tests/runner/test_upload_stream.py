"""The upload body is written only inside its own folder, under safe names, and stops at the
limit even when the client declares no length (a chunked body)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from strideguard.web.runner.upload_stream import (
    Received,
    UploadRefused,
    UploadTooLarge,
    receive_upload,
    safe_name,
)

BOUNDARY = "strideguard-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
T = TypeVar("T")


def _body(fields: dict[str, str], files: list[tuple[str, bytes]]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts += [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
        for name, content in files
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def _chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """On a thread of its own: a browser test earlier in the run may leave an event loop
    running in this one, where `asyncio.run` refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _receive(body: bytes, folder: Path, max_bytes: int = 10**6) -> Received:
    return _run(receive_upload(CONTENT_TYPE, _chunks(body), folder, max_bytes=max_bytes))


def test_files_land_in_the_folder_under_safe_unique_names(tmp_path: Path) -> None:
    folder = tmp_path / "one-upload"
    folder.mkdir()
    body = _body(
        {"csrf": "token"},
        [("../../etc/run.fit", b"a"), ("C:\\Users\\ana\\run.fit", b"b"), (".hidden.gpx", b"c")],
    )
    received = _receive(body, folder)
    assert received.fields == {"csrf": "token"}
    assert [p.name for p in received.files] == ["run.fit", "2-run.fit", "hidden.gpx"]
    assert all(p.parent == folder for p in received.files)
    assert [p.read_bytes() for p in received.files] == [b"a", b"b", b"c"]
    assert sorted(tmp_path.iterdir()) == [folder]  # nothing written outside it
    assert (folder / "run.fit").stat().st_mode & 0o077 == 0  # owner-only


def test_a_chunked_body_over_the_limit_stops_there(tmp_path: Path) -> None:
    body = _body({"csrf": "token"}, [("big.fit", b"x" * 50_000)])
    with pytest.raises(UploadTooLarge):
        _receive(body, tmp_path, max_bytes=20_000)


def test_something_other_than_the_form_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UploadRefused, match="form on this page"):
        _run(receive_upload("application/json", _chunks(b"{}"), tmp_path, max_bytes=100))
    with pytest.raises(UploadRefused, match="too long"):
        _receive(_body({"csrf": "x" * 5000}, []), tmp_path)


def test_safe_name_keeps_the_extension_the_reader_needs() -> None:
    taken: set[str] = set()
    assert safe_name("Morning Run (1).fit.gz", taken) == "Morning_Run_1_.fit.gz"
    assert safe_name("..", taken) == "upload"
