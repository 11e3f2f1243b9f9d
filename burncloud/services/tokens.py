"""Client API tokens: created once and shown once, stored only as a hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burncloud.crypto import generate_key, hash_secret, mask_secret
from burncloud.db.connection import Executor, Row
from burncloud.errors import InvalidRequest
from burncloud.money import UNLIMITED, format_usd
from burncloud.services.clock import now
from burncloud.services.settings import bump_config_version

TOKEN_STATUSES = ("active", "revoked")


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
    created_at: int
    updated_at: int

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
) -> tuple[Token, str]:
    """Create a token; return it and its key, which is never retrievable again."""
    name = name.strip()
    if not name:
        raise InvalidRequest("a token needs a name")
    key = generate_key()
    t = now()
    row = await tx.fetch_one(
        "INSERT INTO tokens (name, key_hash, key_hint, user_id, status, expires_at, quota,"
        " used, models, ips, created_at, updated_at) VALUES (:name, :hash, :hint, :user,"
        " 'active', :expires, :quota, 0, :models, :ips, :t, :t) RETURNING *",
        {
            "name": name,
            "hash": hash_secret(key),
            "hint": mask_secret(key, visible_prefix=7),
            "user": user_id,
            "expires": expires_at,
            "quota": quota,
            "models": ",".join(models),
            "ips": ",".join(ips),
            "t": t,
        },
    )
    assert row is not None
    await bump_config_version(tx)
    return Token.from_row(row), key
