"""One activity file in, one `FileActivity` out: the format is told by the extension
(`.fit`, `.gpx`, `.tcx`, each optionally `.gz`), gzip by its magic bytes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Set
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from strideguard.integrations.files.fit import parse_fit
from strideguard.integrations.files.gpx import parse_gpx
from strideguard.integrations.files.reading import Reading, finish
from strideguard.integrations.files.record import (
    AlreadyImported,
    FileActivity,
    FileRejected,
    content_hash,
)
from strideguard.integrations.files.tcx import parse_tcx
from strideguard.integrations.files.unpack import Limits, gunzip_if_needed, read_file_bytes

PARSERS: dict[str, Callable[[bytes, str], Reading]] = {
    ".fit": parse_fit,
    ".gpx": parse_gpx,
    ".tcx": parse_tcx,
}


def activity_format(name: str) -> str | None:
    """ ".fit", ".gpx" or ".tcx" for a name such as "activities/123.fit.gz"; None otherwise."""
    suffixes = [s.lower() for s in PurePosixPath(name).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes and suffixes[-1] in PARSERS else None


def _parser(name: str) -> Callable[[bytes, str], Reading]:
    found = activity_format(name)
    if found is None:
        suffix = "".join(PurePosixPath(name).suffixes) or "none"
        raise FileRejected(
            name, f"unknown extension ({suffix}): expected .fit, .gpx or .tcx, optionally .gz"
        )
    return PARSERS[found]


def read_activity_bytes(
    raw: bytes,
    name: str,
    *,
    athlete_zone: ZoneInfo | None,
    limits: Limits | None = None,
    known: Set[str] = frozenset(),
) -> FileActivity:
    """One file's bytes as read (plain or gzip), e.g. from an upload or an export entry.
    `AlreadyImported` when its content hash is in `known`."""
    parser = _parser(name)
    return _parse(
        parser, gunzip_if_needed(raw, name, limits or Limits()), name, athlete_zone, known
    )


def read_activity_file(
    path: Path,
    *,
    athlete_zone: ZoneInfo | None,
    limits: Limits | None = None,
    known: Set[str] = frozenset(),
) -> FileActivity:
    """One file on disk; refused by name and size before a byte of it is read.
    `AlreadyImported` when its content hash is in `known`."""
    parser = _parser(path.name)
    content = read_file_bytes(path, limits or Limits())
    return _parse(parser, content, path.name, athlete_zone, known)


def _parse(
    parser: Callable[[bytes, str], Reading],
    content: bytes,
    name: str,
    athlete_zone: ZoneInfo | None,
    known: Set[str],
) -> FileActivity:
    digest = content_hash(content)
    if digest in known:
        raise AlreadyImported(name)
    return dataclasses.replace(finish(parser(content, name), athlete_zone), content_hash=digest)
