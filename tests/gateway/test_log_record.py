"""A log row carries every kind's quantity, the per-unit quantities, the price version and
the upstream cost: written by the log writer, kept by a spill, filled by the exchange."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from burncloud.db import Database
from burncloud.gateway.billing.ledger import Ledger
from burncloud.gateway.billing.log_spill import SpillPlace, read_spill, write_spill
from burncloud.gateway.billing.logwriter import LogRecord, LogWriter
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.exchange import Exchange
from burncloud.services.logged_usage import decode_units, usage_of_row
from burncloud.services.pricing import UnitUse, Usage
from tests.gateway.quota_db import BACKENDS, database_factory, log_record, make_caller

A = 1_000_000
KINDS = {
    "cache_write_tokens": 300,
    "cache_write_1h_tokens": 100,
    "reasoning_tokens": 7,
    "audio_input_tokens": 11,
    "audio_output_tokens": 13,
    "image_input_tokens": 17,
    "image_output_tokens": 19,
}
UNITS = '[{"per":"call","quantity":"2","variant":"web_search"}]'


@pytest.fixture(params=BACKENDS)
async def qdb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with database_factory(request.param, tmp_path) as connect:
        yield await connect()


async def test_the_writer_stores_every_kind_units_version_and_upstream_cost(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=-1, balance=-1)
    full = dataclasses.replace(
        log_record(token, user, 5 * A, None),
        upstream_cost=2 * A + 1,
        units=UNITS,
        price_version=42,
        **KINDS,
    )
    bare = log_record(token, user, 3 * A, None)  # built as before: the defaults
    writer = LogWriter(qdb, Ledger(qdb, "w1", prefill_requests=0))
    for record in (full, bare):
        writer.submit(record)
    assert await writer.flush() == 2
    columns = ", ".join([*KINDS, "units", "price_version", "upstream_cost", "cost"])
    rows = await qdb.fetch_all(f"SELECT {columns} FROM logs ORDER BY id")
    assert rows[0] == {
        **KINDS,
        "units": UNITS,
        "price_version": 42,
        "upstream_cost": 2 * A + 1,
        "cost": 5 * A,
    }
    assert rows[1] == {
        **dict.fromkeys(KINDS, 0),
        "units": "",
        "price_version": None,
        "upstream_cost": None,
        "cost": 3 * A,
    }


def test_a_spill_keeps_the_new_fields_and_reads_older_files(tmp_path: Path) -> None:
    full = dataclasses.replace(
        log_record(None, None, A, None), upstream_cost=0, units=UNITS, price_version=3, **KINDS
    )
    place = SpillPlace(tmp_path, "burncloud.db")
    path = write_spill(place, [full])
    assert read_spill(path) == [full]
    # a file written before these fields existed: its rows read with the defaults
    lines = path.read_bytes().splitlines()
    old = orjson.loads(lines[1])
    for name in (*KINDS, "units", "price_version", "upstream_cost"):
        del old[name]
    path.write_bytes(lines[0] + b"\n" + orjson.dumps(old) + b"\n")
    (read,) = read_spill(path)
    assert (read.upstream_cost, read.units, read.price_version) == (None, "", None)
    assert read.cache_write_tokens == 0 and read.cost == A


async def test_the_exchange_logs_the_billed_usage_of_every_kind(qdb: Database) -> None:
    token, user = await make_caller(qdb, quota=-1, balance=-1)
    usage = Usage(
        prompt_tokens=1_000,
        completion_tokens=200,
        cached_tokens=100,
        cache_write_tokens=300,
        cache_write_1h_tokens=100,
        audio_input_tokens=11,
        image_input_tokens=17,
        audio_output_tokens=13,
        image_output_tokens=19,
        reasoning_tokens=7,
        units=(UnitUse("call", Decimal(2), "web_search"), UnitUse("minute", Decimal("12.5"))),
    )
    exchange = Exchange("req-1", caller=Caller(token, user), model="m", channel_id=None)
    exchange.usage, exchange.cost = usage, 4 * A
    exchange.upstream_cost, exchange.price_version = A, 9
    record = exchange.log_record("chat/completions")
    row = record.row()
    assert {name: row[name] for name in KINDS} == KINDS
    assert (row["prompt_tokens"], row["completion_tokens"], row["cached_tokens"]) == (
        1000,
        200,
        100,
    )
    assert (row["price_version"], row["upstream_cost"], row["cost"]) == (9, A, 4 * A)
    assert row["units"] == (
        '[{"per":"call","quantity":"2","variant":"web_search"},'
        '{"per":"minute","quantity":"12.5","variant":""}]'
    )
    assert usage_of_row(row) == usage  # the row reproduces what was billed


async def test_an_exchange_without_usage_logs_no_units_and_unknown_upstream_cost(
    qdb: Database,
) -> None:
    token, user = await make_caller(qdb, quota=-1, balance=-1)
    record = Exchange("req-2", caller=Caller(token, user)).log_record("chat/completions")
    assert (record.units, record.upstream_cost, record.price_version) == ("", None, None)
    assert decode_units(record.units) == ()
    assert isinstance(record, LogRecord) and record.cache_write_tokens == 0


def test_a_records_values_follow_the_columns_one_by_one() -> None:
    """``LogRecord.values`` spells the row out by hand: each value must sit under its own
    column (every field below holds a value no other field has)."""
    fields = {f.name for f in dataclasses.fields(LogRecord)}
    record = LogRecord(
        **{name: f"<{name}>" for name in fields - {"stream", "estimated", "route", "settlement"}},
        stream=True,
        estimated=False,
        route=None,
        settlement=None,
    )
    row = record.row()
    flags = {"stream": 1, "estimated": 0, "route": ""}
    assert row == {column: flags.get(column, f"<{column}>") for column in row}
    assert set(row) == fields - {"settlement"}
