"""The runner's own activity files as a source: FIT, GPX, TCX and Strava's bulk export.

A self-contained reader; it imports nothing of the service, so the source port can wire it in
(import command, upload form, watched folder) without this package changing. Only the figures
the rules read leave it (`FileActivity`); GPS points never do.

Parsers, and why each:
- FIT: fitdecode, maintained, pure Python, streams frames and checks the CRC, so a damaged
  file fails loudly; it reads ~25,000 messages a second here, enough for a 400-file export.
- GPX: gpxpy, the maintained GPX parser, tolerant of every app's extensions and GPX 1.0/1.1.
- TCX: the standard library's ElementTree (iterparse): TCX is a small fixed schema, and
  tcxreader would add a dependency only to compute figures `track` computes anyway.
- Time zones: tzfpy, an offline lookup in one 5 MB wheel with no further dependencies
  (timezonefinder 9 brings 32 MB of data, h3, flatbuffers and cffi); microseconds a lookup.
"""

from strideguard.integrations.files.dedupe import Deduplicated, Duplicate, data_rank, deduplicate
from strideguard.integrations.files.export import ImportReport, read_export
from strideguard.integrations.files.paths import read_paths
from strideguard.integrations.files.reader import (
    activity_format,
    read_activity_bytes,
    read_activity_file,
)
from strideguard.integrations.files.record import Detail, FileActivity, FileRejected, Problem
from strideguard.integrations.files.unpack import Limits
from strideguard.same_run import Timed, same_activity

__all__ = [
    "Deduplicated",
    "Detail",
    "Duplicate",
    "FileActivity",
    "FileRejected",
    "ImportReport",
    "Limits",
    "Problem",
    "Timed",
    "activity_format",
    "data_rank",
    "deduplicate",
    "read_activity_bytes",
    "read_activity_file",
    "read_export",
    "read_paths",
    "same_activity",
]
