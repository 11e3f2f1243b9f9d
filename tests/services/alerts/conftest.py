"""Alert tests run on SQLite and PostgreSQL; hooks are sealed with one test box."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from tests.gateway.quota_db import BACKENDS, OpenDb, database_factory

BOX = SecretBox.from_passphrase("test-secret")
T0 = 1_800_000_000  # a fixed "now" (2027-01-15)


@pytest.fixture(params=BACKENDS)
async def connect(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenDb]:
    """Opens connections to one fresh database (two of them are two routers)."""
    async with database_factory(request.param, tmp_path) as opener:
        yield opener


@pytest.fixture
async def db(connect: OpenDb) -> Database:
    return await connect()
