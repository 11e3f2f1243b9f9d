"""The kinds of alert events and what one event holds.

An event is identified by its dedupe key: raising the same key twice, from one router or
two, makes one event (``outbox.raise_event``). A key names the crossing, not the moment
(``budget:window:7:20000000000:80``), so a watcher that sees a threshold crossed every
round, on every router, raises it once; a key that includes a subject's total re-arms when
money is added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BUDGET = "budget"
FORECAST = "forecast"
CHANNEL_DISABLED = "channel-disabled"
CHANNEL_ENABLED = "channel-enabled"
UPSTREAM_BALANCE = "upstream-balance"
CHANNEL_MODELS = "channel-models"
ERROR_RATE = "error-rate"
FLEET = "fleet"
TEST = "test"

# What each kind means, as `burncloud alert add --help` and the admin API say it.
EVENTS: dict[str, str] = {
    BUDGET: "a token's quota, a user's balance or a budget window crossed a threshold"
    " (50/80/95/100 percent by default)",
    FORECAST: "a quota, balance or budget window runs out within 24 h at the recent spend rate",
    CHANNEL_DISABLED: "a channel was auto-disabled (with the upstream's reason)",
    CHANNEL_ENABLED: "an auto-disabled channel answered a probe and is back in rotation",
    UPSTREAM_BALANCE: "a channel's upstream balance fell below its threshold"
    " (balance_alert_below, default BURNCLOUD_BALANCE_ALERT_BELOW); once per crossing",
    CHANNEL_MODELS: "a channel's upstream models appeared or vanished (its auto-sync saw it)",
    ERROR_RATE: "errors above BURNCLOUD_ALERT_ERROR_RATE percent of requests for 5 minutes",
    FLEET: "a router joined or left the fleet",
    TEST: "sent by `burncloud alert test ID` to that alert only",
}
SUBSCRIBABLE = tuple(kind for kind in EVENTS if kind != TEST)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing worth telling: ``text`` for people, ``data`` for programs."""

    kind: str
    key: str  # the dedupe key
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RaisedEvent:
    """An event as stored in the outbox, as receivers get it."""

    id: int
    kind: str
    text: str
    data: dict[str, Any]
    created_at: int

    def to_json(self) -> dict[str, Any]:
        """The object a ``json`` webhook receives."""
        return {
            "id": self.id,
            "event": self.kind,
            "created_at": self.created_at,
            "text": self.text,
            "data": self.data,
        }
