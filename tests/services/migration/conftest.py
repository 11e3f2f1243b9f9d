"""The importers' tests read One API / New API databases built by tests/peers."""

from tests.peers.fixtures import (  # noqa: F401 (fixtures)
    peer_db,
    peer_db_factory,
    peer_engine,
    peer_flavor,
)
