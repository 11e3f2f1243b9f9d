"""Installation settings and the config version that tells routers to reload.

Settings written here are configuration: each change is in the audit trail. Rows the
routers keep for themselves in the same table (checks, cursors) are written where they
are owned, not through ``set_setting``.
"""

from __future__ import annotations

from burncloud.db.base import Executor
from burncloud.services.audit import is_secret_field, record_change
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
    old = await get_setting(tx, key)
    await tx.execute(
        "INSERT INTO settings (key, value) VALUES (:k, :v) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {"k": key, "v": value},
    )
    await _record(tx, key, old, value)
    await bump_config_version(tx)


async def delete_setting(tx: Executor, key: str) -> None:
    """Forget one stored setting (its default applies again) and bump the config version."""
    old = await get_setting(tx, key)
    await tx.execute("DELETE FROM settings WHERE key = :k", {"k": key})
    await _record(tx, key, old, None)
    await bump_config_version(tx)


async def _record(tx: Executor, key: str, old: str | None, new: str | None) -> None:
    """Put a setting's change in the audit trail (a setting named like a secret masked)."""
    if old is None and new is None:
        return
    field = key if is_secret_field(key) else "value"
    before = None if old is None else {field: old}
    await record_change(tx, "setting", key, key, before, None if new is None else {field: new})
