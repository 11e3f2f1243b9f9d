"""Live: the SDKs through an in-process router to the real providers, billed exactly.

Opt-in twice over: every test is marked ``live`` and skips, naming the variables it needs,
unless the provider's TEST_* variables are set (see .env.example). The checks are about
shape, not wording (models answer differently each time): a non-empty answer, a tool call
whose arguments parse, and a log row equal to the usage the client was shown.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import (
    RunningRouter,
    logged_rows,
    point_channel_at,
    running_router,
)

pytestmark = pytest.mark.live

CHAT = "chat.completions"  # the log rows' endpoint for /v1/chat/completions
MAX_TOKENS = 64  # live runs cost fractions of a cent
TOOL_MAX_TOKENS = 256
TIMEOUT = 60.0
PING = [
    {"role": "system", "content": "You answer in as few words as possible."},
    {"role": "user", "content": "Reply with the single word: pong"},
]
WEATHER = [{"role": "user", "content": "What is the weather in Paris right now?"}]
GET_WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name"}},
            "required": ["city"],
        },
    },
}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


@dataclass(frozen=True, slots=True)
class Upstream:
    """A real provider account as one channel: channel 1 serves gpt-4 as ``model``."""

    channel_type: str
    base_url: str
    key: str
    model: str
    config: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # request fields the model needs
    tool_choice: object = "required"


@dataclass(frozen=True, slots=True)
class LiveProvider:
    """Which variables a provider needs, where it runs, and how to read its account."""

    needs: tuple[str, ...]
    where: str
    read: Callable[[], Upstream]

    def upstream(self) -> Upstream:
        """The account from the environment; skips the test, naming what is missing."""
        missing = [name for name in self.needs if not env(name)]
        if missing:
            names = ", ".join(missing[:-1]) + (" and " if len(missing) > 1 else "") + missing[-1]
            pytest.skip(f"live: set {names} to run against {self.where}")
        return self.read()


def env(name: str, default: str = "") -> str:
    """``$name`` stripped, or ``default`` when it is unset or blank."""
    return os.environ.get(name, "").strip() or default


def _openai() -> Upstream:
    base_url = env("TEST_OPENAI_BASE_URL", "https://api.openai.com/v1")
    return Upstream(
        "openai", base_url, env("TEST_OPENAI_KEY"), env("TEST_OPENAI_MODEL", "gpt-4o-mini")
    )


def _anthropic() -> Upstream:
    base_url = env("TEST_ANTHROPIC_BASE_URL", "https://api.anthropic.com")
    model = env("TEST_ANTHROPIC_MODEL", "claude-3-5-haiku-latest")
    return Upstream("anthropic", base_url, env("TEST_ANTHROPIC_KEY"), model)


def _gemini() -> Upstream:
    base_url = env("TEST_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com")
    model = env("TEST_GEMINI_MODEL", "gemini-2.5-flash")
    # Gemini 2.5 thinks by default, and thoughts count against max_tokens: without this a
    # 64-token answer can be all thought and no text.
    none = {"reasoning_effort": "none"}
    return Upstream("gemini", base_url, env("TEST_GEMINI_KEY"), model, extra=none)


def _bedrock() -> Upstream:
    region = env("TEST_AWS_REGION", "us-east-1")
    base_url = env("TEST_BEDROCK_BASE_URL", f"https://bedrock-runtime.{region}.amazonaws.com")
    parts = ("TEST_AWS_ACCESS_KEY_ID", "TEST_AWS_SECRET_ACCESS_KEY", "TEST_AWS_SESSION_TOKEN")
    key = ":".join(value for value in map(env, parts) if value)
    model = env("TEST_BEDROCK_MODEL", "us.anthropic.claude-3-5-haiku-20241022-v1:0")
    return Upstream("bedrock", base_url, key, model, config={"region": region})


def _azure() -> Upstream:
    version = env("TEST_AZURE_API_VERSION")
    config = {"api_version": version} if version else {}
    deployment = env("TEST_AZURE_DEPLOYMENT")
    return Upstream("azure", env("TEST_AZURE_BASE_URL"), env("TEST_AZURE_KEY"), deployment, config)


def _qwen() -> Upstream:
    base_url = env(
        "TEST_DASHSCOPE_BASE_URL", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    )
    model = env("TEST_QWEN_MODEL", "qwen-plus")
    # DashScope documents only auto, none and a named function for tool_choice.
    return Upstream("qwen", base_url, env("TEST_DASHSCOPE_KEY"), model, tool_choice=FORCE_WEATHER)


PROVIDERS: dict[str, LiveProvider] = {
    "openai": LiveProvider(("TEST_OPENAI_KEY",), "api.openai.com", _openai),
    "anthropic": LiveProvider(("TEST_ANTHROPIC_KEY",), "api.anthropic.com", _anthropic),
    "gemini": LiveProvider(("TEST_GEMINI_KEY",), "generativelanguage.googleapis.com", _gemini),
    "bedrock": LiveProvider(
        ("TEST_AWS_ACCESS_KEY_ID", "TEST_AWS_SECRET_ACCESS_KEY"),
        "Amazon Bedrock (region TEST_AWS_REGION, default us-east-1)",
        _bedrock,
    ),
    "azure": LiveProvider(
        ("TEST_AZURE_KEY", "TEST_AZURE_BASE_URL", "TEST_AZURE_DEPLOYMENT"),
        "an Azure OpenAI deployment",
        _azure,
    ),
    "qwen": LiveProvider(("TEST_DASHSCOPE_KEY",), "DashScope (Qwen)", _qwen),
}
EVERY_PROVIDER = pytest.mark.parametrize("upstream", list(PROVIDERS), indirect=True)


@pytest.fixture
def upstream(request: pytest.FixtureRequest) -> Upstream:
    """The parametrized provider's account; the test is skipped when it is not configured."""
    return PROVIDERS[request.param].upstream()


@asynccontextmanager
async def live_router(
    tmp_path: Path, upstream: Upstream
) -> AsyncIterator[tuple[RunningRouter, openai.AsyncOpenAI]]:
    """A router whose channel 1 is ``upstream``, and an openai client of it that never retries.

    Log rows are written when the router stops: read them after this context exits.
    """
    async with FakeOpenAI("unused") as unused, running_router(tmp_path, unused) as router:
        await point_channel_at(
            router,
            upstream.channel_type,
            upstream.base_url,
            upstream.key,
            model_map={"gpt-4": upstream.model},
            config=upstream.config,
        )
        options = {"max_retries": 0, "timeout": TIMEOUT}
        async with openai.AsyncOpenAI(
            api_key=router.key, base_url=router.base_url, **options
        ) as client:
            yield router, client


def cost(prompt: int, completion: int) -> int:
    """nano-USD for gpt-4 at 30 / 60 USD per 1M tokens (no cached price: cached at input)."""
    return (prompt * 30 + completion * 60) * 1000


@dataclass(frozen=True, slots=True)
class Shown:
    """The usage a client was shown, in OpenAI's terms (prompt includes cached)."""

    prompt: int
    completion: int
    cached: int = 0

    @classmethod
    def of(cls, usage: Any) -> Shown:
        """From an openai SDK ``CompletionUsage``."""
        details = usage.prompt_tokens_details
        cached = (details.cached_tokens or 0) if details else 0
        return cls(usage.prompt_tokens, usage.completion_tokens, cached)


async def assert_billed_as_shown(router: RunningRouter, shown: Shown, endpoint: str) -> None:
    """One successful, non-estimated log row with exactly the usage the client saw."""
    assert shown.prompt > 0 and shown.completion > 0
    keys = ("endpoint", "status", "prompt_tokens", "completion_tokens", "cached_tokens")
    rows = await logged_rows(router.db_url)
    billed = [tuple(row[k] for k in (*keys, "estimated", "cost")) for row in rows]
    expected = (endpoint, 200, shown.prompt, shown.completion, shown.cached)
    assert billed == [(*expected, 0, cost(shown.prompt, shown.completion))]


async def stream_chunks(
    client: openai.AsyncOpenAI, upstream: Upstream, **request: Any
) -> list[Any]:
    """Every chunk of a chat stream for gpt-4 that asked for usage."""
    stream = await client.chat.completions.create(
        model="gpt-4",
        stream=True,
        stream_options={"include_usage": True},
        **upstream.extra,
        **request,
    )
    return [chunk async for chunk in stream]


def finish_reasons(chunks: list[Any]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


def only_usage(chunks: list[Any]) -> Any:
    """The usage of the stream's one usage chunk, which must be its last."""
    with_usage = [chunk for chunk in chunks if chunk.usage is not None]
    assert len(with_usage) == 1 and with_usage[0] is chunks[-1]
    return with_usage[0].usage


@EVERY_PROVIDER
async def test_non_stream_answer_is_billed_as_the_client_saw_it(tmp_path, upstream) -> None:
    async with live_router(tmp_path, upstream) as (router, client):
        reply = await client.chat.completions.create(
            model="gpt-4", messages=PING, max_tokens=MAX_TOKENS, **upstream.extra
        )
    assert (reply.choices[0].message.content or "").strip()
    assert reply.choices[0].finish_reason == "stop"
    await assert_billed_as_shown(router, Shown.of(reply.usage), CHAT)


@EVERY_PROVIDER
async def test_stream_text_ends_with_one_usage_chunk_that_is_billed(tmp_path, upstream) -> None:
    async with live_router(tmp_path, upstream) as (router, client):
        chunks = await stream_chunks(client, upstream, messages=PING, max_tokens=MAX_TOKENS)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert finish_reasons(chunks) == ["stop"]
    await assert_billed_as_shown(router, Shown.of(only_usage(chunks)), CHAT)


@EVERY_PROVIDER
async def test_forced_tool_call_streams_json_arguments(tmp_path, upstream) -> None:
    async with live_router(tmp_path, upstream) as (router, client):
        chunks = await stream_chunks(
            client,
            upstream,
            messages=WEATHER,
            tools=[GET_WEATHER],
            tool_choice=upstream.tool_choice,
            max_tokens=TOOL_MAX_TOKENS,
        )
    deltas = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    named = [(d.index, d.function.name) for d in deltas if d.function and d.function.name]
    assert named and named[0] == (0, "get_weather")
    assert {name for _, name in named} == {"get_weather"}
    for index in {index for index, _ in named}:
        pieces = [d.function.arguments or "" for d in deltas if d.index == index and d.function]
        assert isinstance(json.loads("".join(pieces))["city"], str)
    assert finish_reasons(chunks) == ["tool_calls"]
    await assert_billed_as_shown(router, Shown.of(only_usage(chunks)), CHAT)


@pytest.mark.parametrize("upstream", ["anthropic", "openai"], indirect=True)
async def test_anthropic_sdk_streams_through_the_messages_door(tmp_path, upstream) -> None:
    """An Anthropic channel is passed through natively; an OpenAI one is translated."""
    async with live_router(tmp_path, upstream) as (router, _):
        root = router.base_url.removesuffix("/v1")
        async with (
            anthropic.AsyncAnthropic(
                api_key=router.key, base_url=root, max_retries=0, timeout=TIMEOUT
            ) as client,
            client.messages.stream(
                model="gpt-4", max_tokens=MAX_TOKENS, system=PING[0]["content"], messages=PING[1:]
            ) as stream,
        ):
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
    assert text.strip() and final.stop_reason == "end_turn"
    usage = final.usage
    read, written = usage.cache_read_input_tokens or 0, usage.cache_creation_input_tokens or 0
    shown = Shown(usage.input_tokens + read + written, usage.output_tokens, read)
    await assert_billed_as_shown(router, shown, "messages")
