"""The audit trail: who changed which configuration object, when, field by field.

Every service that changes configuration calls ``record_change`` in the transaction that
makes the change, so a change is in the trail exactly when it committed, whichever way it
came (CLI, admin API, ``apply``, ``import``, the dashboard). Who made it is the actor the
entry point names with ``acting_as`` or ``set_actor`` (a contextvar): ``cli:<os
user>@<host>`` or ``dash:<os user>@<host>`` (``local_actor``), ``token:<id>`` for an admin
key (``token_actor``); a change made where no entry point named one records ``unknown``.

A secret never reaches the table: a field named like one (``key``, ``secret``,
``password``, ``code`` and names ending in ``_key``, ``_secret``, ``_enc`` or ``_hash``) is
recorded as "(set)", "(changed)" or "(hidden)", never its value; values are compared,
not stored. The table is append-only: nothing here updates or deletes a row, and
triggers refuse both on SQLite and PostgreSQL (``db.schema.AUDIT``).
"""

from __future__ import annotations

import contextlib
import getpass
import socket
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from burncloud.db.base import Executor, Row
from burncloud.errors import InvalidRequest
from burncloud.services.clock import now
from burncloud.services.stats import parse_window

UNKNOWN_ACTOR = "unknown"
SET, CHANGED, HIDDEN = "(set)", "(changed)", "(hidden)"  # what a secret field records
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
SINCE_FORMS = "a window back from now like 7d, a date like 2025-06-15 or unix seconds"

_SECRET_NAMES = frozenset({"key", "secret", "password", "code"})
_SEALED = ("_enc", "_hash")  # a column holding a secret encrypted or hashed
_SECRET_ENDINGS = ("_key", "_secret", "_password", *_SEALED)
_actor: ContextVar[str] = ContextVar("burncloud_audit_actor", default=UNKNOWN_ACTOR)


def current_actor() -> str:
    """Who the changes made now are recorded as (``unknown`` where nobody said)."""
    return _actor.get()


@contextlib.contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Record the changes made inside the block (tasks started there too) as ``actor``."""
    reset = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(reset)


def set_actor(actor: str) -> None:
    """Record the rest of the current task's changes as ``actor`` (an admin request: its
    task ends with the request)."""
    _actor.set(actor)


def local_actor(entry: str) -> str:
    """``<entry>:<os user>@<host>``: the operator at this machine's CLI or dashboard."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        user = "uid-unknown"
    return f"{entry}:{user}@{socket.gethostname()}"


def token_actor(token_id: int) -> str:
    """The actor of an admin API call: the admin key's token."""
    return f"token:{token_id}"


def is_secret_field(name: str) -> bool:
    """True when a field of this name holds a secret, which is never recorded."""
    lowered = name.lower()
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_ENDINGS)


async def record_change(
    tx: Executor,
    kind: str,
    object_id: int | str,
    name: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    """Record in ``tx`` that object ``kind`` ``object_id`` (called ``name``) was created
    (``before`` None), deleted (``after`` None) or updated, with each field whose value
    differs (values JSON-able, secrets masked by name). An update that changes no field
    records nothing. Call it in the transaction that makes the change."""
    if before is None and after is None:
        raise ValueError("record_change needs the object before or after the change")
    action = "create" if before is None else "delete" if after is None else "update"
    changes = _field_changes(before or {}, after or {})
    if action == "update" and not changes:
        return
    await tx.execute(
        "INSERT INTO audit_log (created_at, actor, object_kind, object_id, object_name,"
        " action, changes) VALUES (:t, :actor, :kind, :id, :name, :action, :changes)",
        {
            "t": now(),
            "actor": current_actor(),
            "kind": kind,
            "id": str(object_id),
            "name": name,
            "action": action,
            "changes": orjson.dumps(changes, default=str).decode(),
        },
    )


def _field_changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Field -> (old, new) for every field whose value differs (absent: None), in the
    order of ``after`` then ``before``; secret fields as SET, CHANGED or HIDDEN."""
    changes: dict[str, tuple[Any, Any]] = {}
    for field in [*after, *(name for name in before if name not in after)]:
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        changes[field] = _masked(old, new) if is_secret_field(field) else (old, new)
    return changes


def _masked(old: Any, new: Any) -> tuple[str | None, str | None]:
    hidden = None if old is None else HIDDEN
    if new is None:
        return hidden, None
    return hidden, SET if old is None else CHANGED


def row_fields(row: Row, omit: frozenset[str]) -> dict[str, Any]:
    """A database row's columns but ``omit`` (ids, counters, timestamps): the fields the
    trail compares, so new columns are audited without anyone listing them. A column that
    stores a secret sealed or hashed (``key_enc``, ``code_hash``) is named for the secret
    (``key``, ``code``): it is masked all the same."""
    return {_field_name(column): value for column, value in row.items() if column not in omit}


def _field_name(column: str) -> str:
    """``key_enc`` as ``key``; a sealed column whose bare name is not a secret's keeps its
    suffix, which masks it."""
    for suffix in _SEALED:
        bare = column.removesuffix(suffix)
        if bare != column and is_secret_field(bare):
            return bare
    return column


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded change."""

    id: int
    at: int
    actor: str
    kind: str
    object_id: str
    name: str
    action: str
    changes: dict[str, tuple[Any, Any]]

    @classmethod
    def from_row(cls, row: Row) -> AuditEntry:
        changes = orjson.loads(row["changes"])
        return cls(
            id=row["id"],
            at=row["created_at"],
            actor=row["actor"],
            kind=row["object_kind"],
            object_id=row["object_id"],
            name=row["object_name"],
            action=row["action"],
            changes={field: (old, new) for field, (old, new) in changes.items()},
        )

    @property
    def object(self) -> str:
        """``kind:id``, as ``--object`` names it."""
        return f"{self.kind}:{self.object_id}"

    def describe(self) -> str:
        """The changed fields on one line: ``name: a -> b; weight: 1 -> 3``."""
        return "; ".join(
            f"{field}: {_shown(old)} -> {_shown(new)}" for field, (old, new) in self.changes.items()
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "object": {"kind": self.kind, "id": self.object_id, "name": self.name},
            "action": self.action,
            "changes": {
                field: {"old": old, "new": new} for field, (old, new) in self.changes.items()
            },
        }


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value if value else '""'
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which changes to list: from ``since`` (unix seconds), of one kind of object or one
    object (``object_id``, with its kind)."""

    since: int | None = None
    kind: str | None = None
    object_id: str | None = None


async def list_changes(
    db: Executor, filters: AuditFilter, limit: int = DEFAULT_LIMIT
) -> list[AuditEntry]:
    """The recorded changes that match ``filters``, newest first, at most ``limit``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be from 1 to {MAX_LIMIT}")
    where = ["1 = 1"]
    params: dict[str, int | str] = {"limit": limit}
    for column, value in (
        ("created_at >=", filters.since),
        ("object_kind =", filters.kind),
        ("object_id =", filters.object_id),
    ):
        if value is not None:
            name = f"p{len(params)}"
            where.append(f"{column} :{name}")
            params[name] = value
    rows = await db.fetch_all(
        f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT :limit",
        params,
    )
    return [AuditEntry.from_row(row) for row in rows]


def parse_object(text: str) -> tuple[str, str | None]:
    """``channel:3`` as (kind, id), ``channel`` as (kind, None); InvalidRequest if empty."""
    kind, colon, object_id = text.strip().partition(":")
    if not kind or any(ch.isspace() for ch in kind) or (colon and not object_id.strip()):
        raise InvalidRequest(
            f"invalid object {text!r}: use a kind (channel) or kind:id (channel:3)"
        )
    return kind, object_id.strip() if colon else None


def parse_since(text: str, at: int) -> int:
    """A ``since`` as unix seconds: a window back from ``at`` (7d, 12h), unix seconds, a
    date (its 00:00 UTC) or an ISO time (UTC unless it says otherwise)."""
    text = text.strip()
    with contextlib.suppress(InvalidRequest):
        return at - parse_window(text)
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"invalid since {text!r}: use {SINCE_FORMS}") from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
