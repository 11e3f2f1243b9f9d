"""User groups: each one multiplies the cost of its users' requests by a ratio.

A ratio is a non-negative finite decimal, stored as its normalised decimal string ("0.8",
"1.5", "2") so it stays exact. The ``default`` group always exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from burncloud.db.base import Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services.audit import record_change
from burncloud.services.clock import now
from burncloud.services.settings import bump_config_version
from burncloud.services.tokens import split_list

DEFAULT_GROUP = "default"


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    ratio: Decimal

    @classmethod
    def from_row(cls, row: Row) -> Group:
        return cls(name=row["name"], ratio=Decimal(row["ratio"]))

    def to_json(self) -> dict[str, Any]:
        """The group as JSON, the ratio as a decimal string."""
        return {"name": self.name, "ratio": format_ratio(self.ratio)}


MAX_RATIO = 1000


def parse_ratio(text: str | int | Decimal) -> Decimal:
    """A ratio from text; InvalidRequest unless it is a non-negative finite decimal."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidRequest(f"ratio is not a decimal number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise InvalidRequest(f"ratio must be a non-negative finite number: {text!r}")
    if value > MAX_RATIO:
        raise InvalidRequest(f"ratio must be at most {MAX_RATIO}: {text!r}")
    return Decimal(0) if value == 0 else value.normalize()


def format_ratio(ratio: Decimal) -> str:
    """A ratio as a plain decimal string: Decimal("1.50") -> "1.5", 1E+2 -> "100"."""
    return format(ratio.normalize(), "f") if ratio else "0"


async def list_groups(db: Executor) -> list[Group]:
    """Every group, sorted by name."""
    rows = await db.fetch_all("SELECT name, ratio FROM user_groups ORDER BY name")
    return [Group.from_row(row) for row in rows]


async def set_group(tx: Executor, name: str, ratio: str | int | Decimal) -> Group:
    """Create ``name`` or change its ratio; return the group."""
    name = check_group_name(name)
    value = parse_ratio(ratio)
    await bump_config_version(tx)  # first: serialises config writers on PostgreSQL
    old = await tx.fetch_value("SELECT ratio FROM user_groups WHERE name = :n", {"n": name})
    await tx.execute(
        "INSERT INTO user_groups (name, ratio, updated_at) VALUES (:n, :r, :t)"
        " ON CONFLICT (name) DO UPDATE SET ratio = excluded.ratio,"
        " updated_at = excluded.updated_at",
        {"n": name, "r": format_ratio(value), "t": now()},
    )
    before = None if old is None else {"ratio": old}
    await record_change(tx, "group", name, name, before, {"ratio": format_ratio(value)})
    return Group(name=name, ratio=value)


async def delete_group(tx: Executor, name: str) -> None:
    """Delete ``name``; refused for ``default`` and while users, channels or plans use it."""
    if name == DEFAULT_GROUP:
        raise InvalidRequest("the default group cannot be deleted")
    await bump_config_version(tx)  # first: serialises config writers on PostgreSQL
    ratio = await get_ratio(tx, name)
    users = await tx.fetch_value("SELECT COUNT(*) FROM users WHERE group_name = :n", {"n": name})
    if users:
        raise InvalidRequest(f"group {name!r} still has {users} user(s); move them first")
    channels = await _channels_serving(tx, name)
    if channels:
        ids = ", ".join(str(i) for i in channels)
        raise InvalidRequest(f"group {name!r} is still served by channel(s) {ids}")
    plans = await tx.fetch_all(
        "SELECT name FROM plans WHERE group_name = :n ORDER BY name", {"n": name}
    )
    if plans:
        named = ", ".join(row["name"] for row in plans)
        raise InvalidRequest(f"group {name!r} is still the group of plan(s) {named}")
    await tx.execute("DELETE FROM user_groups WHERE name = :n", {"n": name})
    await record_change(tx, "group", name, name, {"ratio": format_ratio(ratio)}, None)


async def get_ratio(db: Executor, name: str) -> Decimal:
    """The ratio of group ``name``; NotFound if there is no such group."""
    ratio = await db.fetch_value("SELECT ratio FROM user_groups WHERE name = :n", {"n": name})
    if ratio is None:
        raise NotFound(f"no group {name!r}")
    return Decimal(ratio)


async def load_group_ratios(db: Executor) -> dict[str, Decimal]:
    """Every group's ratio, keyed by name (for the router's cache)."""
    return {group.name: group.ratio for group in await list_groups(db)}


async def _channels_serving(db: Executor, name: str) -> list[int]:
    rows = await db.fetch_all("SELECT id, groups FROM channels ORDER BY id")
    return [row["id"] for row in rows if name in split_list(row["groups"])]


def check_group_name(name: str) -> str:
    """``name`` stripped; InvalidRequest if empty or holding spaces or commas."""
    cleaned = name.strip()
    if not cleaned or any(ch.isspace() or ch == "," for ch in cleaned):
        raise InvalidRequest(f"invalid group name {name!r}: no spaces or commas")
    return cleaned
