"""Starting the bench's child processes, and stopping every one of them whatever happens.

Each child gets its own session (process group), so stopping it also stops whatever it
spawned (the router's Hypercorn workers, nginx's workers), and a Ctrl-C in the terminal
reaches only this script, which then stops the children in order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


class Supervisor:
    """Owns child processes; ``close`` (or leaving the ``with`` block) stops those still up."""

    def __init__(self) -> None:
        self._children: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def spawn(
        self,
        command: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``command`` with stdout and stderr appended to ``log``."""
        with log.open("ab") as out:
            child = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        self._children.append(child)
        return child

    def stop(self, child: subprocess.Popen[bytes], grace: float = 10.0) -> int | None:
        """SIGTERM ``child``, wait up to ``grace`` s, then SIGKILL its group; its exit code."""
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=grace)
        _kill_group(child.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
        if child in self._children:
            self._children.remove(child)
        return child.returncode

    def close(self) -> None:
        for child in reversed(list(self._children)):
            self.stop(child, grace=5.0)


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of a child's process group (its workers), if anything."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
