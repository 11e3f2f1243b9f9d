"""POST /api/bill-replay: `burncloud bill replay` over HTTP; nothing is written."""

from __future__ import annotations

import time
from decimal import Decimal

from burncloud.money import parse_usd
from burncloud.services.pricing import Price, cost
from tests.services.test_log_bills import SONNET, USAGE, log_row, usage_columns

DEARER = '{"prices": {"claude-sonnet": {"input": "6", "output": "30"}}}'


async def test_a_price_file_replays_the_logged_requests(admin, router_db) -> None:
    paid = cost(USAGE, SONNET, Decimal("1.5"))
    await log_row(
        router_db, "req-1", cost=paid, group_ratio="1.5", created_at=int(time.time()) - 60,
        **usage_columns(USAGE),
    )  # fmt: skip
    reply = await admin.post("/api/bill-replay", params={"by": "model"}, content=DEARER)
    assert reply.status_code == 200, reply.text
    [row] = reply.json()["rows"]
    dearer = Price("claude-sonnet", input=parse_usd("6"), output=parse_usd("30"))
    replayed = cost(USAGE, dearer, Decimal("1.5"))  # at the ratio it was billed with
    assert (row["label"], row["requests"]) == ("claude-sonnet", 1)
    assert parse_usd(row["logged_revenue"]) == paid
    assert parse_usd(row["replayed_revenue"]) == replayed
    rows = await router_db.fetch_all("SELECT cost FROM logs")
    assert rows == [{"cost": paid}]  # nothing changed


async def test_an_old_window_or_a_bad_by_is_refused_or_empty(admin, router_db) -> None:
    await log_row(router_db, "old", cost=5, created_at=1_000, **usage_columns(USAGE))
    reply = await admin.post("/api/bill-replay", params={"since": "2000"}, content=DEARER)
    assert reply.status_code == 200 and reply.json()["rows"] == []
    bad = await admin.post("/api/bill-replay", params={"by": "channel"}, content=DEARER)
    assert bad.status_code == 400 and "by must be one of model, user" in bad.text
    broken = await admin.post("/api/bill-replay", content="{not json")
    assert broken.status_code == 400
