"""Read a rules file from disk and check it completely: parse, type-check, then run it.

Everything that loads rules for real (`rules check`, start-up, the hot reload, the worker)
comes through `load_config`, so they all refuse the same files with the same messages.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from strideguard.rules.config import SHIPPED_RULES, ConfigError, RulesConfig, parse_config
from strideguard.rules.trial import trial_errors
from strideguard.rules.yaml_source import MAX_FILE_BYTES


def _read_regular_file(path: Path) -> str:
    """The file's text, refusing anything but a regular file before a byte is read.

    A FIFO would block the reader for ever and /dev/zero never ends; opening without
    blocking and checking the opened file (not the name, which could be swapped meanwhile)
    refuses both.
    """
    where = f"{path}:1:1"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ConfigError([f"{where}: cannot read the rules file: {exc.strerror}"]) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ConfigError(
            [f"{where}: {_kind(mode)} is not a rules file; give the path of a regular YAML file"]
        )
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([f"{where}: file is larger than {MAX_FILE_BYTES} bytes"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{where}: cannot read the rules file: {exc}"]) from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def load_config(path: Path | None = None) -> RulesConfig:
    """The config at `path` (default: the shipped rules/rules.yaml), parsed, type-checked and
    tried on a sample history; raises `ConfigError` with one `path:line:col:` line a problem."""
    target = Path(path) if path is not None else SHIPPED_RULES
    config = parse_config(_read_regular_file(target), str(target))
    errors = trial_errors(config)
    if errors:
        raise ConfigError(errors)
    return config
