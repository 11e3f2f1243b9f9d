"""A running router with an admin API client, and a way to wait for its hot reload."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from burncloud.db import Database, open_database
from burncloud.money import parse_usd
from burncloud.services.admin_keys import rotate_admin_key
from burncloud.services.tokens import create_token
from burncloud.services.users import add_user
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import RunningRouter, running_router

RELOAD_TIMEOUT = 2.0  # the hot-reload promise: a change reaches the router within 2 s


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait until ``check()`` is true; fail if it is still false after RELOAD_TIMEOUT."""
    deadline = asyncio.get_running_loop().time() + RELOAD_TIMEOUT
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {RELOAD_TIMEOUT} s")
        await asyncio.sleep(0.05)


def client(router: RunningRouter, key: str | None) -> httpx.AsyncClient:
    """An HTTP client for the router's root, sending ``key`` as a Bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    root = router.base_url.removesuffix("/v1")
    return httpx.AsyncClient(base_url=root, headers=headers, timeout=10)


async def wait_for_key(router: RunningRouter, key: str, status: int) -> None:
    """Wait until the router answers ``key`` on the admin API with ``status``."""

    async def answered() -> bool:
        async with client(router, key) as http:
            return (await http.get("/api/groups")).status_code == status

    await eventually(answered)


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(
        "sk-upstream-secret-key", prompt_tokens=100, completion_tokens=200
    ) as fake:
        yield fake


@pytest.fixture
async def router(tmp_path, upstream: FakeOpenAI) -> AsyncIterator[RunningRouter]:
    async with running_router(tmp_path, upstream) as running:
        yield running


@pytest.fixture
async def router_db(router: RunningRouter) -> AsyncIterator[Database]:
    """A second connection to the router's database, for seeding and checking."""
    db = await open_database(router.db_url)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def admin_key(router: RunningRouter, router_db: Database) -> str:
    """The admin key as `burncloud admin-key rotate` makes it, once the router knows it."""
    key = (await rotate_admin_key(router_db)).key
    await wait_for_key(router, key, 200)
    return key


@pytest.fixture
async def user_key(router: RunningRouter, router_db: Database) -> str:
    """A working API key of an ordinary (non-admin) user, once the router knows it."""
    await add_user(router_db, name="alice", balance=parse_usd("5"))
    _, key = await create_token(router_db, "alice-key", user_ref="alice")
    await wait_for_key(router, key, 403)
    return key


@pytest.fixture
async def admin(router: RunningRouter) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with the harness's admin key (admin-scoped: /api/ only)."""
    async with client(router, router.admin_key) as http:
        yield http
