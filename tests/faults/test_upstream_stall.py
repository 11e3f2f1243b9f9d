"""Fault: the upstream answers 200 and its headers, then sends nothing.

The channel's ``idle_timeout`` (0.5 s here) must end the wait: the client gets one error
event, the upstream connection is closed (the fake sees its handler cancelled), one 502 row
is logged, and the reservation is settled to the prompt's cost, not left held.
"""

from __future__ import annotations

import time

import openai
import pytest

from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.money import parse_usd
from tests.fakes import FakeOpenAI
from tests.faults.books import price, read_books, wait_for_rows
from tests.faults.harness import (
    MODEL,
    AppHandle,
    content_of,
    errors_of,
    raw_stream,
    sdk,
    set_channel_config,
)
from tests.gateway.router_harness import running_router

pytestmark = pytest.mark.faults

QUOTA = "10"
IDLE = 0.5
MESSAGES = [{"role": "user", "content": "are you there"}]
BROKE_OFF = "the upstream stream broke off"


async def test_a_stream_silent_after_its_headers_ends_at_the_idle_timeout(tmp_path) -> None:
    """Faults: 2 stalled streams (one read by the SDK, one read raw), each held by the fake
    for a minute after its headers."""
    # Computed first: the vocabulary loads once per process (the in-process router shares
    # it), and that one-off load, ~0.2 s of CPU, must not land inside a timed fault.
    prompt = await TokenEstimator().prompt_tokens({"model": MODEL, "messages": MESSAGES}, MODEL)
    handle = AppHandle()
    async with (
        FakeOpenAI("sk-canary-upstream") as fake,
        running_router(tmp_path, fake, quota=QUOTA, wrap=handle.wrap) as router,
        sdk(router) as client,
    ):
        await set_channel_config(router, {"idle_timeout": str(IDLE)})
        fake.stall_after_headers = 60.0
        started = time.monotonic()
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, extra_headers={"x-request-id": "sdk"}
        )
        with pytest.raises(openai.APIError) as raised:
            _ = [chunk async for chunk in stream]
        waited = time.monotonic() - started
        assert type(raised.value) is openai.APIError and raised.value.message == BROKE_OFF
        assert IDLE <= waited < IDLE + 1.5
        await fake.wait_until(lambda: (fake.cancelled, fake.open_streams) == (1, 0), within=1.0)

        events = await raw_stream(client, "raw", MESSAGES)
        assert content_of(events) == [] and len(events) == 1
        assert errors_of(events) == [
            {"message": BROKE_OFF, "type": "server_error", "code": "upstream_error"}
        ]
        await fake.wait_until(lambda: (fake.cancelled, fake.open_streams) == (2, 0), within=1.0)
        await fake.wait_until(
            lambda: (fake.open_connections, handle.upstream_connections_in_use) == (0, 0)
        )
        running = await wait_for_rows(router.db_url, router.token_id, 2)
        running.assert_balanced(parse_usd(QUOTA))  # billed while the lease still holds money
        assert running.leases == 1 and running.leased > 0

    assert (fake.request_count, fake.streams_completed, fake.completion_tokens_served) == (2, 0, 0)
    books = await read_books(router.db_url, router.token_id)
    books.assert_settled(parse_usd(QUOTA))
    assert sorted(row["request_id"] for row in books.rows) == ["raw", "sdk"]
    for row in books.rows:
        assert (row["status"], row["error"], row["estimated"]) == (502, BROKE_OFF, 1)
        assert (row["prompt_tokens"], row["completion_tokens"], row["ttft_ms"]) == (prompt, 0, None)
        assert row["cost"] == price(prompt, 0) > 0
    assert books.used == 2 * price(prompt, 0)
