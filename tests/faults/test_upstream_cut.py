"""Fault: the upstream's connection is cut in the middle of a stream.

The client must get what was delivered, then exactly one error event (never a silent cut
that looks like a short answer); the delivered part is billed, estimated; one 502 log row
per request; and the cut connection leaves neither the router's pool nor the fake's server
holding anything.
"""

from __future__ import annotations

import openai
import pytest

from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.money import parse_usd
from tests.fakes import FakeOpenAI
from tests.faults.books import price, read_books
from tests.faults.harness import MODEL, AppHandle, content_of, errors_of, raw_stream, sdk
from tests.gateway.router_harness import running_router

pytestmark = pytest.mark.faults

QUOTA = "10"
MESSAGES = [{"role": "user", "content": "tell me a story"}]
REPLY = ["Hello!", " You", " said:", " tell", " me", " a", " story"]  # the fake's echo
BROKE_OFF = "the upstream stream broke off"


async def healthy_stream(client: openai.AsyncOpenAI, request_id: str) -> None:
    events = await raw_stream(client, request_id, MESSAGES)
    assert (content_of(events), events[-1]) == (REPLY, b"[DONE]")


@pytest.mark.parametrize("cut_after", [1, 4])
async def test_a_cut_upstream_stream_ends_in_one_error_event_and_bills_what_came(
    tmp_path, cut_after: int
) -> None:
    """Faults: 2 cuts (one read by the SDK, one read raw), after ``cut_after`` events (the
    role chunk, then content), between healthy streams that show the pool still works."""
    # Computed first: the vocabulary loads once per process (the in-process router shares
    # it), and that one-off load, ~0.2 s of CPU, must not land inside a timed fault.
    delivered = REPLY[: cut_after - 1]
    estimator = TokenEstimator()
    prompt = await estimator.prompt_tokens({"model": MODEL, "messages": MESSAGES}, MODEL)
    completion = await estimator.completion_tokens(delivered, MODEL)
    handle = AppHandle()
    async with (
        FakeOpenAI("sk-canary-upstream") as fake,
        running_router(tmp_path, fake, quota=QUOTA, wrap=handle.wrap) as router,
        sdk(router) as client,
    ):

        def pool() -> tuple[int, int]:
            return fake.open_connections, handle.upstream_connections_in_use

        await healthy_stream(client, "before")
        baseline = (1, 0)  # one idle keep-alive connection in the router's pool, none in use
        await fake.wait_until(lambda: pool() == baseline, within=1.0)

        fake.die_after_chunks = cut_after
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, extra_headers={"x-request-id": "sdk"}
        )
        received: list[str] = []
        with pytest.raises(openai.APIError) as raised:
            async for chunk in stream:
                received.extend(c.delta.content for c in chunk.choices if c.delta.content)
        assert type(raised.value) is openai.APIError  # an error event, not a dropped connection
        assert raised.value.message == BROKE_OFF
        assert received == delivered

        events = await raw_stream(client, "raw", MESSAGES)
        assert content_of(events) == delivered
        assert len(events) == cut_after + 1 and errors_of(events[:-1]) == []
        assert errors_of(events[-1:]) == [
            {"message": BROKE_OFF, "type": "server_error", "code": "upstream_error"}
        ]

        await fake.wait_until(lambda: pool() == (0, 0), within=1.0)  # the cut ones are gone
        fake.die_after_chunks = None
        await healthy_stream(client, "after")
        await fake.wait_until(lambda: pool() == baseline, within=1.0)

    assert (fake.request_count, fake.streams_completed, fake.cancelled) == (4, 2, 0)
    books = await read_books(router.db_url, router.token_id)
    books.assert_settled(parse_usd(QUOTA))
    rows = {row["request_id"]: row for row in books.rows}
    assert sorted(row["request_id"] for row in books.rows) == ["after", "before", "raw", "sdk"]
    for request_id in ("sdk", "raw"):
        row = rows[request_id]
        assert (row["status"], row["error"], row["estimated"]) == (502, BROKE_OFF, 1)
        assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, completion)
        assert row["cost"] == price(prompt, completion) > 0
    for request_id in ("before", "after"):
        row = rows[request_id]
        assert (row["status"], row["estimated"], row["completion_tokens"]) == (200, 0, 7)
        assert row["cost"] == price(4, 7)
    assert fake.completion_tokens_served == 2 * 7  # only the two whole answers
