"""End to end: the Responses API (``POST /v1/responses``) through the router by passthrough,
driven by the official openai SDK against a strict fake OpenAI replaying recorded streams."""

from __future__ import annotations

import asyncio
import threading

import httpx
import openai
import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.gateway.relay.inbound import CHAT, parse_request
from burncloud.gateway.relay.outbound import upstream_body
from burncloud.money import parse_usd
from burncloud.providers.openai.responses_native import responses_body
from burncloud.services.channels import add_channel
from burncloud.services.prices import set_price
from tests.fakes import FakeOpenAI, running_fake_openai
from tests.fakes.openai_upstream import RECORDINGS, event_data, recorded_events
from tests.gateway.router_harness import (
    SECRET,
    logged_rows,
    point_channel_at,
    running_router,
    wait_for_reload,
)

QUESTION = "What is the capital of France?"
ANSWER = "The capital of France is Paris."
TEXT, CALL = "responses_stream_text.sse", "responses_stream_function_call.sse"
# gpt-4 at 30 / 60 USD per 1M (the harness's price); the text recording's usage is 278 in,
# 9 out: 278 * 30 + 9 * 60 = 8,880 USD per 1M tokens = 8,880,000 nano-USD.
TEXT_COST = 8_880_000
CALL_COST = 255 * 30_000 + 16 * 60_000  # nano-USD: 30 USD per 1M is 30,000 nano per token


@pytest.fixture
async def upstream():
    async with FakeOpenAI("sk-canary-upstream-key") as fake:
        yield fake


async def _price(db_url: str, input: str, output: str, cached: str | None = None) -> None:
    db = await open_database(db_url)
    try:
        async with db.transaction() as tx:
            await set_price(
                tx, "gpt-4", parse_usd(input), parse_usd(output), cached and parse_usd(cached)
            )
    finally:
        await db.close()


def _row(rows: list[dict]) -> dict:
    assert len(rows) == 1
    return rows[0]


async def test_non_stream_goes_up_as_sent_and_comes_back_byte_for_byte(tmp_path, upstream) -> None:
    body = orjson.dumps({"model": "gpt-4", "input": QUESTION, "store": False})
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        parsed = await client.responses.create(model="gpt-4", input=QUESTION)
        await client.close()
        async with httpx.AsyncClient() as http:
            raw = await http.post(
                f"{router.base_url}/responses",
                content=body,
                headers={"Authorization": f"Bearer {router.key}"},
            )
        assert upstream.last_request.body == body
    assert parsed.output_text == ANSWER
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (278, 9)
    recorded = event_data(recorded_events(TEXT)[-1])["response"]
    assert raw.status_code == 200 and raw.content == orjson.dumps(recorded)
    rows = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["stream"], r["estimated"]) for r in rows] == [("responses", 0, 0)] * 2
    assert [(r["prompt_tokens"], r["completion_tokens"], r["cost"]) for r in rows] == [
        (278, 9, TEXT_COST)
    ] * 2


async def test_stream_is_relayed_as_recorded_without_stream_options(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.responses.create(model="gpt-4", input=QUESTION, stream=True)
        events = [event async for event in stream]
        await client.close()
        assert "stream_options" not in upstream.last_request.json
        async with httpx.AsyncClient() as http:
            raw = await http.post(
                f"{router.base_url}/responses",
                json={"model": "gpt-4", "input": QUESTION, "stream": True},
                headers={"Authorization": f"Bearer {router.key}"},
            )
    assert raw.content == (RECORDINGS / TEXT).read_bytes()
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == ANSWER
    rows = await logged_rows(router.db_url)
    assert [(r["stream"], r["status"], r["cost"], r["estimated"]) for r in rows] == [
        (1, 200, TEXT_COST, 0)
    ] * 2


async def test_cached_input_bills_at_the_cached_price(tmp_path) -> None:
    async with (
        FakeOpenAI(
            "sk-canary-upstream-key", prompt_tokens=300, completion_tokens=50, cached_tokens=100
        ) as fake,
        running_router(tmp_path, fake) as router,
    ):
        await _price(router.db_url, "30", "60", cached="15")
        await wait_for_reload(router)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        whole = await client.responses.create(model="gpt-4", input=QUESTION)
        stream = await client.responses.create(model="gpt-4", input=QUESTION, stream=True)
        [event async for event in stream]
        await client.close()
    assert whole.usage.input_tokens_details.cached_tokens == 100
    # 200 uncached * 30 + 100 cached * 15 + 50 out * 60 = 10,500 USD per 1M tokens.
    rows = await logged_rows(router.db_url)
    assert [(r["prompt_tokens"], r["cached_tokens"], r["completion_tokens"]) for r in rows] == [
        (300, 100, 50)
    ] * 2
    assert [r["cost"] for r in rows] == [10_500_000] * 2


async def test_failover_to_the_second_channel_when_the_first_answers_500(
    tmp_path, upstream
) -> None:
    async with FakeOpenAI("sk-second-upstream-key") as second:
        async with running_router(tmp_path, upstream) as router:
            db = await open_database(router.db_url)
            try:
                await add_channel(
                    db,
                    SecretBox.from_passphrase(SECRET),
                    type="openai",
                    name="second",
                    key=second.key,
                    base_url=second.base_url,
                    models=["gpt-4"],
                    priority=-1,
                )
            finally:
                await db.close()
            await wait_for_reload(router)
            upstream.fail_with(500)
            client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
            stream = await client.responses.create(model="gpt-4", input=QUESTION, stream=True)
            events = [event async for event in stream]
            await client.close()
        assert upstream.request_count == 1 and second.request_count == 1
    assert events[-1].type == "response.completed"
    row = _row(await logged_rows(router.db_url))
    route = orjson.loads(row["route"])
    assert [(a["id"], a["status"]) for a in route["attempts"]] == [(1, 500), (2, 200)]
    assert (row["channel_id"], row["status"], row["cost"]) == (2, 200, TEXT_COST)


async def test_a_stream_cut_midway_gets_the_error_event_and_is_billed(tmp_path, upstream) -> None:
    upstream.die_after_chunks = 7  # created .. two text deltas, then the connection drops
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.responses.create(model="gpt-4", input=QUESTION, stream=True)
        events = [event async for event in stream]
        await client.close()
    assert [e.type for e in events][-3:] == [
        "response.output_text.delta",
        "response.output_text.delta",
        "error",
    ]
    assert events[-1].sequence_number == 7 and "broke off" in events[-1].message
    row = _row(await logged_rows(router.db_url))
    assert (row["status"], row["estimated"]) == (502, 1)
    assert row["completion_tokens"] >= 2 and row["prompt_tokens"] >= 1
    expected = row["prompt_tokens"] * 30_000 + row["completion_tokens"] * 60_000
    assert row["cost"] == expected


def test_sync_client_create_stream_and_stream_helper(tmp_path) -> None:
    with running_fake_openai("sk-canary-upstream-key") as fake:
        ready, done = threading.Event(), threading.Event()
        box: dict = {}

        async def serve_router() -> None:
            async with running_router(tmp_path, fake) as router:
                box["router"] = router
                ready.set()
                await asyncio.to_thread(done.wait)

        thread = threading.Thread(target=lambda: asyncio.run(serve_router()))
        thread.start()
        try:
            assert ready.wait(10)
            router = box["router"]
            client = openai.OpenAI(api_key=router.key, base_url=router.base_url)
            whole = client.responses.create(model="gpt-4", input=QUESTION)
            parts = list(client.responses.create(model="gpt-4", input=QUESTION, stream=True))
            fake.responses_recording = CALL
            with client.responses.stream(model="gpt-4", input=QUESTION) as helper:
                kinds = [event.type for event in helper]
                final = helper.get_final_response()
            client.close()
        finally:
            done.set()
            thread.join(10)
        assert whole.output_text == ANSWER and parts[-1].type == "response.completed"
        assert "response.function_call_arguments.delta" in kinds
        call = final.output[0]
        assert (call.type, call.name, call.arguments) == (
            "function_call",
            "get_capital",
            '{"country":"France"}',
        )
    rows = asyncio.run(logged_rows(router.db_url))
    assert [(r["stream"], r["cost"]) for r in rows] == [
        (0, TEXT_COST),
        (1, TEXT_COST),
        (1, CALL_COST),
    ]


async def test_async_stream_helper_parses_the_recorded_answer(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        async with client.responses.stream(model="gpt-4", input=QUESTION) as stream:
            deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
            final = await stream.get_final_response()
        await client.close()
    assert "".join(deltas) == final.output_text == ANSWER


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"model": "gpt-4"}, 400, "'input'"),
        ({"input": QUESTION}, 400, "model"),
        ({"model": "gpt-9", "input": QUESTION}, 404, "gpt-9"),
    ],
)
async def test_bad_requests_get_openai_shaped_errors(tmp_path, upstream, body, status, says):
    async with running_router(tmp_path, upstream) as router, httpx.AsyncClient() as http:
        response = await http.post(
            f"{router.base_url}/responses",
            json=body,
            headers={"Authorization": f"Bearer {router.key}"},
        )
        anonymous = await http.post(f"{router.base_url}/responses", json=body)
    error = response.json()["error"]
    assert response.status_code == status and says in error["message"]
    assert set(error) == {"message", "type", "code"}
    assert anonymous.status_code == 401 and upstream.request_count == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-4"}, "input"),
        ({"input": QUESTION}, "model"),
        ({"model": "gpt-4", "input": QUESTION, "max_output_tokens": 5}, "max_output_tokens"),
        ({"model": "gpt-4", "input": QUESTION, "max_tokens": 50}, "max_tokens"),
    ],
)
async def test_the_fake_rejects_what_openai_rejects(upstream, body, param) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{upstream.base_url}/responses",
            json=body,
            headers={"Authorization": f"Bearer {upstream.key}"},
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


async def test_a_short_balance_caps_max_output_tokens(tmp_path, upstream) -> None:
    # Output-only price 60 USD per 1M: 0.0006 USD affords exactly 10 answer tokens... too
    # few for OpenAI's minimum, so afford 20 (0.0012 USD) against a request for 1000.
    upstream.completion_tokens = 20
    async with running_router(tmp_path, upstream, quota="0.0012") as router:
        await _price(router.db_url, "0", "60")
        await wait_for_reload(router)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        await client.responses.create(model="gpt-4", input=QUESTION, max_output_tokens=1000)
        await client.close()
        sent = upstream.last_request.json
    assert sent["max_output_tokens"] == 20 and "max_tokens" not in sent
    assert _row(await logged_rows(router.db_url))["cost"] == 1_200_000


async def test_quota_race_lets_exactly_50_of_500_answers_through(tmp_path) -> None:
    # Output-only price so a reservation equals the exact cost: 100 answer tokens at
    # 60 USD per 1M = 0.006 USD; the quota holds exactly 50 of them.
    fake = FakeOpenAI("sk-canary-upstream-key", completion_tokens=100)
    async with fake, running_router(tmp_path, fake, quota="0.3") as router:
        await _price(router.db_url, "0", "60")
        await wait_for_reload(router)
        body = {"model": "gpt-4", "input": QUESTION, "max_output_tokens": 100}
        headers = {"Authorization": f"Bearer {router.key}"}
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
        async with httpx.AsyncClient(limits=limits, timeout=60) as http:
            answers = await asyncio.gather(
                *(
                    http.post(f"{router.base_url}/responses", json=body, headers=headers)
                    for _ in range(500)
                )
            )
        assert fake.request_count == 50
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 50 and statuses.count(402) == 450
    rows = await logged_rows(router.db_url)
    assert sum(r["cost"] for r in rows) == parse_usd("0.3")
    assert {r["cost"] for r in rows if r["status"] == 200} == {6_000_000}


def test_the_untouched_request_caps_its_own_limit_field() -> None:
    data = {"model": "m", "input": "hi", "max_output_tokens": 500}
    raw = orjson.dumps(data)
    assert orjson.loads(responses_body(raw, data, "m", 100))["max_output_tokens"] == 100
    assert responses_body(raw, data, "m", None) is raw  # nothing to change: the same bytes
    mapped = orjson.loads(responses_body(raw, data, "gpt-4o", None))
    assert mapped == {**data, "model": "gpt-4o"}
    chat = parse_request(CHAT, orjson.dumps({"model": "m", "messages": [{"role": "user"}]}))
    assert orjson.loads(upstream_body(chat, "m", 10))["max_tokens"] == 10
    assert not chat.client_wants_usage
    newer = parse_request(CHAT, orjson.dumps({**chat.data, "max_completion_tokens": 50}))
    assert orjson.loads(upstream_body(newer, "m", 10))["max_completion_tokens"] == 10


async def test_a_model_whose_channels_serve_neither_responses_nor_chat_is_a_clear_404(
    tmp_path, upstream
) -> None:
    async with running_router(tmp_path, upstream) as router:
        await point_channel_at(
            router,
            "openai-compatible",
            upstream.base_url,
            upstream.key,
            config={"endpoints": "rerank"},
        )
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
        with pytest.raises(openai.NotFoundError) as caught:
            await client.responses.create(model="gpt-4", input=QUESTION)
        await client.close()
    message = caught.value.body["message"]
    assert "the responses endpoint" in message and "'gpt-4'" in message
    assert "openai-compatible" in message and upstream.request_count == 0
