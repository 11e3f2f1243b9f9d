"""Installation settings and the config version that tells routers to reload."""

from __future__ import annotations

from burncloud.db.base import Executor
from burncloud.services.clock import now


async def bump_config_version(tx: Executor) -> int:
    """Mark the configuration changed; every running router reloads within about a second."""
    version = await tx.fetch_value(
        "UPDATE config_version SET version = version + 1, updated_at = :t WHERE id = 1 "
        "RETURNING version",
        {"t": now()},
    )
    return int(version)


async def read_config_version(db: Executor) -> int:
    """The current config version."""
    return int(await db.fetch_value("SELECT version FROM config_version WHERE id = 1"))


async def get_setting(db: Executor, key: str) -> str | None:
    """One stored setting, or None."""
    value = await db.fetch_value("SELECT value FROM settings WHERE key = :k", {"k": key})
    return None if value is None else str(value)


async def set_setting(tx: Executor, key: str, value: str) -> None:
    """Store one setting and bump the config version."""
    await tx.execute(
        "INSERT INTO settings (key, value) VALUES (:k, :v) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {"k": key, "v": value},
    )
    await bump_config_version(tx)


async def delete_setting(tx: Executor, key: str) -> None:
    """Forget one stored setting (its default applies again) and bump the config version."""
    await tx.execute("DELETE FROM settings WHERE key = :k", {"k": key})
    await bump_config_version(tx)
