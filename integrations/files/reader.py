"""One activity file in, one `FileActivity` out: the format is told by the extension
(`.fit`, `.gpx`, `.tcx`, each optionally `.gz`), gzip by its magic bytes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from strideguard.integrations.files.fit import parse_fit
from strideguard.integrations.files.gpx import parse_gpx
from strideguard.integrations.files.reading import Reading, finish
from strideguard.integrations.files.record import FileActivity, FileRejected
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
    raw: bytes, name: str, *, athlete_zone: ZoneInfo | None, limits: Limits | None = None
) -> FileActivity:
    """One file's bytes as read (plain or gzip), e.g. from an upload or an export entry."""
    parser = _parser(name)
    return finish(parser(gunzip_if_needed(raw, name, limits or Limits()), name), athlete_zone)


def read_activity_file(
    path: Path, *, athlete_zone: ZoneInfo | None, limits: Limits | None = None
) -> FileActivity:
    """One file on disk; refused by name and size before a byte of it is read."""
    parser = _parser(path.name)
    content = read_file_bytes(path, limits or Limits())
    return finish(parser(content, path.name), athlete_zone)
