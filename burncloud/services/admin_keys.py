"""Admin keys: the API keys that reach the admin API (/api/), made only by the operator.

Every admin key belongs to the admin user (the oldest enabled user with the admin role)
and is admin-scoped; it relays requests only when made with ``relay=True``. Nothing here
is reachable through the admin API or the relay: an admin key is made by someone who holds
the database (the CLI, or the first run), so no API key can mint a key wider than itself.

One admin key is the first-run key, the admin user's token named ``admin``. Rotating
replaces that token's key hash in place (creating the token if it is missing), so the old
key stops working as soon as routers reload, while the token keeps its id, scopes and
history; the new key is active and does not expire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burncloud.crypto import generate_key, hash_secret, mask_secret
from burncloud.db.base import Database, Executor
from burncloud.errors import NotFound
from burncloud.services.audit import record_change
from burncloud.services.bootstrap import ADMIN_NAME, ADMIN_TOKEN_NAME
from burncloud.services.clock import now
from burncloud.services.key_scopes import ADMIN, ADMIN_FORMS, RELAY
from burncloud.services.settings import bump_config_version
from burncloud.services.tokens import Token, insert_token, token_fields
from burncloud.services.users import User

KEY_HINT_PREFIX = 7  # the same hint shape as every other token: "sk-AbCd...wxyz"
_IS_ADMIN_KEY = "scopes IN (:admin_only, :admin_relay)"
_ADMIN_FORMS = dict(zip(("admin_only", "admin_relay"), ADMIN_FORMS, strict=True))


@dataclass(frozen=True, slots=True)
class RotatedKey:
    key: str
    token_id: int
    user: User

    def to_json(self) -> dict[str, Any]:
        """The new key (shown only now), its token and its user."""
        return {"key": self.key, "token_id": self.token_id, "user": self.user.name}


async def create_admin_key(db: Database, name: str, *, relay: bool = False) -> tuple[Token, str]:
    """A new admin key of the admin user (also a relay key if ``relay``); return it and its
    one-time key."""
    scopes = frozenset({ADMIN, RELAY} if relay else {ADMIN})
    async with db.transaction() as tx:
        admin = await find_admin_user(tx)
        return await insert_token(tx, name=name, user_id=admin.id, scopes=scopes)


async def list_admin_keys(db: Executor) -> list[Token]:
    """Every admin key, revoked ones too, oldest first."""
    rows = await db.fetch_all(
        f"SELECT * FROM tokens WHERE {_IS_ADMIN_KEY} ORDER BY id", _ADMIN_FORMS
    )
    return [Token.from_row(row) for row in rows]


async def revoke_admin_key(db: Database, token_id: int) -> Token:
    """Revoke admin key ``token_id``; NotFound for any other token (relay keys are revoked
    as tokens)."""
    async with db.transaction() as tx:
        before = await token_fields(tx, token_id)
        row = await tx.fetch_one(
            "UPDATE tokens SET status = 'revoked', updated_at = :t"
            f" WHERE id = :id AND {_IS_ADMIN_KEY} RETURNING *",
            {"t": now(), "id": token_id, **_ADMIN_FORMS},
        )
        if row is None:
            raise NotFound(await _not_an_admin_key(tx, token_id))
        await _record(tx, token_id, before)
        await bump_config_version(tx)
    return Token.from_row(row)


async def _not_an_admin_key(tx: Executor, token_id: int) -> str:
    if await tx.fetch_value("SELECT id FROM tokens WHERE id = :id", {"id": token_id}) is None:
        return f"no token with id {token_id}"
    return f"token {token_id} is not an admin key (it is a relay key: revoke it as a token)"


async def rotate_admin_key(db: Database) -> RotatedKey:
    """Give the first-run admin key a new key; the old key stops working. Return the new key."""
    async with db.transaction() as tx:
        await bump_config_version(tx)  # first: serialises config writers on PostgreSQL
        admin = await find_admin_user(tx)
        token_id = await tx.fetch_value(
            "SELECT id FROM tokens WHERE user_id = :u AND name = :n"
            f" AND {_IS_ADMIN_KEY} ORDER BY id LIMIT 1",
            {"u": admin.id, "n": ADMIN_TOKEN_NAME, **_ADMIN_FORMS},
        )
        if token_id is None:
            token, key = await insert_token(
                tx, name=ADMIN_TOKEN_NAME, user_id=admin.id, scopes=frozenset({ADMIN})
            )
            return RotatedKey(key=key, token_id=token.id, user=admin)
        key = generate_key()
        before = await token_fields(tx, token_id)
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
        await _record(tx, token_id, before)
        return RotatedKey(key=key, token_id=int(token_id), user=admin)


async def _record(tx: Executor, token_id: int, before: dict[str, Any] | None) -> None:
    """Put an admin key's change in the audit trail (its new key only as "(changed)")."""
    after = await token_fields(tx, token_id)
    assert after is not None  # changed in this transaction
    await record_change(tx, "token", token_id, after["name"], before, after)


async def find_admin_user(db: Executor) -> User:
    """The oldest enabled admin (normally the first-run ``admin`` user)."""
    row = await db.fetch_one(
        "SELECT * FROM users WHERE role = 'admin' AND status = 'enabled' ORDER BY id LIMIT 1"
    )
    if row is None:
        raise NotFound(f"no enabled admin user (the first run creates {ADMIN_NAME!r})")
    return User.from_row(row)
