"""First run: a fresh database gets an admin user and an admin key, and no default password.

The key is shown once, and only where a person reads it: on an interactive terminal. Any
other stderr (a service's log, a CI transcript) gets the news and how to get a key, never
the key: `burncloud admin-key rotate` prints a new one on stdout. The key is admin-scoped
only: it reaches the admin API, not the relay, so the one secret printed on first run is
not also what applications end up using.
"""

from __future__ import annotations

import sys
from typing import TextIO

from burncloud.db.base import Database
from burncloud.money import UNLIMITED
from burncloud.services.key_scopes import ADMIN
from burncloud.services.tokens import insert_token
from burncloud.services.users import create_user

ADMIN_NAME = "admin"
ADMIN_TOKEN_NAME = "admin"  # the first-run admin key's token, which `admin-key rotate` renews
GET_A_KEY = "`burncloud admin-key rotate` prints a new admin key"


async def ensure_admin(db: Database) -> str | None:
    """Create the admin user and key if the database has no user yet; return the new key."""
    if await db.fetch_value("SELECT id FROM users LIMIT 1") is not None:
        return None
    async with db.transaction() as tx:
        if await tx.fetch_value("SELECT id FROM users LIMIT 1") is not None:
            return None
        admin = await create_user(tx, name=ADMIN_NAME, role="admin", balance=UNLIMITED)
        _, key = await insert_token(
            tx, name=ADMIN_TOKEN_NAME, user_id=admin.id, scopes=frozenset({ADMIN})
        )
        return key


def announce_admin_key(key: str, stream: TextIO | None = None) -> None:
    """Tell ``stream`` (default stderr) that the admin was created: with the key on a
    terminal, else only how to get one."""
    out = sys.stderr if stream is None else stream
    if out.isatty():
        text = (
            "Created the admin user and its admin key, for the admin API (/api/) only"
            f" (shown only now, keep it safe):\n  {key}"
        )
    else:
        text = f"Created the admin user; its key is shown only on a terminal: {GET_A_KEY}."
    print(text, file=out, flush=True)
