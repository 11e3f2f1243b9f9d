"""The routing decision of one request, stored with its log row for ``route explain``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class RouteTrace:
    """The candidates in the order chosen, the ones skipped and why, and each attempt."""

    candidates: list[dict[str, int]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return orjson.dumps(
            {"candidates": self.candidates, "skipped": self.skipped, "attempts": self.attempts}
        ).decode()
