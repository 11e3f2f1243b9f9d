"""The Responses API's stored state on SQLite and PostgreSQL: ownership, expiry, pruning,
the size bound, and input_items pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from burncloud.config import Settings
from burncloud.db import Database
from burncloud.errors import ConfigError, InvalidRequest
from burncloud.services import response_store
from burncloud.services.response_store import (
    DAY,
    PreviousResponseNotFound,
    ResponseNotFound,
    StoredResponse,
    delete,
    find,
    input_items_page,
    items_of_input,
    normalize_items,
    prune,
    remember_passthrough,
    save_converted,
)
from burncloud.services.users import create_user
from tests.gateway.quota_db import BACKENDS, database_factory

T0 = 1_800_000_000
RETENTION = 30
ANSWER = {
    "id": "resp_a",
    "object": "response",
    "model": "claude-x",
    "output": [
        {
            "id": "msg_out",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hi!", "annotations": []}],
        }
    ],
}


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with database_factory(request.param, tmp_path) as connect:
        yield await connect()


@pytest.fixture
async def users(db: Database) -> tuple[int, int]:
    """Two users' ids: alice's and bob's."""
    async with db.transaction() as tx:
        alice = await create_user(tx, name="alice")
        bob = await create_user(tx, name="bob")
    return alice.id, bob.id


async def _save(db: Database, user: int, response_id: str = "resp_a", now: int = T0) -> bool:
    items = items_of_input("Hello")
    answer = {**ANSWER, "id": response_id}
    return await save_converted(db, response_id, user, 7, 3, items, answer, now, RETENTION)


async def test_a_converted_response_comes_back_whole_with_typed_items(
    db: Database, users: tuple[int, int]
) -> None:
    alice, _ = users
    assert await _save(db, alice)
    stored = await find(db, "resp_a", alice, now=T0 + 1)
    assert stored is not None and stored.converted
    assert (stored.user_id, stored.token_id, stored.channel_id) == (alice, 7, 3)
    assert (stored.created_at, stored.expires_at) == (T0, T0 + RETENTION * DAY)
    assert stored.response == ANSWER
    [item] = stored.input_items
    assert item["id"].startswith("msg_") and len(item["id"]) == 52
    assert {k: v for k, v in item.items() if k != "id"} == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Hello"}],
        "status": "completed",
    }
    assert stored.history() == [item, *ANSWER["output"]]


async def test_a_passthrough_response_holds_only_its_channel(
    db: Database, users: tuple[int, int]
) -> None:
    alice, _ = users
    await remember_passthrough(db, "resp_up", alice, 7, 5, T0, RETENTION)
    stored = await find(db, "resp_up", alice, now=T0)
    assert stored == StoredResponse("resp_up", alice, 7, 5, "passthrough", T0, T0 + 30 * DAY)
    assert not stored.converted and stored.history() == []


async def test_another_users_response_can_be_neither_read_nor_deleted(
    db: Database, users: tuple[int, int]
) -> None:
    alice, bob = users
    await _save(db, alice)
    assert await find(db, "resp_a", bob, now=T0) is None
    assert not await delete(db, "resp_a", bob, now=T0)
    assert await find(db, "resp_a", alice, now=T0) is not None
    assert await delete(db, "resp_a", alice, now=T0)
    assert await find(db, "resp_a", alice, now=T0) is None
    assert not await delete(db, "resp_a", alice, now=T0)
    assert await find(db, "resp_unknown", alice, now=T0) is None


async def test_a_response_expires_after_the_retention(db: Database, users: tuple[int, int]) -> None:
    alice, _ = users
    await _save(db, alice)
    last_second = T0 + RETENTION * DAY - 1
    assert await find(db, "resp_a", alice, now=last_second) is not None
    assert await find(db, "resp_a", alice, now=last_second + 1) is None
    assert not await delete(db, "resp_a", alice, now=last_second + 1)


async def test_prune_deletes_exactly_the_expired_rows_in_batches(
    db: Database, users: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(response_store, "PRUNE_BATCH", 3)
    alice, bob = users
    for number in range(7):  # expire at T0 + 30 days, saved a day apart going back
        await _save(db, alice, f"resp_old{number}", T0 - number * DAY)
    await remember_passthrough(db, "resp_new", bob, None, 1, T0 + 1, RETENTION)
    await _save(db, bob, "resp_newer", T0 + 2)
    assert await prune(db, T0 + RETENTION * DAY) == 7
    left = await db.fetch_all("SELECT id FROM responses ORDER BY id")
    assert [row["id"] for row in left] == ["resp_new", "resp_newer"]
    assert await prune(db, T0 + RETENTION * DAY) == 0
    assert await prune(db, T0 + RETENTION * DAY + 2) == 2


async def test_a_converted_response_over_the_limit_is_not_stored(
    db: Database, users: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, _ = users
    items = normalize_items("resp_big", items_of_input("Hello"))
    fixed = len(orjson.dumps(items)) + len(orjson.dumps({**ANSWER, "id": "resp_big"}))
    monkeypatch.setattr(response_store, "MAX_STORED_BYTES", fixed)
    assert await _save(db, alice, "resp_big")
    assert await find(db, "resp_big", alice, now=T0) is not None
    monkeypatch.setattr(response_store, "MAX_STORED_BYTES", fixed - 1)
    assert not await _save(db, alice, "resp_big2")
    assert await find(db, "resp_big2", alice, now=T0) is None


async def test_the_default_limit_refuses_eight_mebibytes(
    db: Database, users: tuple[int, int]
) -> None:
    alice, _ = users
    huge = items_of_input("x" * (8 * 1024 * 1024))
    assert not await save_converted(db, "resp_huge", alice, 7, 3, huge, ANSWER, T0, RETENTION)
    assert await db.fetch_value("SELECT COUNT(*) FROM responses") == 0


async def test_saving_again_replaces_the_row(db: Database, users: tuple[int, int]) -> None:
    alice, _ = users
    await remember_passthrough(db, "resp_a", alice, 7, 5, T0, RETENTION)
    await _save(db, alice, now=T0 + 10)
    stored = await find(db, "resp_a", alice, now=T0 + 10)
    assert stored is not None and stored.converted and stored.created_at == T0 + 10


async def test_a_deleted_user_takes_their_responses_along(
    db: Database, users: tuple[int, int]
) -> None:
    alice, bob = users
    await _save(db, alice)
    await _save(db, bob, "resp_b")
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM tokens WHERE user_id = :u", {"u": alice})
        await tx.execute("DELETE FROM users WHERE id = :u", {"u": alice})
    rows = await db.fetch_all("SELECT id FROM responses")
    assert [row["id"] for row in rows] == ["resp_b"]


def test_item_ids_are_deterministic_and_kept_when_given() -> None:
    items: list[dict[str, Any]] = [
        {"role": "user", "content": "one"},
        {"id": "fc_1", "type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "ok"},
        {"role": "assistant", "content": "two"},
    ]
    first = normalize_items("resp_x", items)
    assert normalize_items("resp_x", items) == first
    assert [item["id"] for item in normalize_items("resp_y", items)] != [i["id"] for i in first]
    assert first[1] == items[1]
    assert first[2] == {"id": first[2]["id"], **items[2]}
    assert len({item["id"] for item in first}) == 4
    assert first[3]["content"] == [{"type": "output_text", "text": "two", "annotations": []}]
    assert first[3]["type"] == "message" and first[3]["status"] == "completed"


def _stored(count: int) -> StoredResponse:
    items = tuple({"id": f"msg_{n}", "type": "message"} for n in range(count))
    return StoredResponse("resp_p", 1, None, None, "converted", T0, T0 + DAY, items, ANSWER)


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["data"]]


def test_input_items_are_listed_newest_first_by_default() -> None:
    page = input_items_page(_stored(3))
    assert page == {
        "object": "list",
        "data": [{"id": f"msg_{n}", "type": "message"} for n in (2, 1, 0)],
        "first_id": "msg_2",
        "last_id": "msg_0",
        "has_more": False,
    }


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_after_a_cursor_walk_the_whole_list_once(order: str) -> None:
    stored = _stored(7)
    seen: list[str] = []
    after = None
    while True:
        page = input_items_page(stored, after=after, limit=3, order=order)
        seen += _ids(page)
        if not page["has_more"]:
            break
        after = page["last_id"]
    expected = [f"msg_{n}" for n in range(7)]
    assert seen == (expected if order == "asc" else expected[::-1])


def test_before_gives_the_page_nearest_the_cursor() -> None:
    stored = _stored(7)
    page = input_items_page(stored, before="msg_5", limit=2, order="asc")
    assert _ids(page) == ["msg_3", "msg_4"] and page["has_more"]
    page = input_items_page(stored, after="msg_1", before="msg_5", limit=5, order="asc")
    assert _ids(page) == ["msg_2", "msg_3", "msg_4"] and not page["has_more"]
    page = input_items_page(stored, before="msg_0", order="asc")
    assert page["data"] == [] and page["first_id"] is None and not page["has_more"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"order": "newest"}, "order"),
        ({"after": "msg_nope"}, "after"),
        ({"before": "msg_nope"}, "before"),
    ],
)
def test_bad_page_requests_are_refused(options: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidRequest, match=f"'{named}'"):
        input_items_page(_stored(2), **options)


def test_a_page_of_a_hundred_is_allowed() -> None:
    page = input_items_page(_stored(150), limit=100)
    assert len(page["data"]) == 100 and page["has_more"]


def test_not_found_errors_have_openais_messages_in_the_error_shape() -> None:
    assert ResponseNotFound("resp_1").status == 404
    assert ResponseNotFound("resp_1").to_body() == {
        "error": {
            "message": "Response with id 'resp_1' not found.",
            "type": "invalid_request_error",
            "code": "not_found",
        }
    }
    previous = PreviousResponseNotFound("resp_2")
    assert previous.status == 400
    assert previous.to_body() == {
        "error": {
            "message": "Previous response with id 'resp_2' not found.",
            "type": "invalid_request_error",
            "code": "previous_response_not_found",
        }
    }


def test_an_id_in_an_error_is_printable_and_short() -> None:
    message = ResponseNotFound("resp_\x1b[31m" + "a" * 500).message
    assert "\x1b" not in message and len(message) < 200


def test_the_retention_is_thirty_days_unless_the_environment_says_otherwise() -> None:
    name = "BURNCLOUD_RESPONSE_RETENTION_DAYS"
    assert Settings.from_env({}).response_retention_days == 30
    assert Settings.from_env({name: "7"}).response_retention_days == 7
    for bad in ("0", "-3", "a week"):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: bad})
