"""First run: a fresh database gets an admin user and an admin key, and no default password."""

from __future__ import annotations

from burncloud.db.connection import Database
from burncloud.money import UNLIMITED
from burncloud.services.tokens import insert_token
from burncloud.services.users import create_user

ADMIN_NAME = "admin"


async def ensure_admin(db: Database) -> str | None:
    """Create the admin user and key if the database has no user yet; return the new key."""
    if await db.fetch_value("SELECT id FROM users LIMIT 1") is not None:
        return None
    async with db.transaction() as tx:
        if await tx.fetch_value("SELECT id FROM users LIMIT 1") is not None:
            return None
        admin = await create_user(tx, name=ADMIN_NAME, role="admin", balance=UNLIMITED)
        _, key = await insert_token(tx, name="admin", user_id=admin.id)
        return key
