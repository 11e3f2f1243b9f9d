"""Spill files: log rows a stopping router could not write, replayed into the database
exactly once by the next start, billed as the log writer would have billed them."""

from __future__ import annotations

import dataclasses
import logging
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from burncloud.config import Settings
from burncloud.db import Database
from burncloud.gateway.billing.ledger import Ledger
from burncloud.gateway.billing.log_spill import (
    SpillPlace,
    read_spill,
    replay_spills,
    spill_place,
    write_spill,
)
from burncloud.gateway.billing.logwriter import LogRecord, LogWriter
from burncloud.gateway.route_trace import RouteTrace
from burncloud.services.leases import sweep_expired_leases
from tests.gateway.quota_db import (
    BACKENDS,
    BrokenDb,
    OpenDb,
    database_factory,
    log_record,
    logged_cost,
    make_caller,
    make_channel,
    money,
)

A = 1_000_000


@pytest.fixture(params=BACKENDS)
async def open_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenDb]:
    async with database_factory(request.param, tmp_path) as connect:
        yield connect


@pytest.fixture
async def qdb(open_db: OpenDb) -> Database:
    return await open_db()


@pytest.fixture
def place(tmp_path: Path) -> SpillPlace:
    folder = tmp_path / "spill"
    folder.mkdir()
    return SpillPlace(folder, "burncloud.db")


async def settled_rows(db: Database, count: int) -> tuple[list[LogRecord], object, object]:
    """``count`` requests of one caller, settled on leases (of a router now gone) and not
    yet written; (rows, token, user)."""
    token, user = await make_caller(db, quota=100 * A, balance=100 * A)
    channel = await make_channel(db)
    ledger = Ledger(db, "gone-router", prefill_requests=0)
    rows = []
    for n in range(count):
        settlement = ledger.settle(await ledger.reserve(token, user, 3 * A), A + n)
        record = log_record(token, user, A + n, settlement, channel_id=channel)
        trace = RouteTrace(candidates=[{"id": channel, "priority": 0, "weight": 1}])
        trace.attempts.append({"id": channel, "status": 200, "ms": 5, "error": ""})
        rows.append(dataclasses.replace(record, route=trace))
    return rows, token, user


async def test_a_spill_file_is_private_and_holds_the_rows_exactly(
    qdb: Database, place: SpillPlace
) -> None:
    rows, _, _ = await settled_rows(qdb, 3)
    path = write_spill(place, rows)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.name.startswith("burncloud.db.spill.") and path.suffix == ".jsonl"
    assert read_spill(path) == rows
    assert place.files() == [path]


async def test_replay_writes_and_bills_the_rows_once(qdb: Database, place: SpillPlace) -> None:
    rows, token, user = await settled_rows(qdb, 4)
    write_spill(place, rows)
    assert await replay_spills(qdb, place) == 4
    assert place.files() == []
    assert await replay_spills(qdb, place) == 0
    cost = sum(row.cost for row in rows)
    assert await logged_cost(qdb, "token_id", token.id) == cost
    await sweep_expired_leases(qdb, now=2**40)  # the stopped router's leases go back
    books = await money(qdb, token, user)
    assert (books["quota"], books["token_used"]) == (100 * A - cost, cost)
    assert (books["balance"], books["user_used"]) == (100 * A - cost, cost)


async def test_a_replay_interrupted_before_removing_the_file_is_not_repeated(
    qdb: Database, place: SpillPlace
) -> None:
    rows, token, _ = await settled_rows(qdb, 2)
    path = write_spill(place, rows)
    kept = path.read_bytes()
    assert await replay_spills(qdb, place) == 2
    path.write_bytes(kept)  # as if the process died between the commit and the unlink
    assert await replay_spills(qdb, place) == 0
    assert place.files() == []
    assert await logged_cost(qdb, "token_id", token.id) == sum(row.cost for row in rows)


async def test_an_unreadable_spill_file_is_left_in_place_and_named(
    qdb: Database, place: SpillPlace, caplog: pytest.LogCaptureFixture
) -> None:
    rows, _, _ = await settled_rows(qdb, 2)
    path = write_spill(place, rows)
    path.write_bytes(path.read_bytes()[:-40])  # cut short by hand
    with caplog.at_level(logging.ERROR, "burncloud.logspill"):
        assert await replay_spills(qdb, place) == 0
    assert place.files() == [path]
    assert str(path) in caplog.text


def test_spills_lie_beside_sqlite_or_in_the_configured_folder(tmp_path: Path) -> None:
    beside = spill_place(Settings(database_url=f"sqlite:///{tmp_path}/a.db"))
    assert (beside.directory, beside.stem) == (tmp_path, "a.db")
    chosen = spill_place(
        Settings(database_url="postgresql://db/x", spill_dir=str(tmp_path / "spills"))
    )
    assert chosen.directory == tmp_path / "spills" and chosen.stem.startswith("burncloud-")
    other = spill_place(Settings(database_url="postgresql://db/y", spill_dir=str(tmp_path)))
    assert other.stem != chosen.stem  # two databases never replay each other's rows


async def test_the_writer_says_why_it_is_failing_until_a_flush_succeeds(open_db: OpenDb) -> None:
    db = await open_db()
    token, user = await make_caller(db, quota=-1, balance=-1)
    broken = BrokenDb(db, failures=1)
    writer = LogWriter(broken, Ledger(db, "w", prefill_requests=0))
    writer.submit(log_record(token, user, A, None))
    assert writer.failing is None
    assert not await writer._try_flush()
    assert writer.failing == "the database cannot be reached"  # ConnectionError, translated
    assert await writer._try_flush()
    assert writer.failing is None and writer.pending == 0


def test_no_partial_file_is_taken_for_a_spill(place: SpillPlace) -> None:
    (place.directory / "burncloud.db.spill.1.ab.jsonl.partial").write_bytes(b"{}\n")
    assert place.files() == []
