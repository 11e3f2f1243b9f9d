"""``burncloud route``: why a request went where it went, and where one would go now."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from burncloud.db.base import Executor
from burncloud.errors import NotFound
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.capabilities import NO_CAPABILITIES, Needs, load_capabilities
from burncloud.services.channel_keys import keys_of_channels
from burncloud.services.channels import Channel, list_channels
from burncloud.services.tokens import get_token
from burncloud.services.users import get_user


@dataclass(frozen=True, slots=True)
class Explanation:
    """One logged request's route: candidates, skips and attempts, with channel names."""

    request_id: str
    model: str
    status: int
    error: str
    candidates: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)  # what a conversion left out
    affinity: dict[str, Any] | None = None  # the session's pin, when it named a session

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "model": self.model,
            "status": self.status,
            "error": self.error,
            "candidates": self.candidates,
            "skipped": self.skipped,
            "attempts": self.attempts,
            "notes": self.notes,
            "affinity": self.affinity,
        }


async def explain(db: Executor, request_id: str) -> Explanation:
    """The routing decision logged for ``request_id`` (the latest, if it was reused)."""
    row = await db.fetch_one(
        "SELECT request_id, model, status, error, route FROM logs"
        " WHERE request_id = :id ORDER BY id DESC LIMIT 1",
        {"id": request_id},
    )
    if row is None:
        raise NotFound(f"no logged request with id {request_id!r}")
    route = orjson.loads(row["route"]) if row["route"] else {}
    names = {c.id: c.name for c in await list_channels(db)}

    def named(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**entry, "name": names.get(entry["id"], "(deleted)")} for entry in entries]

    return Explanation(
        request_id=row["request_id"],
        model=row["model"],
        status=row["status"],
        error=row["error"],
        candidates=named(route.get("candidates", [])),
        skipped=named(route.get("skipped", [])),
        attempts=named(route.get("attempts", [])),
        notes=[str(note) for note in route.get("notes", [])],
        affinity=route.get("affinity"),
    )


_PIN_RESULTS = {
    "kept": "it answered, and the session stays on it",
    "moved": "it failed or no longer serves: the session moved to the channel that answered",
    "released": "it failed or no longer serves, and nothing else answered: released",
    "unanswered": "nothing answered: the pin stays",
}


def affinity_line(pin: dict[str, Any]) -> str:
    """How session affinity took part in a logged request's route, in one line."""
    head = f"affinity: session {pin.get('session')}"
    if pin.get("channel") is None:
        if pin.get("result") == "new":
            return f"{head} had no pin: pinned to the channel and key that answered"
        return f"{head} had no pin, and nothing answered"
    first = ", picked first by affinity" if pin.get("hit") else ""
    result = _PIN_RESULTS.get(str(pin.get("result")), "")
    return f"{head} was pinned to channel {pin['channel']} key {pin['key']}{first}; {result}"


@dataclass(frozen=True, slots=True)
class Choice:
    """One channel able to serve the model, as routing sees it now."""

    channel: Channel
    priority: int
    weight: int
    usable: bool
    reason: str  # why it is not usable, or its breaker state
    share: float  # chance of being tried first
    served: str = "untouched"  # or "converted" (the Responses API on a chat channel)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.channel.id,
            "name": self.channel.name,
            "type": self.channel.type,
            "priority": self.priority,
            "weight": self.weight,
            "status": self.channel.status,
            "usable": self.usable,
            "reason": self.reason,
            "share": round(self.share, 4),
            "served": self.served,
        }


@dataclass(frozen=True, slots=True)
class DryRun:
    model: str
    group: str
    choices: list[Choice] = field(default_factory=list)
    breakers_known: bool = False  # False when no router on this machine shares its state

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "group": self.group,
            "breakers_known": self.breakers_known,
            "channels": [choice.to_json() for choice in self.choices],
        }


# callable (channel_id, model, enabled key ids) -> (usable: bool, description: str)
BreakerLookup = Any


async def dry_run(
    db: Executor,
    model: str,
    token_id: int | None,
    breakers: BreakerLookup | None,
    endpoint: str | None = None,
    needs: Needs | None = None,
) -> DryRun:
    """Which channels would serve ``model`` for the token's group (default: ``default``)
    now, at ``endpoint`` (a name of ``ENDPOINT_NAMES``) when given, and each one's chance
    of being tried first."""
    group = "default"
    if token_id is not None:
        token = await get_token(db, token_id)
        group = (await get_user(db, token.user_id)).group
    rows = await db.fetch_all(
        "SELECT channel_id, priority, weight FROM abilities"
        " WHERE group_name = :group AND model = :model",
        {"group": group, "model": model},
    )
    if not rows:
        raise NotFound(f"no channel serves model {model!r} for group {group!r}")
    channels = {c.id: c for c in await list_channels(db)}
    keys = {
        channel_id: [key.id for key in found if key.status == "enabled"]
        for channel_id, found in (await keys_of_channels(db)).items()
    }
    capabilities = await load_capabilities(db) if needs else {}
    how = {row["channel_id"]: _reaches(channels[row["channel_id"]], endpoint) for row in rows}
    if endpoint is not None:
        rows = [row for row in rows if how[row["channel_id"]] is not None]
        if not rows:
            raise NotFound(f"no channel serving model {model!r} serves the {endpoint} endpoint")
    drafts = []
    for row in rows:
        channel = channels[row["channel_id"]]
        usable, reason = channel.status == "enabled", _status_reason(channel)
        if usable and not keys.get(channel.id):
            usable, reason = False, "no enabled key"
        if usable and needs:
            shortfall = capabilities.get(channel.id, NO_CAPABILITIES).unmet(model, needs)
            if shortfall is not None:
                usable, reason = False, shortfall.reason
        if usable and breakers is not None:
            usable, reason = breakers(channel.id, model, keys[channel.id])
        drafts.append((channel, row["priority"], row["weight"], usable, reason))
    shares = _first_pick_shares([(c.id, p, w) for c, p, w, usable, _ in drafts if usable])
    choices = [
        Choice(c, p, w, usable, reason, shares.get(c.id, 0.0), how[c.id] or "untouched")
        for c, p, w, usable, reason in drafts
    ]
    choices.sort(key=lambda choice: (-choice.priority, -choice.share, choice.channel.id))
    return DryRun(model, group, choices, breakers is not None)


def _reaches(channel: Channel, endpoint: str | None) -> str | None:
    """How ``channel`` serves ``endpoint``: "untouched", "converted" or None (not at all);
    without an endpoint, "untouched"."""
    if endpoint is None:
        return "untouched"
    kind = CHANNEL_KINDS.get(channel.type)
    return kind.reaches(endpoint, channel.config) if kind is not None else None


def _status_reason(channel: Channel) -> str:
    if channel.status == "enabled":
        return "enabled"
    if channel.status == "disabled":
        return "disabled by an operator" + (
            f": {channel.status_reason}" if channel.status_reason else ""
        )
    return "auto-disabled" + (f": {channel.status_reason}" if channel.status_reason else "")


def _first_pick_shares(usable: list[tuple[int, int, int]]) -> dict[int, float]:
    """The best tier splits 1 by weight (equally when round robin); fallbacks get 0."""
    if not usable:
        return {}
    best = max(priority for _, priority, _ in usable)
    tier = [
        (channel_id, max(weight, 0)) for channel_id, priority, weight in usable if priority == best
    ]
    total = sum(weight for _, weight in tier)
    return {channel_id: (weight / total if total else 1 / len(tier)) for channel_id, weight in tier}
