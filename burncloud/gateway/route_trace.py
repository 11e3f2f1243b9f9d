"""The routing decision of one request, stored with its log row for ``route explain``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class RouteTrace:
    """The candidates in the order chosen, the ones skipped and why, each attempt, and
    notes on what a conversion left out (a built-in tool the channel has no equivalent of)."""

    candidates: list[dict[str, int]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The session's pin when the request named a session (``relay.affinity``): its hash,
    # the channel and key it was pinned to, whether that went first, what became of it.
    affinity: dict[str, Any] | None = None

    def note(self, text: str) -> None:
        """Add ``text`` once (every attempt of a failover may say the same)."""
        if text not in self.notes:
            self.notes.append(text)

    def to_json(self) -> str:
        trace: dict[str, Any] = {
            "candidates": self.candidates,
            "skipped": self.skipped,
            "attempts": self.attempts,
        }
        if self.notes:
            trace["notes"] = self.notes
        if self.affinity is not None:
            trace["affinity"] = self.affinity
        return orjson.dumps(trace).decode()
