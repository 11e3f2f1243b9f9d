"""Admin writes on a database that cannot take them answer 503 service_unavailable in the
error shape, never a bare 500: the engine's error is translated where it enters our code.

SQLite is made to refuse writes from inside the router's own connection, as a full or
read-only disk would: ``PRAGMA query_only`` gives the engine's read-only error and
``PRAGMA max_page_count`` (capped at the pages in use) its disk-full error. (The test may
run as root, whom a chmod does not stop.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.admin.conftest import client
from tests.fakes import FakeOpenAI
from tests.faults.harness import AppHandle
from tests.gateway.router_harness import running_router


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI("sk-upstream-secret-key") as fake:
        yield fake


@pytest.mark.parametrize(
    ("pragma", "reason"),
    [
        ("PRAGMA query_only = 1", "the database is read-only"),
        ("PRAGMA max_page_count = 1", "the database's disk is full"),
    ],
)
async def test_an_admin_write_the_disk_refuses_is_503_in_the_error_shape(
    tmp_path, upstream: FakeOpenAI, pragma: str, reason: str
) -> None:
    handle = AppHandle()
    async with running_router(tmp_path, upstream, wrap=handle.wrap) as router:
        (app,) = handle.apps
        await app.runtime.db.execute(pragma)
        async with client(router, router.admin_key) as admin:
            # 500 codes need new pages: a full disk cannot give them
            response = await admin.post("/api/redemptions", json={"quota": "1", "count": 500})
            assert response.status_code == 503, response.text
            assert response.json() == {
                "error": {"message": reason, "type": "server_error", "code": "service_unavailable"}
            }
            assert (await admin.get("/api/redemptions")).json() == {"data": []}  # reads work
