"""End to end: the official openai SDK through the router to a strict fake OpenAI."""

from __future__ import annotations

import asyncio
import threading

import httpx
import openai
import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.money import parse_usd
from burncloud.services.channels import update_channel
from burncloud.services.prices import set_price
from burncloud.services.tokens import create_token
from tests.fakes import FakeOpenAI, running_fake_openai
from tests.gateway.router_harness import SECRET, logged_rows, running_router, wait_for_reload

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def upstream():
    async with FakeOpenAI(
        "sk-canary-upstream-key", prompt_tokens=100, completion_tokens=200
    ) as fake:
        yield fake


async def test_non_stream_is_relayed_and_billed_exactly(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        reply = await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
        await client.close()
        assert reply.choices[0].message.content == "Hello! You said: hello there"
        assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (100, 200)
        sent = upstream.last_request
        assert sent.authorization == "Bearer sk-canary-upstream-key"
        assert router.key not in sent.body.decode() and router.key not in str(sent.headers)
    logs = await logged_rows(router.db_url)
    assert [(r["status"], r["cost"], r["estimated"]) for r in logs] == [(200, 15_000_000, 0)]


async def test_stream_without_usage_request_hides_the_injected_usage(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
        await client.close()
        assert upstream.last_request.json["stream_options"] == {"include_usage": True}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! You said: hello there"
    assert all(c.usage is None and c.choices for c in chunks)
    logs = await logged_rows(router.db_url)
    assert [(r["cost"], r["stream"], r["estimated"]) for r in logs] == [(15_000_000, 1, 0)]


async def test_stream_with_usage_request_gets_the_usage_chunk(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(
            model="gpt-4", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 200


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, {"model": "gpt-4", "messages": MESSAGES}, 401, "invalid_token"),
        (
            {"Authorization": "Bearer sk-wrong"},
            {"model": "gpt-4", "messages": MESSAGES},
            401,
            "invalid_token",
        ),
        (None, {"model": "gpt-9", "messages": MESSAGES}, 404, "model_not_found"),
        (None, {"model": "gpt-4"}, 400, "invalid_request"),
    ],
)
async def test_error_table_rows(tmp_path, upstream, headers, body, status, code) -> None:
    async with running_router(tmp_path, upstream) as router:
        sent_headers = {"Authorization": f"Bearer {router.key}"} if headers is None else headers
        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"{router.base_url}/chat/completions", json=body, headers=sent_headers
            )
    assert response.status_code == status
    error = orjson.loads(response.content)["error"]
    assert error["code"] == code and set(error) == {"message", "type", "code"}


def test_sync_client_stream_and_non_stream(tmp_path) -> None:

    with running_fake_openai(
        "sk-canary-upstream-key", prompt_tokens=100, completion_tokens=200
    ) as fake:
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
            whole = client.chat.completions.create(model="gpt-4", messages=MESSAGES)
            parts = client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
            text = "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
            client.close()
        finally:
            done.set()
            thread.join(10)
    assert whole.choices[0].message.content == text == "Hello! You said: hello there"


async def test_legacy_completions_and_embeddings_are_relayed_and_billed(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        db = await open_database(router.db_url)
        try:
            async with db.transaction() as tx:
                await set_price(tx, "text-embedding-3-small", parse_usd("0.02"), parse_usd("0"))
            await update_channel(
                db, SecretBox.from_passphrase(SECRET), 1, models=["gpt-4", "text-embedding-3-small"]
            )
        finally:
            await db.close()
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        for _ in range(30):
            try:
                vectors = await client.embeddings.create(
                    model="text-embedding-3-small", input=["a", "b"]
                )
                break
            except openai.NotFoundError:
                await asyncio.sleep(0.1)
        completion = await client.completions.create(model="gpt-4", prompt="Say hi", max_tokens=200)
        await client.close()
    assert len(vectors.data) == 2
    assert completion.choices[0].text
    logs = await logged_rows(router.db_url)
    by_endpoint = {row["endpoint"]: row for row in logs if row["status"] == 200}
    assert by_endpoint["embeddings"]["cost"] == 2_000  # 100 prompt tokens at 0.02 / 1M
    assert by_endpoint["completions"]["cost"] == 15_000_000


async def test_models_lists_only_what_the_key_may_use(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        db = await open_database(router.db_url)
        try:
            _, narrow = await create_token(db, "narrow", models="gpt-3.5")
        finally:
            await db.close()
        await wait_for_reload(router)
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        models = [m.id async for m in client.models.list()]
        narrowed = openai.AsyncOpenAI(api_key=narrow, base_url=router.base_url)
        none = [m.id async for m in narrowed.models.list()]
        await client.close()
        await narrowed.close()
        async with httpx.AsyncClient() as http:
            anonymous = await http.get(f"{router.base_url}/models")
    assert models == ["gpt-4"]
    assert none == []
    assert anonymous.status_code == 401


async def test_billing_endpoints_report_the_keys_balance(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream, quota="2.5") as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
        await client.close()
        headers = {"Authorization": f"Bearer {router.key}"}
        async with httpx.AsyncClient() as http:
            subscription = (
                await http.get(f"{router.base_url}/dashboard/billing/subscription", headers=headers)
            ).json()
            usage = (
                await http.get(f"{router.base_url}/dashboard/billing/usage", headers=headers)
            ).json()
    assert subscription["object"] == "billing_subscription"
    assert 0 < subscription["hard_limit_usd"] <= 2.5
    assert usage["object"] == "list" and usage["total_usage"] >= 0


@pytest.mark.faults
async def test_client_disconnect_cancels_the_upstream_stream(tmp_path) -> None:
    async with (
        FakeOpenAI("sk-canary-upstream-key", chunks=50, chunk_delay=0.1) as slow,
        running_router(tmp_path, slow) as router,
    ):
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
        async for _ in stream:
            break
        await stream.close()
        await client.close()
        await slow.wait_until(lambda: slow.cancelled, within=1.0)
        await slow.wait_until(lambda: slow.open_streams == 0, within=1.0)
    logs = await logged_rows(router.db_url)
    assert [(row["status"], row["estimated"]) for row in logs] == [(499, 1)]
    assert logs[0]["cost"] > 0


def _slow_final_write(app):
    """Middleware: the last body write of a response takes a while to drain, as it does
    under load. Hypercorn queues ``http.disconnect`` for the handler while writing it."""

    async def wrapped(scope, receive, send):
        async def slow_send(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                await asyncio.sleep(0.05)

        await app(scope, receive, slow_send if scope["type"] == "http" else send)

    return wrapped


@pytest.mark.parametrize("stream", [False, True])
async def test_an_answer_delivered_is_billed_even_if_its_last_write_is_slow(
    tmp_path, upstream, stream
) -> None:
    """Hypercorn reports the end of every response as a disconnect: an answer already
    written must not then be taken for one the client left (it was logged as a 499 and,
    non-stream, billed for the prompt only, so a quota served more than it paid for)."""
    async with running_router(tmp_path, upstream, wrap=_slow_final_write) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        if stream:
            chunks = await client.chat.completions.create(
                model="gpt-4", messages=MESSAGES, stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
        else:
            reply = await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
            text = reply.choices[0].message.content
        await client.close()
    assert text == "Hello! You said: hello there"
    (row,) = await logged_rows(router.db_url)
    assert (row["status"], row["estimated"], row["error"]) == (200, 0, "")
    assert (row["prompt_tokens"], row["completion_tokens"]) == (100, 200)
    assert row["cost"] == (100 * 30 + 200 * 60) * 1000


async def test_a_client_hanging_up_after_done_got_the_whole_answer(tmp_path, upstream) -> None:
    """The openai SDK stops reading at [DONE] and closes; the upstream's end of body comes
    later. That is a delivered answer (200), not a client that left (499)."""
    upstream.linger_before_eof = 0.5
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        chunks = await client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
        await client.close()
        for _ in range(100):
            if await logged_rows(router.db_url):
                break
            await asyncio.sleep(0.05)
    assert text == "Hello! You said: hello there"
    (row,) = await logged_rows(router.db_url)
    assert (row["status"], row["estimated"], row["completion_tokens"]) == (200, 0, 200)


@pytest.mark.parametrize("stream", [False, True])
async def test_missing_upstream_usage_is_estimated_with_the_tokenizer(tmp_path, stream) -> None:
    async with (
        FakeOpenAI("sk-canary-upstream-key") as fake,
        running_router(tmp_path, fake) as router,
    ):
        fake.omit_usage = True
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        if stream:
            parts = await client.chat.completions.create(
                model="gpt-4", messages=MESSAGES, stream=True
            )
            assert [c async for c in parts]
        else:
            await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
        await client.close()
    estimator = TokenEstimator()
    body = {"model": "gpt-4", "messages": MESSAGES}
    prompt = await estimator.prompt_tokens(body, "gpt-4")
    answer = await estimator.count("Hello! You said: hello there", "gpt-4")
    logs = await logged_rows(router.db_url)
    row = logs[0]
    assert (row["estimated"], row["prompt_tokens"], row["completion_tokens"]) == (1, prompt, answer)
    assert row["cost"] == (prompt * 30 + answer * 60) * 1000


async def test_upstream_dying_mid_stream_ends_with_an_error_event_and_bills_what_came(
    tmp_path,
) -> None:
    async with (
        FakeOpenAI("sk-canary-upstream-key", chunks=10) as fake,
        running_router(tmp_path, fake) as router,
    ):
        fake.die_after_chunks = 4
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)
        stream = await client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
        received = []
        with pytest.raises(openai.APIError, match="broke off"):
            async for chunk in stream:
                received.append(chunk)
        await client.close()
    assert received  # some content reached the client before the error event
    logs = await logged_rows(router.db_url)
    assert [(r["status"], r["estimated"]) for r in logs] == [(502, 1)]
    assert logs[0]["cost"] > 0 and logs[0]["completion_tokens"] > 0
