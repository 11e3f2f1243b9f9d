"""Users: who owns tokens, which group prices them, and their balance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burncloud.crypto import generate_code
from burncloud.db.connection import Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import UNLIMITED, format_usd
from burncloud.services.clock import now
from burncloud.services.settings import bump_config_version

ROLES = ("admin", "user")
USER_STATUSES = ("enabled", "disabled")


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
            "created_at": self.created_at,
        }


async def get_user(db: Executor, user_id: int) -> User:
    """The user with ``user_id``; NotFound if there is none."""
    row = await db.fetch_one("SELECT * FROM users WHERE id = :id", {"id": user_id})
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    return User.from_row(row)


async def resolve_user(db: Executor, ref: str) -> User:
    """The user named by ``ref``: a numeric id or a user name."""
    ref = ref.strip()
    if ref.isdigit():
        row = await db.fetch_one("SELECT * FROM users WHERE id = :id", {"id": int(ref)})
    else:
        row = await db.fetch_one("SELECT * FROM users WHERE name = :n", {"n": ref})
    if row is None:
        raise NotFound(f"no user {ref!r}")
    return User.from_row(row)


async def create_user(
    tx: Executor,
    *,
    name: str,
    role: str = "user",
    group: str = "default",
    balance: int = 0,
    inviter_id: int | None = None,
) -> User:
    """Insert a user with a fresh invite code; refuse duplicates and unknown groups."""
    name = name.strip()
    if not name:
        raise InvalidRequest("a user needs a name")
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if balance < 0 and balance != UNLIMITED:
        raise InvalidRequest("balance must not be negative (use -1 for unlimited)")
    await require_group(tx, group)
    if await tx.fetch_value("SELECT id FROM users WHERE name = :n", {"n": name}) is not None:
        raise InvalidRequest(f"user {name!r} already exists")
    row = await tx.fetch_one(
        "INSERT INTO users (name, role, status, group_name, balance, used, invite_code,"
        " inviter_id, created_at) VALUES (:name, :role, 'enabled', :group, :balance, 0,"
        " :code, :inviter, :t) RETURNING *",
        {
            "name": name,
            "role": role,
            "group": group,
            "balance": balance,
            "code": generate_code(12),
            "inviter": inviter_id,
            "t": now(),
        },
    )
    assert row is not None
    await bump_config_version(tx)
    return User.from_row(row)


async def require_group(db: Executor, group: str) -> None:
    """Raise InvalidRequest unless ``group`` exists."""
    if await db.fetch_value("SELECT name FROM user_groups WHERE name = :n", {"n": group}) is None:
        raise InvalidRequest(f"unknown group {group!r}: create it with `burncloud group set`")
