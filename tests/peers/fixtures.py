"""Pytest fixtures for peer databases; a test folder uses them by importing them into its
conftest.py (``from tests.peers.fixtures import peer_db, peer_db_factory, ...``).

``peer_db`` is one fresh peer database per test, parametrised over the flavours
(``peer_flavor``: oneapi, newapi) and the engines (``peer_engine``: sqlite, mysql,
postgresql); narrow it with ``@pytest.mark.parametrize("peer_flavor", ["oneapi"])`` or
``@pytest.mark.parametrize("peer_engine", ["sqlite"])``. ``peer_db_factory`` builds more
(``await make("newapi", "mysql")``). MariaDB and PostgreSQL cases skip where the server is
unreachable, and fail instead where it is promised (tests/peers/servers.py). Every database
made is dropped after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers.build import build_peer_database, drop_peer_database
from tests.peers.facts import PeerFacts, peer_facts
from tests.peers.servers import new_database_name, require_server

PEER_FLAVORS = ("oneapi", "newapi")
PEER_ENGINES = ("sqlite", "mysql", "postgresql")


@dataclass(frozen=True, slots=True)
class PeerDb:
    """A built peer database: its DSN and the facts written into it."""

    flavor: str
    engine: str
    dsn: str
    facts: PeerFacts


MakePeerDb = Callable[[str, str], Awaitable[PeerDb]]


@pytest.fixture(params=PEER_FLAVORS)
def peer_flavor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=PEER_ENGINES)
def peer_engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def peer_db_factory(tmp_path: Path) -> AsyncIterator[MakePeerDb]:
    """``await make(flavor, engine)``: a new peer database, dropped after the test."""
    made: list[PeerDb] = []

    async def make(flavor: str, engine: str) -> PeerDb:
        await require_server(engine)
        facts = peer_facts(flavor)
        target = tmp_path / f"{flavor}-{len(made)}" if engine == "sqlite" else new_database_name()
        dsn = await build_peer_database(flavor, engine, target, facts)
        peer = PeerDb(flavor, engine, dsn, facts)
        made.append(peer)
        return peer

    try:
        yield make
    finally:
        for peer in made:
            await drop_peer_database(peer.engine, peer.dsn)


@pytest.fixture
async def peer_db(peer_flavor: str, peer_engine: str, peer_db_factory: MakePeerDb) -> PeerDb:
    """A fresh peer database of ``peer_flavor`` on ``peer_engine``."""
    return await peer_db_factory(peer_flavor, peer_engine)
