"""Fault: the client hangs up while the upstream is still working.

The upstream request must be cancelled within a second (the fake records the cancel), the
request logged once as a 499, and billed for what it cost us: a stream for the prompt and
the part generated (all of which was relayed: the fake hangs after it), a non-stream
answer, of which nothing was delivered, for the prompt only (the rough bytes / 4 estimate).

tests/gateway/test_failover.py and test_router_openai.py show the cancel and the 499 for
a request still waiting on its headers and for a stream between chunks; these tests add
the exact money, the lease and the pool.
"""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.money import parse_usd
from tests.fakes import FakeOpenAI
from tests.faults.books import price, read_books
from tests.faults.harness import MODEL, AppHandle, sdk
from tests.gateway.router_harness import running_router

pytestmark = pytest.mark.faults

QUOTA = "10"
MESSAGES = [{"role": "user", "content": "write a long essay"}]
CANCEL_WITHIN = 1.0


async def test_leaving_a_stream_cancels_the_upstream_and_bills_what_was_generated(
    tmp_path,
) -> None:
    """Faults: 1 client disconnect, after two content chunks of a stream that then hangs."""
    # Computed first: the vocabulary loads once per process (the in-process router shares
    # it), and that one-off load, ~0.2 s of CPU, must not land inside a timed fault.
    estimator = TokenEstimator()
    prompt = await estimator.prompt_tokens({"model": MODEL, "messages": MESSAGES}, MODEL)
    completion = await estimator.completion_tokens(["Hello!", " You"], MODEL)
    handle = AppHandle()
    async with (
        FakeOpenAI("sk-canary-upstream") as fake,
        running_router(tmp_path, fake, quota=QUOTA, wrap=handle.wrap) as router,
        sdk(router) as client,
    ):
        fake.stall_after_chunks = 3  # the role chunk, "Hello!", " You", then silence
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, extra_headers={"x-request-id": "gone"}
        )
        received: list[str] = []
        async for chunk in stream:
            received.extend(c.delta.content for c in chunk.choices if c.delta.content)
            if len(received) == 2:
                break
        await stream.close()
        left = time.monotonic()
        await fake.wait_until(lambda: (fake.cancelled, fake.open_streams) == (1, 0), within=2.0)
        assert time.monotonic() - left < CANCEL_WITHIN
        assert handle.upstream_connections_in_use == 0
    assert received == ["Hello!", " You"]
    assert (fake.request_count, fake.streams_completed, fake.completion_tokens_served) == (1, 0, 0)
    books = await read_books(router.db_url, router.token_id)
    books.assert_settled(parse_usd(QUOTA))
    (row,) = books.rows
    assert (row["request_id"], row["stream"]) == ("gone", 1)
    assert (row["status"], row["error"], row["estimated"]) == (499, "client disconnected", 1)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, completion)
    assert row["cost"] == price(prompt, completion) > price(prompt, 0)


async def test_leaving_a_non_stream_answer_cancels_the_upstream_and_bills_the_prompt(
    tmp_path,
) -> None:
    """Faults: 1 client timeout (0.3 s) while the upstream, its headers sent, holds the body."""
    body = orjson.dumps({"model": MODEL, "messages": MESSAGES})
    handle = AppHandle()
    async with (
        FakeOpenAI("sk-canary-upstream") as fake,
        running_router(tmp_path, fake, quota=QUOTA, wrap=handle.wrap) as router,
    ):
        fake.stall_after_headers = 60.0
        headers = {"Authorization": f"Bearer {router.key}", "x-request-id": "gone"}
        async with httpx.AsyncClient(base_url=router.base_url, timeout=0.3) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post("/chat/completions", content=body, headers=headers)
        left = time.monotonic()
        await fake.wait_until(lambda: fake.cancelled == 1, within=2.0)
        assert time.monotonic() - left < CANCEL_WITHIN
        assert handle.upstream_connections_in_use == 0
    assert (fake.request_count, fake.last_request.body) == (1, body)  # the prompt went up
    assert fake.completion_tokens_served == 0
    books = await read_books(router.db_url, router.token_id)
    books.assert_settled(parse_usd(QUOTA))
    (row,) = books.rows
    prompt = len(body) // 4 + 1
    assert (row["request_id"], row["stream"]) == ("gone", 0)
    assert (row["status"], row["error"], row["estimated"]) == (499, "client disconnected", 1)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, 0)
    assert row["cost"] == price(prompt, 0) > 0
