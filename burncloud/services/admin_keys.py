"""The admin key: the API key of the admin user's token named ``admin``.

Rotating replaces that token's key hash in place (creating the token if it is missing), so
the old key stops working as soon as routers reload, while the token keeps its id, quota
and history; the new key is active and does not expire. The admin user is the oldest
enabled user with the admin role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burncloud.crypto import generate_key, hash_secret, mask_secret
from burncloud.db.connection import Database, Executor
from burncloud.errors import NotFound
from burncloud.services.bootstrap import ADMIN_NAME
from burncloud.services.clock import now
from burncloud.services.settings import bump_config_version
from burncloud.services.tokens import insert_token
from burncloud.services.users import User

ADMIN_TOKEN_NAME = "admin"
KEY_HINT_PREFIX = 7  # the same hint shape as every other token: "sk-AbCd...wxyz"


@dataclass(frozen=True, slots=True)
class RotatedKey:
    key: str
    token_id: int
    user: User

    def to_json(self) -> dict[str, Any]:
        """The new key (shown only now), its token and its user."""
        return {"key": self.key, "token_id": self.token_id, "user": self.user.name}


async def rotate_admin_key(db: Database) -> RotatedKey:
    """Give the admin token a new key; the old key stops working. Return the new key."""
    async with db.transaction() as tx:
        await bump_config_version(tx)  # first: serialises config writers on PostgreSQL
        admin = await find_admin_user(tx)
        token_id = await tx.fetch_value(
            "SELECT id FROM tokens WHERE user_id = :u AND name = :n ORDER BY id LIMIT 1",
            {"u": admin.id, "n": ADMIN_TOKEN_NAME},
        )
        if token_id is None:
            token, key = await insert_token(tx, name=ADMIN_TOKEN_NAME, user_id=admin.id)
            return RotatedKey(key=key, token_id=token.id, user=admin)
        key = generate_key()
        await tx.execute(
            "UPDATE tokens SET key_hash = :h, key_hint = :hint, status = 'active',"
            " expires_at = NULL, updated_at = :t WHERE id = :id",
            {
                "h": hash_secret(key),
                "hint": mask_secret(key, visible_prefix=KEY_HINT_PREFIX),
                "t": now(),
                "id": token_id,
            },
        )
        return RotatedKey(key=key, token_id=int(token_id), user=admin)


async def find_admin_user(db: Executor) -> User:
    """The oldest enabled admin (normally the first-run ``admin`` user)."""
    row = await db.fetch_one(
        "SELECT * FROM users WHERE role = 'admin' AND status = 'enabled' ORDER BY id LIMIT 1"
    )
    if row is None:
        raise NotFound(f"no enabled admin user (the first run creates {ADMIN_NAME!r})")
    return User.from_row(row)
