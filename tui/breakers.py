"""Circuit-breaker states of the routers on this machine, read from their shared-state file.

Breakers live per (channel, model) in the memory-mapped file the router keeps next to its
database (``burncloud.gateway.fleet.state_file``); the dashboard shows each channel's worst one.
Without the file (no router on this machine, or another machine's database) a breaker is
unknown and shows as "".
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from burncloud.gateway.fleet.health import HealthBook
    from burncloud.gateway.fleet.shared_state import MmapState

_SEVERITY = {"closed": 0, "half_open": 1, "open": 2}


class BreakerReader:
    """Opens the state file when it appears (a router may start after the dashboard)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._state: MmapState | None = None
        self._book: HealthBook | None = None

    def known(self) -> bool:
        """Whether a router's state file is there to read."""
        return self._attach() is not None

    def worst(self, channel_id: int, models: Iterable[str], key_ids: Iterable[int]) -> str:
        """The most severe breaker of the channel over ``models`` (for each model, its most
        available key's: a channel is up while any key is); "" when unknown."""
        book = self._attach()
        if book is None:
            return ""
        from burncloud.gateway.fleet.health import best_state

        keys = list(key_ids)
        states = [str(best_state(book, channel_id, model, keys).state) for model in models]
        return max(states, key=_SEVERITY.__getitem__, default="")

    def close(self) -> None:
        """Detach from the file (idempotent); the routers keep it."""
        if self._state is not None:
            self._state.close()
        self._state = None
        self._book = None

    def _attach(self) -> HealthBook | None:
        if self._book is not None:
            return self._book
        from burncloud.errors import ConfigError
        from burncloud.gateway.fleet.health import HealthBook
        from burncloud.gateway.fleet.shared_state import MmapState

        if not self._path.exists():
            return None
        try:
            self._state = MmapState.open(self._path)
        except (OSError, ConfigError):
            return None  # being created or not ours: unknown this time, tried again next
        self._book = HealthBook(self._state)
        return self._book
