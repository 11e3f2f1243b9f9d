"""An in-process router on 127.0.0.1 in front of a FakeOpenAI, seeded through the services."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config

from burncloud.config import Settings
from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.gateway.asgi import ASGIApp
from burncloud.money import parse_usd
from burncloud.server import create_app
from burncloud.services.admin_keys import RotatedKey, rotate_admin_key
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.channels import add_channel, update_channel
from burncloud.services.prices import set_price
from burncloud.services.settings import read_config_version
from burncloud.services.tokens import create_token
from burncloud.serving.listener import BACKLOG
from tests.fakes import FakeOpenAI

SECRET = "router-test-secret"
CONFIG_POLL_SECONDS = 0.1  # test routers look for configuration changes this often


@dataclass(frozen=True, slots=True)
class RunningRouter:
    base_url: str  # SDK-style, ending in /v1
    key: str  # a relay key of the admin user (token ``token_id``): for /v1/...
    token_id: int
    db_url: str
    admin_key: str  # the first-run admin key (token ``admin_token_id``): for /api/ only
    admin_token_id: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def seed(db_url: str, upstream: FakeOpenAI, quota: str = "-1") -> tuple[int, str]:
    """gpt-4 at 30/60 USD per 1M, one openai channel to the fake, one token; (id, key)."""
    db = await open_database(db_url)
    try:
        await ensure_admin(db)
        async with db.transaction() as tx:
            await set_price(tx, "gpt-4", parse_usd("30"), parse_usd("60"))
        await add_channel(
            db,
            SecretBox.from_passphrase(SECRET),
            type="openai",
            name="fake",
            key=upstream.key,
            base_url=upstream.base_url,
            models=["gpt-4"],
        )
        token, key = await create_token(
            db, "test", quota_units=parse_usd(quota, allow_unlimited=True)
        )
        return token.id, key
    finally:
        await db.close()


async def rotated_admin_key(db_url: str) -> RotatedKey:
    """A known key for the first-run admin key (the seed never saw its printed one)."""
    db = await open_database(db_url)
    try:
        return await rotate_admin_key(db)
    finally:
        await db.close()


@asynccontextmanager
async def running_router(
    tmp_path,
    upstream: FakeOpenAI,
    quota: str = "-1",
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
    db_url: str | None = None,
    **settings: object,
) -> AsyncIterator[RunningRouter]:
    """A router on a free port; ``settings`` override fields of burncloud.config.Settings,
    ``wrap`` puts ASGI middleware around the app (to disturb what Hypercorn does);
    ``db_url`` an empty database to use instead of a SQLite file in ``tmp_path``."""
    db_url = db_url or f"sqlite:///{tmp_path}/router.db"
    token_id, key = await seed(db_url, upstream, quota)
    admin = await rotated_admin_key(db_url)
    async with serving(db_url, wrap, **settings) as base_url:
        yield RunningRouter(base_url, key, token_id, db_url, admin.key, admin.token_id)


@asynccontextmanager
async def serving(
    db_url: str, wrap: Callable[[ASGIApp], ASGIApp] | None = None, **settings: object
) -> AsyncIterator[str]:
    """A router on a free port serving the database at ``db_url`` as it is (channel keys
    sealed with ``SECRET``); yields its SDK-style base URL, ending in /v1."""
    port = free_port()
    settings.setdefault("config_poll_seconds", CONFIG_POLL_SECONDS)
    # Tests seed log rows dated years back; the hourly pruner's first round (as the worker
    # starts, or later on a busy machine) would delete them under the test. Pruning has
    # its own tests (tests/services/test_log_retention.py).
    settings.setdefault("log_retention_days", 0)
    # Balance checks have their own tests; here they would race tests adding channels.
    settings.setdefault("balance_every", 0)
    config_settings = Settings(
        host="127.0.0.1", port=port, database_url=db_url, secret=SECRET, **settings
    )
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.backlog = BACKLOG  # as `burncloud router` listens: a burst of connects queues
    config.accesslog = None
    stop = asyncio.Event()
    app = create_app(config_settings)
    server = asyncio.create_task(
        serve(app if wrap is None else wrap(app), config, shutdown_trigger=stop.wait)
    )
    try:
        await _wait_for_port(port)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop.set()
        await server


async def _wait_for_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise TimeoutError(f"router did not listen on {port}")


async def point_channel_at(
    router: RunningRouter, channel_type: str, base_url: str, key: str, **fields: object
) -> None:
    """Turn the seeded channel into one of ``channel_type`` at ``base_url`` (plus other
    ``update_channel`` fields such as ``model_map`` or ``config``); wait for reload."""
    db = await open_database(router.db_url)
    try:
        await update_channel(
            db,
            SecretBox.from_passphrase(SECRET),
            1,
            type=channel_type,
            base_url=base_url,
            key=key,
            **fields,  # type: ignore[arg-type]
        )
    finally:
        await db.close()
    await wait_for_reload(router)


async def wait_for_reload(router: RunningRouter, within: float = 10.0) -> None:
    """Wait until the router serves the database's current configuration version."""
    db = await open_database(router.db_url)
    try:
        version = await read_config_version(db)
    finally:
        await db.close()
    health = router.base_url.removesuffix("/v1") + "/healthz"
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient() as client:
        while (await client.get(health)).json()["config_version"] < version:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the router did not reload version {version}")
            await asyncio.sleep(CONFIG_POLL_SECONDS / 2)


async def logged_rows(db_url: str) -> list[dict]:
    """Every log row, oldest first."""
    db = await open_database(db_url)
    try:
        return await db.fetch_all("SELECT * FROM logs ORDER BY id")
    finally:
        await db.close()


async def rows_once_logged(db_url: str, count: int, within: float = 10.0) -> list[dict]:
    """The log rows, oldest first, once at least ``count`` of them are written (a running
    router writes them in batches, a fraction of a second after the answers)."""
    deadline = time.monotonic() + within
    while len(rows := await logged_rows(db_url)) < count:
        assert time.monotonic() < deadline, f"{len(rows)} of {count} log rows after {within} s"
        await asyncio.sleep(0.05)
    return rows
