"""Folders and files only the service's own user may read: var/, the SQLite database, keys.

The embedded default keeps the token key, the signing key and everyone's training rows under
./var; made with the process umask (usually 022) they were readable by every local user.
Modes are given at creation, so there is no moment when a file exists with wider rights, and
what an operator created themselves is left as they made it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create `path` and any missing parents owner-only (`mkdir(parents=True)` would give the
    parents the umask's mode: var/ made on the way to var/outbox would be world-readable)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)


def create_private_file(path: Path, text: str = "") -> bool:
    """Create `path` owner-only, holding `text`; False, changing nothing, if it already exists.

    The text is written to a private temporary name first and then linked into place, so a
    second process creating the same file at once (two workers generating the same key)
    either wins or reads the complete file the first one made, never an empty one.
    """
    private_dir(path.parent)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.link(scratch, path)
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
    return True
