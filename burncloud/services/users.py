"""Users: who owns tokens, which group prices them, their balance and rate limits.

``balance`` is what a user has left to spend in nano-USD (``-1``: unlimited), including
what routers hold for them in leases: every reader here takes it from
``balances.read_holdings`` (the router's snapshot reads the rows directly and only tells
limited from unlimited by it); ``used`` is what they have spent; ``rpm``, ``tpm`` and
``max_concurrency`` limit all of a user's tokens together, as a token's own limits do
(NULL: no limit). Every write runs in one transaction that bumps the config version, so
running routers see a renamed, regrouped, re-limited or disabled user within about a second.
There is always at least one enabled admin: disabling, demoting or deleting the last one is
refused. The ``write_user_*`` forms and ``delete_user`` run in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from burncloud.crypto import generate_code
from burncloud.db.base import Database, Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import UNLIMITED, format_usd
from burncloud.services.audit import record_change, row_fields
from burncloud.services.balances import Holding, read_holdings
from burncloud.services.budgets import remove_budgets
from burncloud.services.clock import now
from burncloud.services.leases import USER
from burncloud.services.logs import MAX_BIGINT
from burncloud.services.settings import bump_config_version

ROLES = ("admin", "user")
USER_STATUSES = ("enabled", "disabled")
MAX_NAME_LENGTH = 64
LIMIT_COLUMNS = ("rpm", "tpm", "max_concurrency")
MAX_LIMIT = 2**31 - 1  # the columns are INTEGER (32-bit on PostgreSQL)
_UNAUDITED = frozenset(("id", "used", "created_at"))


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str
    status: str
    group: str
    balance: int
    used: int
    invite_code: str
    inviter_id: int | None
    rpm: int | None
    tpm: int | None
    max_concurrency: int | None
    created_at: int

    @classmethod
    def from_row(cls, row: Row) -> User:
        return cls(
            id=row["id"],
            name=row["name"],
            role=row["role"],
            status=row["status"],
            group=row["group_name"],
            balance=row["balance"],
            used=row["used"],
            invite_code=row["invite_code"],
            inviter_id=row["inviter_id"],
            rpm=row["rpm"],
            tpm=row["tpm"],
            max_concurrency=row["max_concurrency"],
            created_at=row["created_at"],
        )

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_json(self) -> dict[str, Any]:
        """The user as JSON: money as decimal strings, balance "-1" when unlimited."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "status": self.status,
            "group": self.group,
            "balance": format_usd(self.balance),
            "used": format_usd(self.used),
            "invite_code": self.invite_code,
            "inviter_id": self.inviter_id,
            "rpm": self.rpm,
            "tpm": self.tpm,
            "max_concurrency": self.max_concurrency,
            "created_at": self.created_at,
        }


async def get_user(db: Executor, user_id: int) -> User:
    """The user with ``user_id``; NotFound if there is none."""
    row = await db.fetch_one("SELECT * FROM users WHERE id = :id", {"id": user_id})
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    return await _with_balance(db, User.from_row(row))


async def resolve_user(db: Executor, ref: str) -> User:
    """The user named by ``ref``: a numeric id or a user name."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit() and int(ref) <= MAX_BIGINT:
        row = await db.fetch_one("SELECT * FROM users WHERE id = :id", {"id": int(ref)})
    else:
        row = await db.fetch_one("SELECT * FROM users WHERE name = :n", {"n": ref})
    if row is None:
        raise NotFound(f"no user {ref!r}")
    return await _with_balance(db, User.from_row(row))


async def list_users(db: Executor) -> list[User]:
    """Every user, oldest first."""
    rows = await db.fetch_all("SELECT * FROM users ORDER BY id")
    holdings = await read_holdings(db, USER)
    return [_spendable(User.from_row(row), holdings) for row in rows]


async def _with_balance(db: Executor, user: User) -> User:
    """``user`` with its balance and use as ``balances.read_holdings`` reads them."""
    return _spendable(user, await read_holdings(db, USER, user.id))


def _spendable(user: User, holdings: dict[int, Holding]) -> User:
    holding = holdings.get(user.id)
    if holding is None:  # created after the holdings were read: nothing leased yet
        return user
    return replace(user, balance=holding.spendable, used=holding.used)


async def add_user(
    db: Database,
    *,
    name: str,
    role: str = "user",
    group: str = "default",
    balance: int = 0,
    default_plan: str | None = None,
) -> User:
    """Create a user in its own transaction (see ``create_user`` for the rules), on the
    default plan if there is one (``plan default``'s, else ``default_plan``: the
    ``BURNCLOUD_DEFAULT_PLAN`` setting)."""
    from burncloud.services.plans import put_on_default_plan  # plans builds on users

    async with db.transaction() as tx:
        user = await create_user(tx, name=name, role=role, group=group, balance=balance)
        await put_on_default_plan(tx, user.id, default_plan)
        return user


async def create_user(
    tx: Executor,
    *,
    name: str,
    role: str = "user",
    group: str = "default",
    balance: int = 0,
    inviter_id: int | None = None,
    used: int = 0,
    invite_code: str | None = None,
) -> User:
    """Insert a user with ``invite_code`` or a fresh one (``used``: what a user moved from
    elsewhere has spent); refuse duplicates and unknown groups."""
    name = check_user_name(name)
    check_role(role)
    if balance < 0 and balance != UNLIMITED:
        raise InvalidRequest("balance must not be negative (use -1 for unlimited)")
    if used < 0:
        raise InvalidRequest("used must not be negative")
    await require_group(tx, group)
    await _require_free_name(tx, name)
    code = generate_code(12) if invite_code is None else await _free_invite_code(tx, invite_code)
    row = await tx.fetch_one(
        "INSERT INTO users (name, role, status, group_name, balance, used, invite_code,"
        " inviter_id, created_at) VALUES (:name, :role, 'enabled', :group, :balance, :used,"
        " :code, :inviter, :t) RETURNING *",
        {
            "name": name,
            "role": role,
            "group": group,
            "balance": balance,
            "used": used,
            "code": code,
            "inviter": inviter_id,
            "t": now(),
        },
    )
    assert row is not None
    await record_change(tx, "user", row["id"], name, None, await user_fields(tx, row["id"]))
    await bump_config_version(tx)
    return User.from_row(row)


async def update_user(
    db: Database,
    ref: str,
    *,
    name: str | None = None,
    role: str | None = None,
    group: str | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    max_concurrency: int | None = None,
) -> User:
    """Change only the given fields of user ``ref`` (-1 clears a limit).

    The last enabled admin stays an admin.
    """
    limits = _limit_changes(rpm, tpm, max_concurrency)
    if name is None and role is None and group is None and not limits:
        raise InvalidRequest("nothing to update: give a new name, role, group or limit")
    async with db.transaction() as tx:
        return await write_user_update(
            tx,
            ref,
            name=name,
            role=role,
            group=group,
            rpm=rpm,
            tpm=tpm,
            max_concurrency=max_concurrency,
        )


async def write_user_update(
    tx: Executor,
    ref: str,
    *,
    name: str | None = None,
    role: str | None = None,
    group: str | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    max_concurrency: int | None = None,
    invite_code: str | None = None,
    inviter_id: int | None = None,
) -> User:
    """``update_user`` in transaction ``tx``; also sets a new invite code or inviter (None
    leaves them). Nothing given writes nothing but returns the user."""
    await bump_config_version(tx)  # first: serialises config writers on PostgreSQL
    user = await resolve_user(tx, ref)
    changes: dict[str, Any] = _limit_changes(rpm, tpm, max_concurrency)
    if name is not None:
        changes["name"] = await _new_name(tx, user, name)
    if role is not None:
        check_role(role)
        if user.is_admin and role != "admin":
            await _require_other_admin(tx, user, "demoted")
        changes["role"] = role
    if group is not None:
        await require_group(tx, group)
        changes["group_name"] = group
    if invite_code is not None and invite_code.strip() != user.invite_code:
        changes["invite_code"] = await _free_invite_code(tx, invite_code)
    if inviter_id is not None:
        changes["inviter_id"] = inviter_id
    return await _write(tx, user.id, changes) if changes else user


def _limit_changes(rpm: int | None, tpm: int | None, max_concurrency: int | None) -> dict[str, Any]:
    values = (rpm, tpm, max_concurrency)
    return {
        column: parse_limit(value, column.replace("_", " "))
        for column, value in zip(LIMIT_COLUMNS, values, strict=True)
        if value is not None
    }


async def disable_user(db: Database, ref: str) -> User:
    """Disable user ``ref`` (its tokens stop working); refused for the last enabled admin."""
    async with db.transaction() as tx:
        return await write_user_status(tx, ref, "disabled")


async def enable_user(db: Database, ref: str) -> User:
    """Enable user ``ref``."""
    async with db.transaction() as tx:
        return await write_user_status(tx, ref, "enabled")


async def write_user_status(tx: Executor, ref: str, status: str) -> User:
    """Enable or disable user ``ref`` in transaction ``tx``; the last enabled admin stays."""
    if status not in USER_STATUSES:
        raise InvalidRequest(f"unknown user status {status!r}")
    await bump_config_version(tx)  # first: serialises config writers on PostgreSQL
    user = await resolve_user(tx, ref)
    if user.is_admin and status == "disabled":
        await _require_other_admin(tx, user, "disabled")
    return await _write(tx, user.id, {"status": status})


async def delete_user(tx: Executor, ref: str) -> None:
    """Delete user ``ref`` in transaction ``tx``; refused for the last enabled admin and
    while the user has tokens (delete them first: nothing goes without being named)."""
    await bump_config_version(tx)  # first: serialises config writers on PostgreSQL
    user = await resolve_user(tx, ref)
    if user.is_admin:
        await _require_other_admin(tx, user, "deleted")
    tokens = await tx.fetch_value(
        "SELECT COUNT(*) FROM tokens WHERE user_id = :id", {"id": user.id}
    )
    if tokens:
        raise InvalidRequest(f"user {user.name!r} still has {tokens} token(s); delete them first")
    before = await user_fields(tx, user.id)
    await remove_budgets(tx, USER, user.id)
    await tx.execute("DELETE FROM users WHERE id = :id", {"id": user.id})
    await record_change(tx, "user", user.id, user.name, before, None)


async def credit_balance(tx: Executor, user_id: int, units: int) -> int:
    """Add ``units`` to a user's balance and return it; an unlimited (-1) balance stays -1."""
    before = await user_fields(tx, user_id)
    if before is None:
        raise NotFound(f"no user with id {user_id}")
    balance = await tx.fetch_value(
        "UPDATE users SET balance = CASE WHEN balance = -1 THEN -1"
        " ELSE balance + :units END WHERE id = :id RETURNING balance",
        {"units": units, "id": user_id},
    )
    await record_change(tx, "user", user_id, before["name"], before, await user_fields(tx, user_id))
    return int(balance)


async def user_fields(tx: Executor, user_id: int) -> dict[str, Any] | None:
    """User ``user_id`` as the audit trail compares it (None if there is none): its columns
    but the id, ``used`` and creation time; the balance as what the user can spend."""
    row = await tx.fetch_one("SELECT * FROM users WHERE id = :id", {"id": user_id})
    if row is None:
        return None
    fields = row_fields(row, _UNAUDITED)
    holding = (await read_holdings(tx, USER, user_id)).get(user_id)
    fields["balance"] = format_usd(row["balance"] if holding is None else holding.spendable)
    return fields


def parse_limit(value: int, what: str) -> int | None:
    """A rate limit (a user's or a token's): a positive number, or -1 for no limit (NULL)."""
    if value == -1:
        return None
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidRequest(
            f"{what} must be a positive number up to {MAX_LIMIT}, or -1 for no limit"
        )
    return value


def check_user_name(name: str) -> str:
    """``name`` stripped; InvalidRequest if empty, too long, or all digits (read as an id)."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidRequest("a user needs a name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidRequest(f"a user name has at most {MAX_NAME_LENGTH} characters")
    if cleaned.isdigit():
        raise InvalidRequest(f"a user name cannot be all digits (read as an id): {cleaned!r}")
    return cleaned


def check_role(role: str) -> None:
    """Raise InvalidRequest unless ``role`` is a known role."""
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}: use one of {', '.join(ROLES)}")


async def require_group(db: Executor, group: str) -> None:
    """Raise InvalidRequest unless ``group`` exists."""
    if await db.fetch_value("SELECT name FROM user_groups WHERE name = :n", {"n": group}) is None:
        raise InvalidRequest(f"unknown group {group!r}: create it with `burncloud group set`")


async def _require_free_name(db: Executor, name: str) -> None:
    if await db.fetch_value("SELECT id FROM users WHERE name = :n", {"n": name}) is not None:
        raise InvalidRequest(f"user {name!r} already exists")


async def _free_invite_code(db: Executor, code: str) -> str:
    """``code`` stripped, if it is one word no user has."""
    cleaned = code.strip()
    if not cleaned or any(ch.isspace() for ch in cleaned):
        raise InvalidRequest(f"invalid invite code {code!r}: one word")
    taken = await db.fetch_value("SELECT name FROM users WHERE invite_code = :c", {"c": cleaned})
    if taken is not None:
        raise InvalidRequest(f"invite code {cleaned!r} is taken by user {taken!r}")
    return cleaned


async def _new_name(db: Executor, user: User, name: str) -> str:
    cleaned = check_user_name(name)
    if cleaned != user.name:
        await _require_free_name(db, cleaned)
    return cleaned


async def _require_other_admin(db: Executor, user: User, verb: str) -> None:
    """Refuse to take away the last enabled admin (``user`` itself, when enabled)."""
    if user.status != "enabled":
        return
    others = await db.fetch_value(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND status = 'enabled' AND id <> :id",
        {"id": user.id},
    )
    if not others:
        raise InvalidRequest(f"user {user.name!r} is the last enabled admin and cannot be {verb}")


async def _write(tx: Executor, user_id: int, changes: dict[str, Any]) -> User:
    """Apply ``changes`` (column -> value; columns come from this module, never from input)."""
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    before = await user_fields(tx, user_id)
    row = await tx.fetch_one(
        f"UPDATE users SET {assignments} WHERE id = :id RETURNING *", {**changes, "id": user_id}
    )
    assert row is not None
    await record_change(tx, "user", user_id, row["name"], before, await user_fields(tx, user_id))
    return await _with_balance(tx, User.from_row(row))
