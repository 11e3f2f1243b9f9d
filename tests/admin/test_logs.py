"""/api/logs: filters, newest-first keyset pages, offsets, the limit cap, and no injection."""

from __future__ import annotations

import pytest

from tests.admin.conftest import client, eventually

T0 = 1_700_000_000
ROWS = 30


def _row(i: int) -> dict:
    """Log row i: two rows per second, so pages must break ties by id."""
    return {
        "created_at": T0 + i // 2,
        "request_id": f"req-{i}",
        "user_id": 1 + i % 2,
        "token_id": 1 + i % 3,
        "channel_id": 1 + i % 5,
        "model": "gpt-4" if i % 2 else "gpt-4o",
        "endpoint": "/v1/chat/completions",
        "prompt_tokens": 100,
        "completion_tokens": i,
        "cached_tokens": 0,
        "cost": (i * 7919) % 1000 * 1_000,
        "latency_ms": 100 + i,
        "ttft_ms": None if i % 4 else 20,
        "status": 500 if i % 10 == 9 else 200,
        "stream": i % 2,
        "estimated": 0,
        "error": "upstream failed" if i % 10 == 9 else "",
    }


async def _seed(db, rows: list[dict]) -> None:
    columns = list(rows[0])
    async with db.transaction() as tx:
        await tx.execute_many(
            f"INSERT INTO logs ({', '.join(columns)}) VALUES"
            f" ({', '.join(':' + c for c in columns)})",
            rows,
        )


@pytest.fixture
async def seeded(router_db) -> list[dict]:
    """The seeded rows with their ids, newest first (created_at, then id, descending)."""
    rows = [_row(i) for i in range(ROWS)]
    await _seed(router_db, rows)
    stored = await router_db.fetch_all("SELECT * FROM logs")
    return sorted(stored, key=lambda r: (r["created_at"], r["id"]), reverse=True)


async def _ids(admin, params: dict) -> list[int]:
    reply = await admin.get("/api/logs", params=params)
    assert reply.status_code == 200, reply.text
    return [entry["id"] for entry in reply.json()["data"]]


async def test_logs_come_newest_first_with_money_as_decimal_strings(admin, seeded) -> None:
    reply = (await admin.get("/api/logs")).json()
    assert [e["id"] for e in reply["data"]] == [r["id"] for r in seeded]
    assert reply["next"] is None
    newest = reply["data"][0]
    source = seeded[0]
    assert newest["request_id"] == source["request_id"] == "req-29"
    assert newest["cost"] == "0.000651"  # 651_000 nano-USD
    assert (newest["stream"], newest["estimated"]) == (True, False)
    assert newest["status"] == 500 and newest["error"] == "upstream failed"


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"since": T0 + 10}, lambda r: r["created_at"] >= T0 + 10),
        ({"until": T0 + 3}, lambda r: r["created_at"] < T0 + 3),
        ({"since": T0 + 2, "until": T0 + 5}, lambda r: T0 + 2 <= r["created_at"] < T0 + 5),
        ({"model": "gpt-4"}, lambda r: r["model"] == "gpt-4"),
        ({"token_id": 2}, lambda r: r["token_id"] == 2),
        ({"user_id": 1}, lambda r: r["user_id"] == 1),
        ({"channel_id": 5}, lambda r: r["channel_id"] == 5),
        ({"status": 500}, lambda r: r["status"] == 500),
        ({"request_id": "req-7"}, lambda r: r["request_id"] == "req-7"),
        (
            {"model": "gpt-4o", "token_id": 1, "status": 200},
            lambda r: (r["model"], r["token_id"], r["status"]) == ("gpt-4o", 1, 200),
        ),
    ],
)
async def test_filters_select_exactly_the_matching_rows(admin, seeded, params, keep) -> None:
    expected = [r["id"] for r in seeded if keep(r)]
    assert expected  # each case matches something, so an ignored filter would show
    assert await _ids(admin, params) == expected


async def test_cursor_pages_cover_every_row_once_even_as_new_rows_arrive(
    admin, router_db, seeded
) -> None:
    seen: list[int] = []
    params: dict = {"limit": 7}
    pages = 0
    while True:
        reply = (await admin.get("/api/logs", params=params)).json()
        seen += [entry["id"] for entry in reply["data"]]
        pages += 1
        if pages == 1:
            await _seed(router_db, [{**_row(99), "created_at": T0 + 1000}])
        if reply["next"] is None:
            break
        params["cursor"] = reply["next"]
    assert seen == [r["id"] for r in seeded]
    assert pages == 5


async def test_cursor_pages_keep_the_other_filters_and_sorts(admin, seeded) -> None:
    expected = sorted(
        (r for r in seeded if r["model"] == "gpt-4"), key=lambda r: (r["cost"], r["id"])
    )
    params: dict = {"model": "gpt-4", "sort": "cost", "order": "asc", "limit": 4}
    seen: list[int] = []
    while True:
        reply = (await admin.get("/api/logs", params=params)).json()
        seen += [entry["id"] for entry in reply["data"]]
        if reply["next"] is None:
            break
        params["cursor"] = reply["next"]
    assert seen == [r["id"] for r in expected]


async def test_offset_pages(admin, seeded) -> None:
    ids = [r["id"] for r in seeded]
    assert await _ids(admin, {"limit": 10, "offset": 10}) == ids[10:20]
    assert await _ids(admin, {"limit": 10, "offset": 25}) == ids[25:]
    assert await _ids(admin, {"offset": 100}) == []


async def test_the_limit_is_capped_at_1000(admin, router_db) -> None:
    await _seed(router_db, [_row(i) for i in range(1005)])
    reply = (await admin.get("/api/logs", params={"limit": 5000})).json()
    assert len(reply["data"]) == 1000 and reply["next"] is not None
    rest = (await admin.get("/api/logs", params={"limit": 5000, "cursor": reply["next"]})).json()
    assert len(rest["data"]) == 5 and rest["next"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": "ten"},
        {"offset": -1},
        {"since": "yesterday"},
        {"token_id": "1 OR 1=1"},
        {"status": "200; DROP TABLE logs"},
        {"since": "99999999999999999999999"},
        {"cursor": "garbage"},
        {"cursor": "1_2; DROP TABLE logs"},
        {"cursor": "99999999999999999999_1"},
        {"sort": "id; DROP TABLE logs"},
        {"sort": "error"},
        {"order": "sideways"},
    ],
)
async def test_bad_parameters_are_400_and_harmless(admin, router_db, seeded, params) -> None:
    reply = await admin.get("/api/logs", params=params)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "invalid_request"
    assert await router_db.fetch_value("SELECT COUNT(*) FROM logs") == ROWS


@pytest.mark.parametrize(
    "params",
    [
        {"model": "x' OR 1=1 --"},
        {"model": "gpt-4' OR '1'='1"},
        {"request_id": "'; DROP TABLE logs; --"},
        {"model": 'gpt-4"; DELETE FROM logs; --'},
    ],
)
async def test_sql_in_filters_matches_nothing_and_changes_nothing(
    admin, router_db, seeded, params
) -> None:
    reply = await admin.get("/api/logs", params=params)
    assert reply.status_code == 200
    assert reply.json() == {"data": [], "next": None}
    assert await router_db.fetch_value("SELECT COUNT(*) FROM logs") == ROWS
    assert await router_db.fetch_value("SELECT COUNT(*) FROM users") == 1


async def test_requests_through_the_router_are_listed(router, admin) -> None:
    async with client(router, router.key) as http:
        sent = await http.post(
            "/v1/chat/completions",
            json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]},
            headers={"X-Request-ID": "trace-me"},
        )
    assert sent.status_code == 200

    async def logged() -> bool:
        return bool(await _ids(admin, {"request_id": "trace-me"}))

    await eventually(logged)
    (entry,) = (await admin.get("/api/logs", params={"token_id": router.token_id})).json()["data"]
    assert (entry["model"], entry["status"], entry["cost"]) == ("gpt-4", 200, "0.015")
    assert (entry["prompt_tokens"], entry["completion_tokens"]) == (100, 200)
