"""Fault: SIGTERM reaches `burncloud router` with 50 streams open.

Half the streams end within the grace period and must finish whole; the other half last
longer and must each end with one error event at the drain deadline (never a silent cut
that reads like a short answer). All 50 are logged, the process exits 0, and the token's
money adds up: ``used`` is the sum of the logged costs and no lease is left behind.

A stream cut at the deadline is billed with the relay's rough estimate (request bytes / 4,
delivered characters / 4): the server cancels the handler, and the tokenizer's refinement
does not run while it is being cancelled.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from dataclasses import dataclass

import openai
import pytest

from burncloud.gateway.relay.pump import CUT_BY_SHUTDOWN
from burncloud.money import parse_usd
from tests.fakes import FakeOpenAI, running_fake_openai
from tests.faults.books import price, read_books
from tests.faults.harness import MODEL
from tests.gateway.router_harness import seed
from tests.gateway.router_process import router_process

pytestmark = [pytest.mark.faults, pytest.mark.slow]

QUOTA = "100"
GRACE = 3.0
STREAMS = 50
HOLD = 1.5  # every stream waits this long after its headers: all 50 are open at SIGTERM
SPLICED = b'"stream_options":{"include_usage":true},'  # what the router adds upstream
SHORT = "two words"  # a 5-piece answer: done ~0.3 s after the hold, well within the grace
LONG = " ".join(["word"] * 150)  # a 153-piece answer: ~7.5 s, far past the grace
CHUNK_DELAY = 0.05


@dataclass(frozen=True, slots=True)
class Outcome:
    request_id: str
    prompt: str
    pieces: list[str]
    error: BaseException | None


def prompt_of(n: int) -> str:
    return SHORT if n % 2 == 0 else LONG


async def read_stream(client: openai.AsyncOpenAI, n: int) -> Outcome:
    """One stream to its end; the exception it ended with, if any."""
    request_id, prompt, pieces = f"s{n}", prompt_of(n), []
    try:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            extra_headers={"x-request-id": request_id},
        )
        async for chunk in stream:
            pieces.extend(c.delta.content for c in chunk.choices if c.delta.content)
    except Exception as exc:
        return Outcome(request_id, prompt, pieces, exc)
    return Outcome(request_id, prompt, pieces, None)


async def drive(
    base_url: str, key: str, fake: FakeOpenAI, router: subprocess.Popen
) -> tuple[list[Outcome], float]:
    """Open every stream, SIGTERM the router once all are open; outcomes and stop time."""
    client = openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0, timeout=30)
    async with client:
        streams = [asyncio.create_task(read_stream(client, n)) for n in range(STREAMS)]
        await fake.wait_until(lambda: fake.open_streams == STREAMS, within=HOLD)
        router.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        outcomes = await asyncio.gather(*streams)
        code = await asyncio.to_thread(router.wait, 30)
        assert code == 0
    return outcomes, time.monotonic() - signalled


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_sigterm_with_50_open_streams_drains_logs_and_bills_each_once(tmp_path, server) -> None:
    """Faults: 1 SIGTERM, with 50 streams open: 25 end inside the grace, 25 are cut at it."""
    db_url = f"sqlite:///{tmp_path}/drain.db"
    with running_fake_openai("sk-canary-upstream", chunk_delay=CHUNK_DELAY) as fake:
        fake.stall_after_headers = HOLD
        token_id, key = asyncio.run(seed(db_url, fake, quota=QUOTA))
        with router_process(db_url, grace=GRACE, server=server) as (base_url, process):
            outcomes, stopped_in = asyncio.run(drive(base_url, key, fake, process))
        # The cut streams' upstream requests were closed, not left generating.
        fake.wait_until_blocking(lambda: (fake.cancelled, fake.open_streams) == (STREAMS // 2, 0))
    assert GRACE - 0.5 <= stopped_in < GRACE + 2.0  # it waited for the long streams
    asyncio.run(check_books(db_url, token_id, outcomes, fake))


async def check_books(
    db_url: str, token_id: int, outcomes: list[Outcome], fake: FakeOpenAI
) -> None:
    books = await read_books(db_url, token_id)
    books.assert_settled(parse_usd(QUOTA))
    rows = {row["request_id"]: row for row in books.rows}
    assert sorted(row["request_id"] for row in books.rows) == sorted(o.request_id for o in outcomes)
    (long_body,) = {r.body for r in fake.requests if LONG.encode() in r.body}
    assert SPLICED in long_body
    long_prompt = (len(long_body) - len(SPLICED)) // 4 + 1  # the client's body, rough
    for outcome in outcomes:
        row = rows[outcome.request_id]
        echo = ["Hello!", " You", " said:", *(f" {word}" for word in outcome.prompt.split())]
        if outcome.prompt == SHORT:
            assert (outcome.error, outcome.pieces) == (None, echo), outcome
            assert (row["status"], row["estimated"]) == (200, 0)
            usage = (2, len(echo))
        else:
            error = outcome.error
            assert type(error) is openai.APIError, outcome  # an error event, not a cut
            assert error.message == CUT_BY_SHUTDOWN
            assert outcome.pieces == echo[: len(outcome.pieces)] and outcome.pieces != echo
            assert (row["status"], row["estimated"], row["error"]) == (503, 1, CUT_BY_SHUTDOWN)
            usage = (long_prompt, (len("".join(outcome.pieces)) + 3) // 4)
        assert (row["prompt_tokens"], row["completion_tokens"]) == usage, outcome
        assert row["cost"] == price(*usage)
    assert fake.streams_completed == STREAMS // 2
    assert fake.completion_tokens_served == STREAMS // 2 * 5
