"""Bytes of one activity file, plain or gzip, read under size and ratio limits.

Every read goes through `read_capped`, which stops at the first byte past the limit, so a
200 MB file or a gzip/ZIP bomb is refused after reading at most the limit, never held whole.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from strideguard.integrations.files.record import FileRejected

MB = 2**20
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 256 * 1024
# Below this, a high ratio is just a small file's header overhead, not a bomb.
_RATIO_FLOOR = 1 * MB


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """What an import reads at most; the wiring may build one from its settings."""

    max_file_bytes: int = 64 * MB  # one activity file after decompression (a 10 h FIT is ~2 MB)
    max_ratio: int = 100  # decompressed/compressed bytes of one file or ZIP entry
    max_export_bytes: int = 4 * 2**30  # all entries read from one export ZIP, decompressed
    max_entries: int = 50_000  # entries listed in one export ZIP


def _size_text(count: int) -> str:
    return f"{count / MB:.0f} MB" if count >= MB else f"{count} bytes"


def read_capped(
    stream: Readable, name: str, limits: Limits, compressed_size: int | None = None
) -> bytes:
    """All of `stream`, refused past `limits.max_file_bytes` or the ratio to `compressed_size`."""
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if total > limits.max_file_bytes:
            raise FileRejected(
                name, f"larger than the {_size_text(limits.max_file_bytes)} limit for one file"
            )
        if compressed_size and total > _RATIO_FLOOR and total > limits.max_ratio * compressed_size:
            raise FileRejected(
                name,
                f"unpacks to more than {limits.max_ratio} times its packed size "
                f"({_size_text(compressed_size)}): refused as a likely decompression bomb",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip_if_needed(raw: bytes, name: str, limits: Limits) -> bytes:
    """`raw` itself, or its gzip content (recognised by the magic bytes, not the name)."""
    if len(raw) > limits.max_file_bytes:
        raise FileRejected(
            name,
            f"{_size_text(len(raw))} is larger than the "
            f"{_size_text(limits.max_file_bytes)} limit for one file",
        )
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unpacked:
            return read_capped(unpacked, name, limits, compressed_size=len(raw))
    except (OSError, EOFError, zlib.error) as exc:
        raise FileRejected(name, f"damaged gzip data ({exc or 'ends early'})") from None


def read_file_bytes(path: Path, limits: Limits, name: str | None = None) -> bytes:
    """A file from disk: refused before reading when it is already larger than the limit."""
    label = name or path.name
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise FileRejected(
                label,
                f"{_size_text(size)} is larger than the "
                f"{_size_text(limits.max_file_bytes)} limit for one file",
            )
        with path.open("rb") as stream:
            raw = read_capped(stream, label, limits)
    except OSError as exc:
        raise FileRejected(label, f"cannot read: {exc.strerror or exc}") from None
    return gunzip_if_needed(raw, label, limits)
