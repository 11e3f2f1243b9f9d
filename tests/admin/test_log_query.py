"""services.logs.query_logs on SQLite and PostgreSQL: the same pages from the same SQL."""

from __future__ import annotations

import pytest

from burncloud.errors import InvalidRequest
from burncloud.services.logs import LogFilter, make_cursor, parse_cursor, query_logs
from tests.admin.test_logs import ROWS, T0, _row, _seed
from tests.gateway.quota_db import BACKENDS, database_factory


@pytest.fixture(params=BACKENDS)
async def db(request, tmp_path):
    async with database_factory(request.param, tmp_path) as connect:
        database = await connect()
        await _seed(database, [_row(i) for i in range(ROWS)])
        yield database


async def _all_pages(db, filters: LogFilter | None = None, **options) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = await query_logs(db, filters, cursor=cursor, **options)
        seen += [entry.id for entry in page.entries]
        if page.next is None:
            return seen
        cursor = page.next


async def test_keyset_pages_equal_one_big_page(db) -> None:
    whole = await query_logs(db, limit=1000)
    assert len(whole.entries) == ROWS and whole.next is None
    times = [(e.created_at, e.id) for e in whole.entries]
    assert times == sorted(times, reverse=True)
    assert await _all_pages(db, limit=4) == [e.id for e in whole.entries]
    oldest_first = await _all_pages(db, order="asc", limit=3)
    assert oldest_first == [e.id for e in reversed(whole.entries)]


async def test_filters_combine_and_bind_their_values(db) -> None:
    gpt4 = await _all_pages(db, LogFilter(model="gpt-4", since=T0 + 5), limit=2)
    whole = (await query_logs(db, limit=1000)).entries
    assert gpt4 == [e.id for e in whole if e.model == "gpt-4" and e.created_at >= T0 + 5]
    injected = await query_logs(db, LogFilter(model="x' OR 1=1 --"))
    assert injected.entries == () and injected.next is None
    assert await db.fetch_value("SELECT COUNT(*) FROM logs") == ROWS


async def test_sorting_by_cost_pages_through_ties(db) -> None:
    by_cost = await _all_pages(db, sort="cost", limit=5)
    whole = (await query_logs(db, limit=1000)).entries
    expected = sorted(whole, key=lambda e: (e.cost, e.id), reverse=True)
    assert by_cost == [e.id for e in expected]


def test_a_cursor_names_the_sort_value_and_id() -> None:
    assert parse_cursor("1700000000_42") == (1_700_000_000, 42)
    for bad in ("", "1_", "_1", "a_1", "1_2_3", "-1_2", "１_2", "99999999999999999999_1"):
        with pytest.raises(InvalidRequest):
            parse_cursor(bad)


@pytest.mark.parametrize(
    "filters",
    [{"since": -1}, {"token_id": 2**63}, {"status": True}, {"user_id": "1"}],
)
def test_filters_refuse_what_a_bigint_column_cannot_hold(filters) -> None:
    with pytest.raises(InvalidRequest):
        LogFilter(**filters)


async def test_make_cursor_round_trips(db) -> None:
    entry = (await query_logs(db, limit=1)).entries[0]
    assert parse_cursor(make_cursor(entry)) == (entry.created_at, entry.id)
    assert parse_cursor(make_cursor(entry, "cost")) == (entry.cost, entry.id)
