"""Client API tokens: created once and shown once, stored only as a hash.

Owns the token rows and the rules for their fields: expiry (unix seconds, or NULL for
never), model and IP allow-lists (comma-separated; IPs normalised to CIDR networks), quota
(remaining nano-USD, routers' leases included: ``balances``; -1 unlimited), per-token rate
limits (NULL for no limit) and scopes (``key_scopes``): every token made here is a relay
key; only ``admin_keys``, the first run and an operator's manifest (``manifest.apply``, from
the CLI) make admin keys, through ``insert_token`` and ``insert_token_with_hash``. The
latter keeps a key made elsewhere valid by storing its hash; the ``write_token_update``
and ``remove_token`` forms run in the caller's transaction.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any

from burncloud.crypto import generate_key, hash_secret, mask_secret
from burncloud.db.base import Database, Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import UNLIMITED, format_usd
from burncloud.services.audit import record_change, row_fields
from burncloud.services.balances import Holding, read_holdings
from burncloud.services.budgets import TOKEN as BUDGET_TOKEN
from burncloud.services.budgets import remove_budgets
from burncloud.services.clock import now
from burncloud.services.key_scopes import RELAY, parse_scopes, scopes_text
from burncloud.services.leases import TOKEN
from burncloud.services.quota import cancel_leases, validate_quota
from burncloud.services.settings import bump_config_version
from burncloud.services.users import LIMIT_COLUMNS, User, parse_limit, resolve_user

TOKEN_STATUSES = ("active", "revoked")
_HASH = re.compile(r"[0-9a-f]{64}")
MAX_EXPIRY = 253_402_300_799  # 9999-12-31T23:59:59Z
_EXPIRY_FORMS = "use -1 (never), a unix time, a date (2027-01-31) or 2027-01-31T12:00:00Z"
_UNAUDITED = frozenset(("id", "used", "created_at", "updated_at"))


def split_list(text: str) -> tuple[str, ...]:
    """A comma-separated column or option as a tuple of non-empty, stripped items."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    name: str
    key_hint: str
    user_id: int
    status: str
    expires_at: int | None
    quota: int
    used: int
    models: tuple[str, ...]
    ips: tuple[str, ...]
    rpm: int | None
    tpm: int | None
    max_concurrency: int | None
    scopes: frozenset[str]
    created_at: int
    updated_at: int

    def allows(self, scope: str) -> bool:
        """True when this key may reach routes of ``scope`` (relay or admin)."""
        return scope in self.scopes

    @classmethod
    def from_row(cls, row: Row) -> Token:
        return cls(
            id=row["id"],
            name=row["name"],
            key_hint=row["key_hint"],
            user_id=row["user_id"],
            status=row["status"],
            expires_at=row["expires_at"],
            quota=row["quota"],
            used=row["used"],
            models=split_list(row["models"]),
            ips=split_list(row["ips"]),
            rpm=row["rpm"],
            tpm=row["tpm"],
            max_concurrency=row["max_concurrency"],
            scopes=parse_scopes(row["scopes"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def to_json(self) -> dict[str, Any]:
        """The token as JSON (never the key): money as decimal strings, quota "-1" unlimited."""
        return {
            "id": self.id,
            "name": self.name,
            "key": self.key_hint,
            "user_id": self.user_id,
            "status": self.status,
            "expires": self.expires_at if self.expires_at is not None else -1,
            "quota": format_usd(self.quota),
            "used": format_usd(self.used),
            "models": list(self.models),
            "ips": list(self.ips),
            "rpm": self.rpm,
            "tpm": self.tpm,
            "max_concurrency": self.max_concurrency,
            "scopes": sorted(self.scopes),
            "created_at": self.created_at,
        }


async def insert_token(
    tx: Executor,
    *,
    name: str,
    user_id: int,
    quota: int = UNLIMITED,
    expires_at: int | None = None,
    models: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    scopes: frozenset[str] = frozenset({RELAY}),
) -> tuple[Token, str]:
    """Create a token; return it and its key, which is never retrievable again.

    ``scopes`` is for the operator's own paths (first run, ``admin_keys``); everything a
    client or the admin API can reach leaves it at relay."""
    key = generate_key()
    token = await _insert(
        tx,
        {
            "name": name,
            "hash": hash_secret(key),
            "hint": mask_secret(key, visible_prefix=7),
            "user": user_id,
            "expires": expires_at,
            "quota": quota,
            "used": 0,
            "models": ",".join(models),
            "ips": ",".join(ips),
            "scopes": scopes_text(scopes),
        },
    )
    return token, key


async def insert_token_with_hash(
    tx: Executor,
    *,
    name: str,
    user_id: int,
    key_hash: str,
    key_hint: str,
    quota: int = UNLIMITED,
    used: int = 0,
    expires_at: int | None = None,
    models: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    scopes: frozenset[str] = frozenset({RELAY}),
) -> Token:
    """Create a token whose key is the one ``key_hash`` (``hash_secret``) was made from, so
    a key clients already hold keeps working (a move from another database); ``used`` is
    what it has spent there. InvalidRequest if another token has that key."""
    if not _HASH.fullmatch(key_hash):
        raise InvalidRequest("a key hash is 64 lowercase hex digits (SHA-256)")
    taken = await tx.fetch_value("SELECT id FROM tokens WHERE key_hash = :h", {"h": key_hash})
    if taken is not None:
        raise InvalidRequest(f"that key is already token {taken}'s")
    if used < 0:
        raise InvalidRequest("used must not be negative")
    return await _insert(
        tx,
        {
            "name": name,
            "hash": key_hash,
            "hint": key_hint,
            "user": user_id,
            "expires": expires_at,
            "quota": validate_quota(quota),
            "used": used,
            "models": ",".join(models),
            "ips": ",".join(ips),
            "scopes": scopes_text(scopes),
        },
    )


async def _insert(tx: Executor, values: dict[str, Any]) -> Token:
    """Insert an active token of ``values`` (its name checked here)."""
    name = values["name"].strip()
    if not name:
        raise InvalidRequest("a token needs a name")
    row = await tx.fetch_one(
        "INSERT INTO tokens (name, key_hash, key_hint, user_id, status, expires_at, quota,"
        " used, models, ips, scopes, created_at, updated_at) VALUES (:name, :hash, :hint,"
        " :user, 'active', :expires, :quota, :used, :models, :ips, :scopes, :t, :t)"
        " RETURNING *",
        {**values, "name": name, "t": now()},
    )
    assert row is not None
    await record_change(tx, "token", row["id"], name, None, await token_fields(tx, row["id"]))
    await bump_config_version(tx)
    return Token.from_row(row)


def parse_expiry(value: str | int | None) -> int | None:
    """An expiry as unix seconds, or None for never; refuses a time that has passed.

    Accepts ``-1`` / ``never``, unix seconds, an ISO date (the token stays valid through
    the end of that day, 23:59:59 UTC) or an ISO datetime (UTC when it has no offset).
    """
    if value is None:
        return None
    raw = str(value).strip()
    if raw.lower() in ("-1", "never"):
        return None
    at = expiry_seconds(raw)
    if at > MAX_EXPIRY:
        raise InvalidRequest(f"expiry {raw} is too far in the future")
    if at <= now():
        raise InvalidRequest(f"expiry {raw} is in the past")
    return at


def expiry_seconds(raw: str) -> int:
    """Unix seconds of an expiry written as digits, an ISO date (its last second, UTC) or an
    ISO datetime (UTC when it has no offset); no range check."""
    if raw.isdigit():
        return int(raw)
    try:
        if "T" not in raw.upper() and " " not in raw:
            day = date.fromisoformat(raw)
            return int(datetime.combine(day, time(23, 59, 59), tzinfo=UTC).timestamp())
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"invalid expiry {raw!r}: {_EXPIRY_FORMS}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _items(value: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return split_list(value)
    return tuple(item.strip() for item in value if item.strip())


def parse_ips(value: str | Sequence[str]) -> tuple[str, ...]:
    """An IP allow-list as normalised networks: ``10.0.0.1`` becomes ``10.0.0.1/32``."""
    networks: list[str] = []
    for item in _items(value):
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError:
            raise InvalidRequest(_ip_error(item)) from None
        if str(network) not in networks:
            networks.append(str(network))
    return tuple(networks)


def _ip_error(item: str) -> str:
    try:
        network = ipaddress.ip_network(item, strict=False)
    except ValueError:
        return f"invalid IP address or CIDR network: {item!r}"
    return f"{item} has host bits set: did you mean {network}?"


def parse_models(value: str | Sequence[str]) -> tuple[str, ...]:
    """A model allow-list as unique names (empty: every model)."""
    models: list[str] = []
    for item in _items(value):
        if "," in item or any(ch.isspace() for ch in item):
            raise InvalidRequest(f"invalid model name: {item!r}")
        if item not in models:
            models.append(item)
    return tuple(models)


async def _owner(tx: Executor, user_ref: str | int | None) -> User:
    if user_ref is not None:
        return await resolve_user(tx, str(user_ref))
    row = await tx.fetch_one("SELECT * FROM users WHERE role = 'admin' ORDER BY id LIMIT 1")
    if row is None:
        raise NotFound("there is no admin user to own the token: pass a user")
    return User.from_row(row)


async def create_token(
    db: Database,
    name: str,
    *,
    user_ref: str | int | None = None,
    quota_units: int = UNLIMITED,
    expires_at: str | int | None = None,
    models: str | Sequence[str] = (),
    ips: str | Sequence[str] = (),
) -> tuple[Token, str]:
    """Create a relay key for ``user_ref`` (default: the admin); return it and its one-time
    key. Never an admin key, whoever the owner is: those come from ``admin_keys``."""
    quota = validate_quota(quota_units)
    expiry = parse_expiry(expires_at)
    model_list, ip_list = parse_models(models), parse_ips(ips)
    async with db.transaction() as tx:
        user = await _owner(tx, user_ref)
        return await insert_token(
            tx,
            name=name,
            user_id=user.id,
            quota=quota,
            expires_at=expiry,
            models=model_list,
            ips=ip_list,
        )


async def list_tokens(db: Executor, user_ref: str | int | None = None) -> list[Token]:
    """Every token, oldest first; only ``user_ref``'s when given."""
    if user_ref is None:
        rows = await db.fetch_all("SELECT * FROM tokens ORDER BY id")
    else:
        user = await resolve_user(db, str(user_ref))
        rows = await db.fetch_all(
            "SELECT * FROM tokens WHERE user_id = :u ORDER BY id", {"u": user.id}
        )
    holdings = await read_holdings(db, TOKEN)
    return [_spendable(Token.from_row(row), holdings) for row in rows]


async def get_token(db: Executor, token_id: int) -> Token:
    """The token with ``token_id``; NotFound if there is none."""
    row = await db.fetch_one("SELECT * FROM tokens WHERE id = :id", {"id": token_id})
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    return await _with_quota(db, Token.from_row(row))


async def find_token_by_key(db: Executor, key: str) -> Token | None:
    """The token whose key is ``key`` (looked up by its hash), or None."""
    row = await db.fetch_one(
        "SELECT * FROM tokens WHERE key_hash = :h", {"h": hash_secret(key.strip())}
    )
    return await _with_quota(db, Token.from_row(row)) if row is not None else None


async def update_token(
    db: Database,
    token_id: int,
    *,
    name: str | None = None,
    quota_units: int | None = None,
    expires_at: str | int | None = None,
    models: str | Sequence[str] | None = None,
    ips: str | Sequence[str] | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    max_concurrency: int | None = None,
) -> Token:
    """Change only the given fields (None leaves a field alone; -1 clears expiry and limits)."""
    changes = _changes(name, quota_units, expires_at, models, ips)
    for column, value in zip(LIMIT_COLUMNS, (rpm, tpm, max_concurrency), strict=True):
        if value is not None:
            changes[column] = parse_limit(value, column.replace("_", " "))
    if not changes:
        raise InvalidRequest("nothing to update: give at least one field to change")
    async with db.transaction() as tx:
        return await write_token_update(tx, token_id, changes)


async def write_token_update(tx: Executor, token_id: int, changes: Mapping[str, Any]) -> Token:
    """Set ``changes`` (column -> value, each checked by this module's parsers: names
    from code, never from input) on token ``token_id`` in transaction ``tx``."""
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    before = await _existing_fields(tx, token_id)
    if "quota" in changes:  # a new quota replaces what routers hold, as `quota set` does
        await cancel_leases(tx, TOKEN, token_id)
    row = await tx.fetch_one(
        f"UPDATE tokens SET {assignments}, updated_at = :t WHERE id = :id RETURNING *",
        {**changes, "t": now(), "id": token_id},
    )
    assert row is not None  # read above, in this transaction
    await record_change(
        tx, "token", token_id, row["name"], before, await token_fields(tx, token_id)
    )
    await bump_config_version(tx)
    return await _with_quota(tx, Token.from_row(row))


async def token_fields(tx: Executor, token_id: int) -> dict[str, Any] | None:
    """Token ``token_id`` as the audit trail compares it (None if there is none): its
    columns but the id, ``used`` and times; the quota as what it can spend (leases
    included), the key hash masked by its name."""
    row = await tx.fetch_one("SELECT * FROM tokens WHERE id = :id", {"id": token_id})
    if row is None:
        return None
    fields = row_fields(row, _UNAUDITED)
    holding = (await read_holdings(tx, TOKEN, token_id)).get(token_id)
    fields["quota"] = format_usd(row["quota"] if holding is None else holding.spendable)
    return fields


async def _existing_fields(tx: Executor, token_id: int) -> dict[str, Any]:
    """``token_fields`` of a token about to change; NotFound if there is none."""
    fields = await token_fields(tx, token_id)
    if fields is None:
        raise NotFound(f"no token with id {token_id}")
    return fields


def _changes(
    name: str | None,
    quota_units: int | None,
    expires_at: str | int | None,
    models: str | Sequence[str] | None,
    ips: str | Sequence[str] | None,
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise InvalidRequest("a token needs a name")
        changes["name"] = name.strip()
    if quota_units is not None:
        changes["quota"] = validate_quota(quota_units)
    if expires_at is not None:
        changes["expires_at"] = parse_expiry(expires_at)
    if models is not None:
        changes["models"] = ",".join(parse_models(models))
    if ips is not None:
        changes["ips"] = ",".join(parse_ips(ips))
    return changes


async def _with_quota(db: Executor, token: Token) -> Token:
    """``token`` with its quota and use as ``balances.read_holdings`` reads them: the quota
    includes what routers hold for it in leases."""
    return _spendable(token, await read_holdings(db, TOKEN, token.id))


def _spendable(token: Token, holdings: dict[int, Holding]) -> Token:
    holding = holdings.get(token.id)
    if holding is None:  # created after the holdings were read: nothing leased yet
        return token
    return replace(token, quota=holding.spendable, used=holding.used)


async def revoke_token(db: Database, token_id: int) -> Token:
    """Mark the token revoked: the router refuses it from its next reload on."""
    async with db.transaction() as tx:
        return await write_token_update(tx, token_id, {"status": "revoked"})


async def delete_token(db: Database, token_id: int) -> None:
    """Remove the token for good (its log rows keep the id)."""
    async with db.transaction() as tx:
        await remove_token(tx, token_id)


async def remove_token(tx: Executor, token_id: int) -> None:
    """``delete_token`` in transaction ``tx``."""
    before = await _existing_fields(tx, token_id)
    await remove_budgets(tx, BUDGET_TOKEN, token_id)
    await tx.execute("DELETE FROM tokens WHERE id = :id", {"id": token_id})
    await record_change(tx, "token", token_id, before["name"], before, None)
    await bump_config_version(tx)
