"""A router whose one channel, of a given kind, serves /v1/responses from a scripted fake.

The real-client tests (OpenAI Agents SDK, Vercel AI SDK, the recorded-request replay) take
the channel kind as a parameter. Every kind's fake gives the same answers in the order a test
scripts them: ``"call"`` is a call of ``get_capital`` with ``{"country": "France"}``,
``"text"`` is ``ANSWER``, each reporting ``USAGE``. ``openai`` serves Responses itself
(passthrough); ``anthropic`` is served by conversion (the router turns the request into a
Messages request and the answer back into a Response). A kind the router converts for joins
``CHANNEL_KINDS`` with a fake that answers the same way, and every test parametrized over
``CHANNEL_KINDS`` then runs on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.services.prices import set_price
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.gateway.router_harness import RunningRouter, point_channel_at, running_router

Answer = Literal["call", "text"]
ANSWER = "The capital of France is Paris."  # what every kind's "text" answer says
CALL = ("get_capital", {"country": "France"})  # what every kind's "call" answer calls
USAGE = (1200, 34)  # input and output tokens every answer reports
INPUT_USD, OUTPUT_USD = "2", "8"  # the model's price per 1M tokens


@dataclass(frozen=True, slots=True)
class Upstream:
    """A running fake: the channel type, URL and key the router's channel gets, and the
    JSON bodies it has received so far."""

    kind: str
    base_url: str
    key: str
    bodies: Callable[[], list[Any]]


OpenUpstream = Callable[[Sequence[Answer]], AbstractAsyncContextManager[Upstream]]

# Real OpenAI streams of one conversation (pydantic-ai's cassette): the call, then the text.
_OPENAI_RECORDINGS: dict[Answer, str] = {
    "call": "responses_stream_function_call.sse",
    "text": "responses_stream_text.sse",
}


@asynccontextmanager
async def scripted_openai(answers: Sequence[Answer]) -> AsyncIterator[Upstream]:
    """The strict fake OpenAI replaying the recordings of ``answers`` in order."""
    prompt, completion = USAGE
    async with FakeOpenAI(prompt_tokens=prompt, completion_tokens=completion) as fake:
        fake.responses_script = [_OPENAI_RECORDINGS[answer] for answer in answers]
        yield Upstream("openai", fake.base_url, fake.key, lambda: [r.json for r in fake.requests])


# Hand-made in the recorded fixtures' shape (see each file's .src): whole and streamed.
_ANTHROPIC_ANSWERS: dict[Answer, str] = {
    "call": "anthropic_nonstream_get_capital_tool_use.json",
    "text": "anthropic_nonstream_capital_text.json",
}
_ANTHROPIC_STREAMS: dict[Answer, str] = {
    "call": "anthropic_stream_get_capital_tool_use.sse",
    "text": "anthropic_stream_capital_text.sse",
}


@asynccontextmanager
async def scripted_anthropic(answers: Sequence[Answer]) -> AsyncIterator[Upstream]:
    """The strict fake Anthropic answering ``answers`` in order, each whole or streamed as
    its request asks."""
    async with FakeAnthropic(
        answer_fixture=[_ANTHROPIC_ANSWERS[answer] for answer in answers],
        stream_fixture=[_ANTHROPIC_STREAMS[answer] for answer in answers],
        in_one_order=True,
    ) as fake:
        yield Upstream("anthropic", fake.base_url, fake.key, lambda: list(fake.requests))


CHANNEL_KINDS: dict[str, OpenUpstream] = {
    "anthropic": scripted_anthropic,
    "openai": scripted_openai,
}


@asynccontextmanager
async def routed(
    tmp_path: Path, kind: str, answers: Sequence[Answer], model: str
) -> AsyncIterator[tuple[RunningRouter, Upstream]]:
    """A router whose channel, of ``kind``, serves ``model`` (priced INPUT_USD/OUTPUT_USD)
    from a fake giving ``answers``."""
    async with (
        CHANNEL_KINDS[kind](answers) as upstream,
        router_for(tmp_path, upstream, model) as router,
    ):
        yield router, upstream


@asynccontextmanager
async def router_for(
    tmp_path: Path, upstream: Upstream, model: str
) -> AsyncIterator[RunningRouter]:
    """A router whose one channel is ``upstream``, serving ``model`` priced
    INPUT_USD/OUTPUT_USD; the router's seed channel is moved off its own fake."""
    async with FakeOpenAI() as seed, running_router(tmp_path, seed) as router:
        await _price(router.db_url, model)
        await point_channel_at(
            router, upstream.kind, upstream.base_url, upstream.key, models=[model]
        )
        yield router


async def _price(db_url: str, model: str) -> None:
    db = await open_database(db_url)
    try:
        async with db.transaction() as tx:
            await set_price(tx, model, parse_usd(INPUT_USD), parse_usd(OUTPUT_USD))
    finally:
        await db.close()


def expected_cost() -> int:
    """The exact nano-USD one answer's USAGE costs at the test price."""
    prompt, completion = USAGE
    return (prompt * parse_usd(INPUT_USD) + completion * parse_usd(OUTPUT_USD)) // 1_000_000
