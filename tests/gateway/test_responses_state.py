"""End to end: GET/DELETE /v1/responses/{id} and GET /v1/responses/{id}/input_items through
a real router, driven by the official openai SDK (httpx where the raw answer matters).

A converted response is answered from its stored row; a passthrough response is asked of
the strict FakeOpenAI channel that made it. Rows are seeded through the store, as the
Responses door writes them once it serves a create."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl

import httpx
import openai
import pytest

from burncloud.db import Database, open_database
from burncloud.gateway.asgi import ASGIApp, Receive, Scope, Send
from burncloud.gateway.doors.responses_state import ResponsesState, serves
from burncloud.server import BurncloudApp
from burncloud.services.channels import disable_channel
from burncloud.services.response_store import (
    DAY,
    find,
    remember_passthrough,
    save_converted,
)
from burncloud.services.tokens import create_token
from burncloud.services.users import add_user
from tests.fakes import FakeOpenAI
from tests.fakes.openai_upstream import event_data, recorded_events
from tests.gateway.router_harness import RunningRouter, logged_rows, running_router, wait_for_reload

T = TypeVar("T")
CHANNEL = 1  # the harness's one channel, to the fake
RETENTION = 30
CONVERSATION = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": "And 3+3?"},
]


def with_state_routes(app: ASGIApp) -> ASGIApp:
    """The router app with the stored-response routes in front (until the server's route
    table has them)."""
    burncloud = cast(BurncloudApp, app)
    state = ResponsesState(burncloud.relay, burncloud.runtime)

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and serves(scope["method"], scope["path"].rstrip("/")):
            await state(scope, receive, send)
            return
        await app(scope, receive, send)

    return routed


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI("sk-canary-upstream-key") as fake:
        yield fake


@asynccontextmanager
async def router_for(tmp_path: Path, upstream: FakeOpenAI) -> AsyncIterator[RunningRouter]:
    async with running_router(tmp_path, upstream) as router:
        yield router


async def in_db(router: RunningRouter, work: Callable[[Database], Awaitable[T]]) -> T:
    db = await open_database(router.db_url)
    try:
        return await work(db)
    finally:
        await db.close()


async def owner(db: Database, token_id: int) -> int:
    return int(await db.fetch_value("SELECT user_id FROM tokens WHERE id = :t", {"t": token_id}))


def recorded_response(response_id: str) -> dict[str, Any]:
    """A real Response object (the recording's ``response.completed``) under ``response_id``."""
    completed = event_data(recorded_events("responses_stream_text.sse")[-1])["response"]
    return {**completed, "id": response_id}


async def seed_converted(router: RunningRouter, response_id: str, days_ago: int = 0) -> None:
    """A converted response of the router key's user, saved ``days_ago``."""

    async def save(db: Database) -> None:
        user = await owner(db, router.token_id)
        saved = int(time.time()) - days_ago * DAY
        answer = recorded_response(response_id)
        assert await save_converted(
            db, response_id, user, router.token_id, CHANNEL, CONVERSATION, answer, saved, 30
        )

    await in_db(router, save)


async def seed_passthrough(router: RunningRouter, upstream: FakeOpenAI) -> str:
    """A response created at the fake (which stores it), remembered for the router key's
    user; its id."""
    direct = openai.AsyncOpenAI(api_key=upstream.key, base_url=upstream.base_url, max_retries=0)
    created = await direct.responses.create(model="gpt-4", input="Hi")
    await direct.close()

    async def remember(db: Database) -> None:
        user = await owner(db, router.token_id)
        now = int(time.time())
        await remember_passthrough(db, created.id, user, router.token_id, CHANNEL, now, 30)

    await in_db(router, remember)
    upstream.reset()
    return created.id


async def second_user_key(router: RunningRouter) -> str:
    async def make(db: Database) -> str:
        await add_user(db, name="bob")
        return (await create_token(db, "bob-key", user_ref="bob"))[1]

    key = await in_db(router, make)
    await wait_for_reload(router)
    return key


def sdk(router: RunningRouter, key: str | None = None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key or router.key, base_url=router.base_url, max_retries=0)


async def call(
    router: RunningRouter, method: str, path: str, key: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or router.key}"} if key != "" else {}
    async with httpx.AsyncClient() as http:
        return await http.request(method, f"{router.base_url}{path}", headers=headers)


def text_of(item: Any) -> str:
    """The text of a message item's first content part."""
    return str(item.content[0].text)


def not_found(response_id: str) -> dict[str, Any]:
    message = f"Response with id '{response_id}' not found."
    return {"error": {"message": message, "type": "invalid_request_error", "code": "not_found"}}


async def test_a_converted_response_is_answered_from_its_row(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        await seed_converted(router, "resp_conv")
        client = sdk(router)
        got = await client.responses.retrieve("resp_conv")
        newest_first = [
            item async for item in client.responses.input_items.list("resp_conv", limit=1)
        ]
        oldest_first = await client.responses.input_items.list("resp_conv", order="asc", limit=2)
        await client.responses.delete("resp_conv")
        with pytest.raises(openai.NotFoundError) as gone:
            await client.responses.retrieve("resp_conv")
        await client.close()
    assert got.model_dump(mode="json", exclude_unset=True) == recorded_response("resp_conv")
    assert [text_of(item) for item in newest_first] == ["And 3+3?", "4.", "What is 2+2?"]
    assert [cast(Any, item).role for item in newest_first] == ["user", "assistant", "user"]
    assert [item.id for item in oldest_first.data] == [i.id for i in newest_first[::-1][:2]]
    assert oldest_first.has_more and cast(Any, oldest_first).last_id == newest_first[1].id
    assert gone.value.body == not_found("resp_conv")["error"]
    assert upstream.request_count == 0


async def test_deleting_a_converted_response_answers_as_openai(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        await seed_converted(router, "resp_conv")
        deleted = await call(router, "DELETE", "/responses/resp_conv")
        again = await call(router, "DELETE", "/responses/resp_conv")
        left = await in_db(router, lambda db: db.fetch_value("SELECT COUNT(*) FROM responses"))
    assert deleted.status_code == 200
    assert deleted.json() == {"id": "resp_conv", "object": "response.deleted", "deleted": True}
    assert (again.status_code, again.json()) == (404, not_found("resp_conv"))
    assert left == 0


async def test_another_users_response_is_a_404_like_an_unknown_one(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        await seed_converted(router, "resp_conv")
        passthrough = await seed_passthrough(router, upstream)
        bob = await second_user_key(router)
        answers = {
            (method, response_id + suffix): await call(
                router, method, f"/responses/{response_id}{suffix}", bob
            )
            for response_id in ("resp_conv", passthrough)
            for method, suffix in (("GET", ""), ("GET", "/input_items"), ("DELETE", ""))
        }
        unknown = await call(router, "GET", "/responses/resp_nobodys")
        client = sdk(router)
        still = await client.responses.retrieve("resp_conv")
        await client.close()
    for (_, path), answer in answers.items():
        response_id = path.removesuffix("/input_items")
        assert (answer.status_code, answer.json()) == (404, not_found(response_id)), path
    assert (unknown.status_code, unknown.json()) == (404, not_found("resp_nobodys"))
    assert still.id == "resp_conv"
    assert upstream.request_count == 0  # bob's calls never reached the channel


async def test_an_expired_response_is_a_404(tmp_path: Path, upstream: FakeOpenAI) -> None:
    async with router_for(tmp_path, upstream) as router:
        await seed_converted(router, "resp_old", days_ago=RETENTION)
        await seed_converted(router, "resp_recent", days_ago=RETENTION - 1)
        old = await call(router, "GET", "/responses/resp_old")
        recent = await call(router, "GET", "/responses/resp_recent")
    assert (old.status_code, old.json()) == (404, not_found("resp_old"))
    assert recent.status_code == 200 and recent.json()["id"] == "resp_recent"


async def test_a_passthrough_response_is_asked_of_its_channel(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        response_id = await seed_passthrough(router, upstream)
        client = sdk(router)
        got = await client.responses.retrieve(
            response_id,
            include=["message.output_text.logprobs"],
            extra_query={"api-version": "2025-01-01"},  # not OpenAI's: not forwarded
        )
        retrieved = upstream.last_request
        items = await client.responses.input_items.list(response_id, order="asc", limit=5)
        listed = upstream.last_request
        await client.close()
    assert (
        got.model_dump(mode="json", exclude_unset=True)
        == upstream.stored_responses[response_id].response
    )
    assert (retrieved.method, retrieved.path) == ("GET", f"/v1/responses/{response_id}")
    assert retrieved.query == "include[]=message.output_text.logprobs"  # as the fake decodes it
    assert retrieved.authorization == f"Bearer {upstream.key}"
    assert listed.path == f"/v1/responses/{response_id}/input_items"
    assert sorted(parse_qsl(listed.query)) == [("limit", "5"), ("order", "asc")]
    assert [text_of(item) for item in items.data] == ["Hi"]


async def test_a_passthrough_response_streams_as_its_channel_sends_it(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        response_id = await seed_passthrough(router, upstream)
        client = sdk(router)
        stream = await client.responses.retrieve(response_id, stream=True)
        events = [event async for event in stream]
        await client.close()
    expected = [event_data(raw) for raw in recorded_events("responses_stream_text.sse")]
    assert [event.type for event in events] == [event["type"] for event in expected]
    assert events[-1].type == "response.completed" and events[-1].response.id == response_id
    assert upstream.last_request.query == "stream=true"


async def test_deleting_a_passthrough_response_deletes_it_at_its_channel(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        response_id = await seed_passthrough(router, upstream)
        deleted = await call(router, "DELETE", f"/responses/{response_id}")
        deletes_sent = upstream.request_count
        again = await call(router, "DELETE", f"/responses/{response_id}")
        user = await in_db(router, lambda db: owner(db, router.token_id))
        row = await in_db(router, lambda db: find(db, response_id, user))
    assert deleted.status_code == 200
    assert deleted.json() == {"id": response_id, "object": "response.deleted", "deleted": True}
    assert response_id not in upstream.stored_responses
    assert (again.status_code, again.json()) == (404, not_found(response_id))
    assert deletes_sent == upstream.request_count == 1  # the second never left the router
    assert row is None


async def test_a_response_its_channel_no_longer_has_is_a_404_then_forgotten(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        response_id = await seed_passthrough(router, upstream)
        upstream.stored_responses.clear()  # expired or deleted at the channel
        got = await call(router, "GET", f"/responses/{response_id}")
        user = await in_db(router, lambda db: owner(db, router.token_id))
        kept = await in_db(router, lambda db: find(db, response_id, user))
        deleted = await call(router, "DELETE", f"/responses/{response_id}")
        forgotten = await in_db(router, lambda db: find(db, response_id, user))
    assert (got.status_code, got.json()) == (404, not_found(response_id))
    assert kept is not None  # a GET's 404 forgets nothing
    assert (deleted.status_code, deleted.json()) == (404, not_found(response_id))
    assert forgotten is None


async def test_a_channel_failure_is_the_relays_error_without_the_channel_key(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        response_id = await seed_passthrough(router, upstream)
        upstream.fail_with(500, f"boom with {upstream.key}", times=1)
        failed = await call(router, "GET", f"/responses/{response_id}")
        upstream.fail_with(401, times=1)
        refused = await call(router, "GET", f"/responses/{response_id}/input_items")
        await in_db(router, lambda db: disable_channel(db, CHANNEL))
        await wait_for_reload(router)
        disabled = await call(router, "GET", f"/responses/{response_id}")
        sent = upstream.request_count
    assert failed.status_code == 502 and "boom" in failed.json()["error"]["message"]
    assert upstream.key not in failed.text
    assert refused.status_code == 502 and upstream.key not in refused.text
    assert disabled.status_code == 503
    assert sent == 2  # a disabled channel is not asked


async def test_failures_after_the_key_are_logged_and_successes_are_not(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        await seed_converted(router, "resp_conv")
        response_id = await seed_passthrough(router, upstream)
        assert (await call(router, "GET", "/responses/resp_conv")).status_code == 200
        assert (await call(router, "GET", f"/responses/{response_id}")).status_code == 200
        assert (await call(router, "GET", "/responses/resp_nope/input_items")).status_code == 404
        upstream.fail_with(503, times=1)
        assert (await call(router, "DELETE", f"/responses/{response_id}")).status_code == 503
        assert (await call(router, "GET", "/responses/resp_conv", key="")).status_code == 401
    rows = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["status"], r["channel_id"], r["cost"]) for r in rows] == [
        ("responses.input_items", 404, None, 0),
        ("responses.delete", 503, CHANNEL, 0),
    ]
    assert all(r["token_id"] == router.token_id for r in rows)


async def test_keys_without_the_relay_scope_are_refused(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with router_for(tmp_path, upstream) as router:
        await seed_converted(router, "resp_conv")
        anonymous = await call(router, "GET", "/responses/resp_conv", key="")
        admin = await call(router, "DELETE", "/responses/resp_conv", key=router.admin_key)
        still = await call(router, "GET", "/responses/resp_conv")
    assert anonymous.status_code == 401
    assert admin.status_code == 403 and admin.json()["error"]["code"] == "permission_denied"
    assert still.status_code == 200


async def test_page_parameters_are_checked(tmp_path: Path, upstream: FakeOpenAI) -> None:
    async with router_for(tmp_path, upstream) as router:
        await seed_converted(router, "resp_conv")
        answers = [
            await call(router, "GET", f"/responses/resp_conv/input_items?{query}")
            for query in ("limit=0", "limit=ten", "order=up", "after=msg_nope")
        ]
        streamed = await call(router, "GET", "/responses/resp_conv?stream=true")
    assert [answer.status_code for answer in answers] == [400, 400, 400, 400]
    assert streamed.status_code == 400 and "stream" in streamed.json()["error"]["message"]


def test_the_routes_are_exactly_the_three_state_calls() -> None:
    assert serves("GET", "/v1/responses/resp_1")
    assert serves("DELETE", "/v1/responses/resp_1")
    assert serves("GET", "/v1/responses/resp_1/input_items")
    assert not serves("DELETE", "/v1/responses/resp_1/input_items")
    assert not serves("POST", "/v1/responses/resp_1")
    assert not serves("GET", "/v1/responses")
    assert not serves("GET", "/v1/responses/a/b")
    assert not serves("GET", "/v1/responses/resp_1/input_items/x")
