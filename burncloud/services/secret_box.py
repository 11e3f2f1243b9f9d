"""The installation's SecretBox, checked against the database it belongs to."""

from __future__ import annotations

from burncloud.crypto import SecretBox, load_secret_box
from burncloud.db.base import Database

_CHECK_KEY = "secret_check"


async def open_secret_box(db: Database, passphrase: str | None) -> SecretBox:
    """Load the secret box and verify it matches the one the database was written with."""
    box = load_secret_box(db.url, passphrase)
    stored = await db.fetch_value("SELECT value FROM settings WHERE key = :k", {"k": _CHECK_KEY})
    if stored is None:
        await db.execute(
            "INSERT INTO settings (key, value) VALUES (:k, :v) ON CONFLICT (key) DO NOTHING",
            {"k": _CHECK_KEY, "v": box.check_value()},
        )
        stored = await db.fetch_value(
            "SELECT value FROM settings WHERE key = :k", {"k": _CHECK_KEY}
        )
    box.verify(stored)
    return box
