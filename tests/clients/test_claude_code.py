"""The real Claude Code (``claude -p``) through the router's /v1/messages, on any channel.

Claude Code is run as a user would, with its defaults: it sends the session's environment as
a ``system`` turn inside ``messages`` (newer model families), adaptive or budgeted thinking,
context management and a dozen betas. Each run must answer, and every request it makes must
be logged and billed from the usage the upstream reported. Every model Claude Code asks for
in the recordings is priced and carried by the channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.services.prices import set_price
from tests.clients.claude_code import ClaudeRun, run_claude
from tests.clients.recording_proxy import RecordingProxy
from tests.clients.recordings import load_recordings, requested_models, shape
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.gateway.router_harness import (
    RunningRouter,
    logged_rows,
    point_channel_at,
    running_router,
)

pytestmark = pytest.mark.slow

CLAUDE_MODELS = requested_models()
INPUT_USD, OUTPUT_USD = "3", "15"  # per 1M tokens, for every Claude model
ANTHROPIC_USAGE = (11, 6)  # what anthropic_stream_basic_text.sse reports
ANTHROPIC_ANSWER = "Hello there!"
OPENAI_USAGE = (1200, 34)
OPENAI_ANSWER = "Hi from the OpenAI channel."
# None: Claude Code's default model; "haiku": an alias of the newest family, which gets the
# mid-conversation system turn; a dated id of an older family, which gets budgeted thinking.
MODELS = (None, "haiku", "claude-sonnet-4-5")


@dataclass(frozen=True, slots=True)
class Upstream:
    """What the channel's fake answers, and the bodies it received so far."""

    answer: str
    usage: tuple[int, int]
    received: Callable[[], list[dict[str, Any]]]
    passthrough: bool  # the router must forward Claude Code's bodies untouched


def expected_cost(prompt_tokens: int, completion_tokens: int) -> int:
    """The cost in units of one request at INPUT_USD/OUTPUT_USD per 1M tokens."""
    per_million = prompt_tokens * parse_usd(INPUT_USD) + completion_tokens * parse_usd(OUTPUT_USD)
    return per_million // 1_000_000


async def price_claude_models(router: RunningRouter) -> None:
    db = await open_database(router.db_url)
    try:
        async with db.transaction() as tx:
            for model in CLAUDE_MODELS:
                await set_price(tx, model, parse_usd(INPUT_USD), parse_usd(OUTPUT_USD))
    finally:
        await db.close()


@asynccontextmanager
async def anthropic_channel(tmp_path: Path) -> AsyncIterator[tuple[RunningRouter, Upstream]]:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await price_claude_models(router)
        await point_channel_at(
            router, "anthropic", fake.base_url, fake.key, models=list(CLAUDE_MODELS)
        )
        yield router, Upstream(ANTHROPIC_ANSWER, ANTHROPIC_USAGE, lambda: fake.requests, True)


@asynccontextmanager
async def openai_channel(tmp_path: Path) -> AsyncIterator[tuple[RunningRouter, Upstream]]:
    prompt, completion = OPENAI_USAGE
    async with (
        FakeOpenAI(
            models=CLAUDE_MODELS,
            reply=OPENAI_ANSWER,
            prompt_tokens=prompt,
            completion_tokens=completion,
        ) as fake,
        running_router(tmp_path, fake) as router,
    ):
        await price_claude_models(router)
        await point_channel_at(
            router, "openai", fake.base_url, fake.key, models=list(CLAUDE_MODELS)
        )
        yield router, Upstream(OPENAI_ANSWER, OPENAI_USAGE, lambda: _bodies(fake), False)


def _bodies(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [request.json for request in fake.requests]


CHANNELS = {"anthropic": anthropic_channel, "openai": openai_channel}


def _explain(run: ClaudeRun) -> str:
    return f"exit {run.returncode}\nstdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-2000:]}"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m or "default-model")
@pytest.mark.parametrize("channel", sorted(CHANNELS))
async def test_claude_code_answers_and_every_request_is_billed(
    tmp_path, claude: Path, channel: str, model: str | None
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    async with (
        CHANNELS[channel](tmp_path) as (router, upstream),
        RecordingProxy(router.base_url.removesuffix("/v1")) as proxy,
    ):
        run = await run_claude(
            claude, "hi", base_url=proxy.base_url, api_key=router.key, home=home, model=model
        )
        received = upstream.received()
    assert run.returncode == 0, _explain(run)
    assert upstream.answer in run.stdout
    assert run.egress == ()
    sent = [call.body for call in proxy.calls]
    assert len(sent) >= 1 and len(received) == len(sent)
    if upstream.passthrough:
        assert received == sent
    rows = await logged_rows(router.db_url)
    assert len(rows) == len(sent)
    billed = {(r["status"], r["prompt_tokens"], r["completion_tokens"], r["cost"]) for r in rows}
    assert billed == {(200, *upstream.usage, expected_cost(*upstream.usage))}
    assert [r["model"] for r in rows] == [body["model"] for body in sent]


async def test_the_recordings_match_the_pinned_claude_code(tmp_path, claude: Path) -> None:
    """A new pin without a new recording fails here: re-run the recorder."""
    home = tmp_path / "home"
    home.mkdir()
    async with FakeAnthropic() as fake, RecordingProxy(fake.base_url) as proxy:
        run = await run_claude(claude, "hi", base_url=proxy.base_url, api_key=fake.key, home=home)
    assert run.returncode == 0, _explain(run)
    recorded = load_recordings()["main_turn_default_model"]
    assert [shape(call.as_fixture()) for call in proxy.calls] == [shape(recorded)]
