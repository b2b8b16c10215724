"""An export's entries by name, from a ZIP (streamed, never unpacked) or an unpacked folder.

A ZIP entry is read straight from the archive through the size and ratio limits
(`unpack.read_capped`); nothing is written to disk, so no entry name can reach it. Names with
`..`, a drive or a leading `/` (a zip slip) are refused all the same, and so is an archive
with more entries than `Limits.max_entries`. In a folder, a link out of it is not followed.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Protocol

from strideguard.integrations.files.record import FileRejected, Problem
from strideguard.integrations.files.unpack import Limits, read_capped, read_file_bytes


class ExportTree(Protocol):
    """The export's entries by their names relative to the export root."""

    def names(self) -> list[str]: ...
    def size(self, name: str) -> int: ...
    def read(self, name: str) -> bytes: ...


def unsafe_entry(name: str) -> bool:
    """True for an entry name that would land outside the folder it is unpacked into."""
    path = PurePosixPath(name.replace("\\", "/"))
    first = path.parts[0] if path.parts else ""
    return path.is_absolute() or ".." in path.parts or ":" in first


class ZipTree:
    def __init__(self, archive: zipfile.ZipFile, label: str, limits: Limits) -> None:
        self.archive, self.label, self.limits = archive, label, limits
        self.entries: dict[str, zipfile.ZipInfo] = {}
        self.refused: list[Problem] = []
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise FileRejected(
                label, f"{len(infos)} entries, more than the {limits.max_entries} limit"
            )
        for info in infos:
            if info.is_dir():
                continue
            if unsafe_entry(info.filename):
                self.refused.append(
                    Problem(
                        f"{label}:{info.filename}",
                        "entry path leaves the export (zip slip): skipped",
                    )
                )
                continue
            self.entries[info.filename] = info

    def names(self) -> list[str]:
        return list(self.entries)

    def size(self, name: str) -> int:
        return self.entries[name].file_size

    def read(self, name: str) -> bytes:
        info = self.entries[name]
        label = f"{self.label}:{name}"
        try:
            with self.archive.open(info) as stream:
                return read_capped(stream, label, self.limits, compressed_size=info.compress_size)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise FileRejected(label, f"damaged ZIP entry ({exc})") from None


class FolderTree:
    def __init__(self, root: Path, limits: Limits) -> None:
        self.root, self.limits = root.resolve(), limits

    def names(self) -> list[str]:
        return [
            p.relative_to(self.root).as_posix() for p in sorted(self.root.rglob("*")) if p.is_file()
        ]

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root):
            raise FileRejected(name, "links outside the export folder: not read")
        return path

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def read(self, name: str) -> bytes:
        return read_file_bytes(self._path(name), self.limits, name=name)


@contextmanager
def open_tree(path: Path, limits: Limits) -> Iterator[tuple[ExportTree, list[Problem]]]:
    """The export at `path` and the entries refused on sight; `FileRejected` if unreadable."""
    if path.is_dir():
        yield FolderTree(path, limits), []
        return
    try:
        with zipfile.ZipFile(path) as archive:
            tree = ZipTree(archive, path.name, limits)
            yield tree, tree.refused
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRejected(path.name, f"not a readable ZIP file ({exc})") from None
