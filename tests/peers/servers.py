"""The database servers peer databases are built on: MariaDB and PostgreSQL.

MariaDB is ``BURNCLOUD_TEST_MARIADB`` (default ``mysql://root@127.0.0.1:3306/test``),
PostgreSQL ``BURNCLOUD_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1/test``,
as in tests/gateway/quota_db.py); each peer database is a database of its own on them.
Where a server is unreachable its tests skip, except where one is promised
(``BURNCLOUD_REQUIRE_MARIADB=1`` / ``BURNCLOUD_REQUIRE_POSTGRES=1``, set by .ci/run): there
they fail, so CI never passes by skipping an engine.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest

MARIADB_URL = os.environ.get("BURNCLOUD_TEST_MARIADB", "mysql://root@127.0.0.1:3306/test")
POSTGRES_URL = os.environ.get("BURNCLOUD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1/test")
REQUIRED_BY = {"mysql": "BURNCLOUD_REQUIRE_MARIADB", "postgresql": "BURNCLOUD_REQUIRE_POSTGRES"}
_reasons: dict[str, str | None] = {}


def new_database_name() -> str:
    """A database name no other test uses."""
    return f"bc_peer_{secrets.token_hex(6)}"


def server_url(engine: str, database: str) -> str:
    """The URL of ``database`` on the engine's test server."""
    parts = urlsplit(MARIADB_URL if engine == "mysql" else POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


def mysql_args(url: str = MARIADB_URL) -> dict[str, Any]:
    """PyMySQL's connect arguments for a ``mysql://`` URL."""
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": parts.path.lstrip("/") or None,
        "charset": "utf8mb4",
        "connect_timeout": 3,
    }


async def require_server(engine: str) -> None:
    """Skip without the engine's server; fail where one is promised. SQLite needs none."""
    if engine == "sqlite":
        return
    reason = await _unreachable(engine)
    if reason is None:
        return
    if os.environ.get(REQUIRED_BY[engine]) == "1":
        pytest.fail(reason)
    pytest.skip(reason)


async def _unreachable(engine: str) -> str | None:
    if engine not in _reasons:
        probe = _probe_mysql if engine == "mysql" else _probe_postgres
        _reasons[engine] = await probe()
    return _reasons[engine]


async def _probe_mysql() -> str | None:
    try:
        import pymysql  # type: ignore[import-untyped]
    except ImportError:
        return "PyMySQL is not installed (pip install 'burncloud[mysql]')"
    try:
        conn = await asyncio.to_thread(pymysql.connect, **mysql_args())
    except pymysql.err.MySQLError as exc:
        return f"MariaDB at {MARIADB_URL} is unreachable: {exc}"
    conn.close()
    return None


async def _probe_postgres() -> str | None:
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed (pip install 'burncloud[postgres]')"
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}"
    await conn.close()
    return None
