"""The peer database fixtures, for the builders' own tests."""

from tests.peers.fixtures import (  # noqa: F401 (fixtures)
    peer_db,
    peer_db_factory,
    peer_engine,
    peer_flavor,
)
