"""Receive a multipart upload straight into a private folder, counting every byte.

Starlette's `request.form()` spools each file to the system's shared temporary folder and
has no limit on a request's total size, so the upload form reads the body itself: each
file part is written as it arrives into an owner-only folder of its own, under a safe name
(no path, no `..`, no odd characters), and the whole body stops at a limit.

    received = await receive_upload(request, folder, max_bytes=settings.upload_max_bytes)

raises `UploadTooLarge` (the caller answers 413) or `UploadRefused` (400) and leaves nothing
it wrote behind; the caller owns `folder` and deletes it.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header

from strideguard.private_files import FILE_MODE

FIELD_BYTES = 1024  # a form field (the CSRF token) is never longer
MAX_FILES = 2000  # more parts than a Strava export ZIP's worth of single files is abuse
NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class UploadRefused(ValueError):
    """The body is not an upload this form makes; the message says what to do."""


class UploadTooLarge(UploadRefused):
    """The body is over UPLOAD_MAX_BYTES."""


@dataclass
class Received:
    """The form's text fields and the files written, in the order they came."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def safe_name(filename: str, taken: set[str]) -> str:
    """The file's own name without any folder part, limited to harmless characters and
    made unique in its folder; its extension (what the reader goes by) is kept."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = NAME_CHARS.sub("_", base).lstrip(".")[-120:] or "upload"
    name, number = cleaned, 1
    while name in taken:
        number += 1
        name = f"{number}-{cleaned}"
    taken.add(name)
    return name


class _Receiver:
    """The parser's callbacks: one part at a time into a file or a short field."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.received = Received()
        self._taken: set[str] = set()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._file: IO[bytes] | None = None
        self._field_name: str | None = None
        self._field_value = bytearray()

    def part_begin(self) -> None:
        self._disposition = b""

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def header_end(self) -> None:
        if bytes(self._header_field).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            self._field_name, self._field_value = name, bytearray()
            return
        if not filename:  # the file input left empty: the browser still sends a part
            self._field_name = None
            return
        if len(self.received.files) >= MAX_FILES:
            raise UploadRefused(f"more than {MAX_FILES} files in one upload; send fewer")
        path = self.folder / safe_name(filename.decode("utf-8", "replace"), self._taken)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self._file = os.fdopen(descriptor, "wb")
        self.received.files.append(path)

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])
        elif self._field_name is not None:
            self._field_value += data[start:end]
            if len(self._field_value) > FIELD_BYTES:
                raise UploadRefused("a form field is too long; reload the page and retry")

    def part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self._field_name is not None:
            self.received.fields[self._field_name] = self._field_value.decode("utf-8", "replace")
            self._field_name = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def receive_upload(
    content_type: str | None,
    chunks: AsyncIterator[bytes],
    folder: Path,
    *,
    max_bytes: int,
) -> Received:
    """Stream a multipart/form-data body into `folder`; see the module docstring."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused("the upload must be sent by the form on this page")
    receiver = _Receiver(folder)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": receiver.part_begin,
            "on_header_field": receiver.header_field,
            "on_header_value": receiver.header_value,
            "on_header_end": receiver.header_end,
            "on_headers_finished": receiver.headers_finished,
            "on_part_data": receiver.part_data,
            "on_part_end": receiver.part_end,
        },
    )
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > max_bytes:
                raise UploadTooLarge(f"the upload is over {max_bytes} bytes")
            parser.write(chunk)
        parser.finalize()
    except UploadRefused:
        raise
    except Exception as problem:  # the parser's own errors: a malformed body
        raise UploadRefused("the upload arrived broken; try again") from problem
    finally:
        receiver.close()
    return receiver.received
