"""Invitations: every user has an invite code; signing up through it can earn rewards.

The rewards are settings in nano-USD (``invite_reward_inviter``, ``invite_reward_invitee``,
0 when unset). A sign-up creates the invitee (remembering its inviter) and credits both
rewards in one transaction, so either all of it happens or none of it. Unlimited (-1)
balances stay unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burncloud.db.base import Database, Executor
from burncloud.errors import ConfigError, InvalidRequest, NotFound
from burncloud.money import UNLIMITED, format_usd
from burncloud.services.plans import put_on_default_plan
from burncloud.services.settings import get_setting, set_setting
from burncloud.services.users import (
    User,
    create_user,
    credit_balance,
    get_user,
    resolve_user,
)

INVITER_REWARD_KEY = "invite_reward_inviter"
INVITEE_REWARD_KEY = "invite_reward_invitee"


@dataclass(frozen=True, slots=True)
class InviteRewards:
    inviter: int
    invitee: int

    def to_json(self) -> dict[str, Any]:
        """The rewards as decimal USD strings."""
        return {"inviter": format_usd(self.inviter), "invitee": format_usd(self.invitee)}


@dataclass(frozen=True, slots=True)
class InviteInfo:
    user: User
    inviter: User | None
    invited: tuple[User, ...]

    def to_json(self) -> dict[str, Any]:
        """The user's invite code, who invited them, and whom they invited."""
        return {
            "user_id": self.user.id,
            "user": self.user.name,
            "invite_code": self.user.invite_code,
            "inviter": self.inviter.name if self.inviter else None,
            "invited": [
                {"id": u.id, "name": u.name, "created_at": u.created_at} for u in self.invited
            ],
        }


async def get_invite_rewards(db: Executor) -> InviteRewards:
    """The configured rewards (0 when never set)."""
    return InviteRewards(
        inviter=await _read_reward(db, INVITER_REWARD_KEY),
        invitee=await _read_reward(db, INVITEE_REWARD_KEY),
    )


async def set_invite_rewards(
    db: Database, *, inviter: int | None = None, invitee: int | None = None
) -> InviteRewards:
    """Change the given rewards (nano-USD, >= 0); return the rewards now in force."""
    async with db.transaction() as tx:
        return await write_invite_rewards(tx, inviter=inviter, invitee=invitee)


async def write_invite_rewards(
    tx: Executor, *, inviter: int | None = None, invitee: int | None = None
) -> InviteRewards:
    """``set_invite_rewards`` in transaction ``tx``."""
    for units in (inviter, invitee):
        if units is not None and units < 0:
            raise InvalidRequest("an invite reward must not be negative")
    if inviter is not None:
        await set_setting(tx, INVITER_REWARD_KEY, str(inviter))
    if invitee is not None:
        await set_setting(tx, INVITEE_REWARD_KEY, str(invitee))
    return await get_invite_rewards(tx)


async def invite_info(db: Executor, ref: str) -> InviteInfo:
    """User ``ref``'s invite code, inviter and invitees (oldest first)."""
    user = await resolve_user(db, ref)
    inviter = await get_user(db, user.inviter_id) if user.inviter_id is not None else None
    rows = await db.fetch_all(
        "SELECT * FROM users WHERE inviter_id = :id ORDER BY id", {"id": user.id}
    )
    return InviteInfo(user=user, inviter=inviter, invited=tuple(User.from_row(r) for r in rows))


async def find_inviter(db: Executor, invite_code: str) -> User:
    """The enabled user whose invite code is ``invite_code``; NotFound or InvalidRequest."""
    row = await db.fetch_one(
        "SELECT * FROM users WHERE invite_code = :c", {"c": invite_code.strip()}
    )
    if row is None:
        raise NotFound("unknown invite code")
    inviter = User.from_row(row)
    if inviter.status != "enabled":
        raise InvalidRequest("this invite code belongs to a disabled user")
    return inviter


async def sign_up(
    db: Database,
    *,
    name: str,
    invite_code: str,
    role: str = "user",
    group: str = "default",
    balance: int = 0,
    default_plan: str | None = None,
) -> User:
    """Create user ``name`` invited through ``invite_code`` and credit both rewards; the
    new user is on the default plan if there is one (as ``users.add_user``)."""
    if balance < 0 and balance != UNLIMITED:
        raise InvalidRequest("balance must not be negative (use -1 for unlimited)")
    async with db.transaction() as tx:
        inviter = await find_inviter(tx, invite_code)
        rewards = await get_invite_rewards(tx)
        start = balance if balance == UNLIMITED else balance + rewards.invitee
        user = await create_user(
            tx, name=name, role=role, group=group, balance=start, inviter_id=inviter.id
        )
        if rewards.inviter:
            await credit_balance(tx, inviter.id, rewards.inviter)
        await put_on_default_plan(tx, user.id, default_plan)
        return user


async def _read_reward(db: Executor, key: str) -> int:
    raw = await get_setting(db, key)
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"setting {key} is not an integer amount: {raw!r}") from None
