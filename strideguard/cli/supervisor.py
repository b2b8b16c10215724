"""Keep N worker processes running for `strideguard worker --processes N`.

dramatiq's own master does not replace a dead child, so this one does. What a child's exit
means decides what happens next:

- exit code 2: the configuration is wrong (a setting, the schema revision). Every child would
  fail the same way, so the supervisor stops them all and exits 2 itself.
- anything else (killed, crashed, or 75: PostgreSQL or Redis did not answer at its start-up):
  the child is replaced. One that failed soon after starting is replaced after a pause that
  doubles with each such failure (1 s up to 60 s), so a dependency that is away for minutes
  costs a few log lines, not a restart storm, and the tier comes back by itself once it
  returns. Each restart is logged with the child's reason (its last `error:` line).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO

from strideguard.cli.errors import EXIT_SETTINGS, EXIT_UNAVAILABLE

log = logging.getLogger(__name__)

# A child that ran this long was healthy: its death is replaced at once and resets the pause.
STABLE_S = 30.0
FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 60.0
POLL_S = 0.5


@dataclass
class _Slot:
    """One of the N places a worker process runs in, across its successive processes."""

    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float = 0.0
    failures: int = 0
    # The child's last `error: ...` line, copied from its stderr as it passes through.
    reason: str = ""
    _reader: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        # Our own interpreter and module, no shell, no user input in the command line.
        self.process = subprocess.Popen(self.command, stderr=subprocess.PIPE)  # noqa: S603
        self.started = time.monotonic()
        self.reason = ""
        assert self.process.stderr is not None
        self._reader = threading.Thread(
            target=self._pass_through, args=(self.process.stderr,), daemon=True
        )
        self._reader.start()

    def _pass_through(self, stream: IO[bytes]) -> None:
        """Copy the child's stderr to ours line by line, remembering its last error."""
        for line in stream:
            sys.stderr.buffer.write(line)
            sys.stderr.buffer.flush()
            if line.startswith(b"error: "):
                self.reason = line[len(b"error: ") :].decode(errors="replace").strip()

    def exited(self) -> int | None:
        """The exit code once the child is gone and its last words are read, else None."""
        if self.process is None or (code := self.process.poll()) is None:
            return None
        if self._reader is not None:
            self._reader.join(5)
        return code

    def schedule_restart(self, now: float) -> float:
        """Forget the dead process and pick when to start the next one; the pause in s."""
        if now - self.started >= STABLE_S:
            self.failures = 0
            pause = 0.0
        else:
            self.failures += 1
            pause = min(FIRST_PAUSE_S * 2 ** (self.failures - 1), MAX_PAUSE_S)
        self.process = None
        self.restart_at = now + pause
        return pause


def supervise(command: list[str], processes: int, stop: threading.Event) -> int:
    """Run `processes` copies of `command` until `stop`; the exit code for the supervisor."""
    slots = [_Slot(command) for _ in range(processes)]
    for slot in slots:
        slot.start()
    exit_code = 0
    while not stop.wait(POLL_S):
        now = time.monotonic()
        for slot in slots:
            if slot.process is None:
                if now >= slot.restart_at:
                    slot.start()
                continue
            pid = slot.process.pid
            code = slot.exited()
            if code is None:
                continue
            if code == EXIT_SETTINGS:
                log.error(
                    "worker process %d cannot start (%s); stopping every worker process",
                    pid,
                    slot.reason or "exit code 2",
                )
                exit_code = EXIT_SETTINGS
                stop.set()
                break
            pause = slot.schedule_restart(now)
            log.warning(
                "worker process %d %s; starting a new one in %.0f s",
                pid,
                _why(code, slot.reason),
                pause,
            )
    for slot in slots:
        if slot.process is not None and slot.process.poll() is None:
            slot.process.send_signal(signal.SIGTERM)
    for slot in slots:
        if slot.process is not None:
            slot.process.wait()
            slot.exited()
    return exit_code


def _why(code: int, reason: str) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    if code == EXIT_UNAVAILABLE:
        return f"could not reach a dependency ({reason or 'exit code 75'})"
    return f"exited with code {code}" + (f" ({reason})" if reason else "")
