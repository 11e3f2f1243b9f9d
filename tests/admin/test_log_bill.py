"""GET /api/logs/{request_id}: the logged request's bill, as `burncloud log show --json`."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from burncloud.money import parse_usd
from burncloud.services.pricing import cost
from tests.services.test_log_bills import SONNET, USAGE, log_row, save_version, usage_columns


async def test_the_bill_has_usage_by_kind_lines_cost_upstream_cost_and_margin(
    admin, router_db
) -> None:
    version = await save_version(router_db, SONNET)
    paid = cost(USAGE, SONNET, Decimal("1.5"))
    row = usage_columns(USAGE) | {"cost": paid, "upstream_cost": parse_usd("0.02")}
    await log_row(router_db, "req-1", price_version=version, **row)
    reply = await admin.get("/api/logs/req-1")
    assert reply.status_code == 200, reply.text
    bill = reply.json()
    assert bill["usage"] == {
        "prompt_tokens": 3_400,
        "completion_tokens": 500,
        "cached_tokens": 1_000,
        "cache_write_tokens": 2_300,
        "cache_write_1h_tokens": 1_000,
        "reasoning_tokens": 20,
        "audio_input_tokens": 0,
        "audio_output_tokens": 0,
        "image_input_tokens": 0,
        "image_output_tokens": 0,
    }
    assert bill["units"] == [{"per": "call", "quantity": "2", "variant": "web_search"}]
    assert bill["price_version"] == version
    assert [(line["kind"], line["usd"]) for line in bill["lines"]] == [
        ("input", "0.0003"),
        ("cached", "0.0003"),
        ("cache_write", "0.004875"),
        ("cache_write_1h", "0.006"),
        ("output", "0.0075"),
        ("call", "0.02"),
    ]
    assert bill["lines"][2]["text"] == "1,300 cache-write tokens x $3.75/1M = $0.004875"
    assert bill["lines"][2]["rate"] == "3.75" and bill["lines"][2]["block"] == 1_000_000
    assert all(line["exact"] for line in bill["lines"])
    assert (bill["subtotal"], bill["group_ratio"], bill["cost"]) == ("0.038975", "1.5", "0.0584625")
    assert (bill["upstream_cost"], bill["margin"], bill["margin_share"]) == (
        "0.02",
        "0.0384625",
        "65.8%",
    )


async def test_any_request_id_is_found_and_an_unknown_one_is_404(admin, router_db) -> None:
    odd = "a/b?c%d#e"
    await log_row(router_db, odd, cost=5)
    reply = await admin.get("/api/logs/" + quote(odd, safe=""))
    assert reply.status_code == 200, reply.text
    assert (reply.json()["request_id"], reply.json()["lines"]) == (odd, [])
    missing = await admin.get("/api/logs/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "message": "no logged request with id 'nope'",
        "type": "not_found_error",
        "code": "not_found",
    }
