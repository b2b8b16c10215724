"""Keep a running process on the last good rules file while an admin edits it.

A worker asks `current()` before each evaluation. A changed file is reloaded; if the new text
is broken, the error is logged (with its line and column) and the previous config stays in
force, so a half-saved edit never stops alerts or changes them unexpectedly.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from strideguard.rules.config import SHIPPED_RULES, ConfigError, RulesConfig
from strideguard.rules.rules_file import load_config

log = logging.getLogger(__name__)


class ConfigHolder:
    """The config at `path`, reloaded when the file changes; the last good one on errors."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else SHIPPED_RULES
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._config = self._loaded(load_config(self.path))  # the first load must succeed
        self.last_error: ConfigError | None = None

    def _loaded(self, config: RulesConfig) -> RulesConfig:
        for warning in config.warnings:
            log.warning("%s", warning)
        return config

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def current(self) -> RulesConfig:
        """The config in force, after picking up any valid edit made since the last call."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return self._config
        with self._lock:
            if stamp == self._stamp:
                return self._config
            self._stamp = stamp
            try:
                candidate = load_config(self.path)
            except ConfigError as exc:
                self.last_error = exc
                log.error(
                    "rules file %s is invalid; keeping version %s in force:\n%s",
                    self.path,
                    self._config.version[:12],
                    "\n".join(exc.errors),
                )
                return self._config
            if candidate.version != self._config.version:
                log.info("rules file %s reloaded, version %s", self.path, candidate.version[:12])
            self._config = self._loaded(candidate)
            self.last_error = None
            return self._config
