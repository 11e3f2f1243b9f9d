"""Recorded answers with cache usage, through every path that reads them: whole and streamed,
converted and native, relayed in OpenAI format and answered by the front doors.

The expected figures are each fixture's own numbers, added up here by hand (the ``.src``
beside each fixture says where it was recorded). Whatever path a recording takes, the usage
billed is the same ``TokenUsage``; a stream agrees with the whole message it describes, as
the provider's own SDK assembles it.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message
from google.genai import types

from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.anthropic.front.answer import chat_to_message
from burncloud.providers.anthropic.front.stream import MessagesEventStream
from burncloud.providers.anthropic.response import token_usage as anthropic_token_usage
from burncloud.providers.azure import AzureProvider
from burncloud.providers.base import ChatStream, NativeStream, TokenUsage
from burncloud.providers.bedrock import BedrockProvider
from burncloud.providers.gemini import GeminiProvider
from burncloud.providers.gemini.front.answer import chat_to_gemini
from burncloud.providers.gemini.front.stream import GeminiEventStream
from burncloud.providers.gemini.usage import token_usage as gemini_token_usage
from burncloud.providers.openai import OpenAIProvider
from burncloud.providers.openai.stream import OpenAIChunkStream
from burncloud.providers.qwen import QwenProvider
from tests.fakes.bedrock_invoke import invoke_frames

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ANTHROPIC = AnthropicProvider(clock=lambda: 0)
BEDROCK = BedrockProvider(clock=lambda: 0, make_id=lambda: "chatcmpl-test")
GEMINI = GeminiProvider()

ANTHROPIC_STREAMS = {
    # message_start: input 13, cache write 3913, all of it for one hour; message_delta: output 4
    "anthropic_stream_cache_write_1h.sse": TokenUsage(
        13 + 3913, 4, cache_write_tokens=3913, cache_write_1h_tokens=3913
    ),
    # message_delta: input 22397 (was 2068 at message_start), output 637, two web searches
    "anthropic_stream_web_search_usage.sse": TokenUsage(
        22397, 637, tool_calls=(("web_search", 2),)
    ),
    # message_delta: input 61 (was 43), output 2
    "anthropic_stream_message_delta_input_tokens.sse": TokenUsage(61, 2),
}
# input 3 + 5-minute cache write 418 + cache read 1111; output 33
ANTHROPIC_WHOLE = TokenUsage(1532, 33, cached_tokens=1111, cache_write_tokens=418)
# prompt 12 + tool-use prompt 65, of which 4 cached; candidates 71 + thoughts 89
GEMINI_EVENT = TokenUsage(77, 160, cached_tokens=4, reasoning_tokens=89)


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fed(stream: ChatStream | NativeStream, raw: bytes, seed: int = 0) -> bytes:
    """All ``stream`` sends for ``raw`` arriving in random pieces."""
    rng, out, position = random.Random(seed), [], 0
    while position < len(raw):
        size = rng.randint(1, 64)
        out.append(stream.feed(raw[position : position + size]))
        position += size
    return b"".join(out) + stream.finish()


def sse_data(out: bytes) -> list[Any]:
    """The JSON of each SSE event in ``out`` (``[DONE]`` left out)."""
    framer = SSEFramer()
    events = [parse_event(raw) for raw in [*framer.feed(out), framer.flush()] if raw]
    return [orjson.loads(e.data) for e in events if e is not None and e.data != "[DONE]"]


def openai_chunks_of(name: str) -> bytes:
    """The recorded Anthropic stream ``name`` as burncloud's OpenAI chunks, usage included."""
    return fed(ANTHROPIC.chat_stream("claude-alias", include_usage=True), read(name))


@pytest.mark.parametrize(("name", "expected"), ANTHROPIC_STREAMS.items())
def test_an_anthropic_stream_bills_the_same_through_every_reader(
    name: str, expected: TokenUsage
) -> None:
    raw = read(f"anthropic/{name}")
    converted = ANTHROPIC.chat_stream("claude-alias", include_usage=True)
    chunks = sse_data(fed(converted, raw))
    native = ANTHROPIC.native_stream("claude-alias")
    assert fed(native, raw, seed=1) == raw  # the client gets the stream as it came
    bedrock = BEDROCK.native_stream("claude-alias")  # Claude over InvokeModel
    fed(bedrock, b"".join(invoke_frames(name)), seed=2)
    assert converted.usage == native.usage == bedrock.usage == expected
    assert chunks[-1]["usage"] == expected.to_openai()


RECORDED_ANTHROPIC_STREAMS = [*ANTHROPIC_STREAMS, "anthropic_stream_thinking.sse"]


@pytest.mark.parametrize("name", RECORDED_ANTHROPIC_STREAMS)
def test_an_anthropic_stream_agrees_with_the_message_the_sdk_assembles(name: str) -> None:
    message = None
    for event in sse_data(read(f"anthropic/{name}")):
        if event["type"] != "ping":
            message = accumulate_event(event=event, current_snapshot=message, json_bufs={})
    assert message is not None
    whole = ANTHROPIC.chat_answer(message.model_dump_json().encode(), "claude-alias")
    stream = ANTHROPIC.chat_stream("claude-alias", include_usage=False)
    fed(stream, read(f"anthropic/{name}"))
    assert whole.usage == stream.usage is not None


def test_a_whole_anthropic_answer_bills_the_same_through_every_reader() -> None:
    raw = read("anthropic/anthropic_nonstream_cache_write_5m_and_read.json")
    answers = [
        ANTHROPIC.chat_answer(raw, "claude-alias"),
        ANTHROPIC.native_answer(raw, "claude-alias"),
        BEDROCK.native_answer(raw, "claude-alias"),  # InvokeModel answers in the same shape
    ]
    assert [answer.usage for answer in answers] == [ANTHROPIC_WHOLE] * 3
    assert answers[0].completion["usage"] == ANTHROPIC_WHOLE.to_openai()


def test_a_gemini_event_bills_the_same_streamed_and_whole() -> None:
    raw = read("gemini/usage_event_cached_content.sse")
    (event,) = sse_data(raw)  # each event is a whole GenerateContentResponse
    converted = GEMINI.chat_stream("gemini-alias", include_usage=True)
    fed(converted, raw)
    native = GEMINI.native_stream("gemini-alias")
    fed(native, raw)
    whole = GEMINI.chat_answer(orjson.dumps(event), "gemini-alias")
    native_whole = GEMINI.native_answer(orjson.dumps(event), "gemini-alias")
    assert converted.usage == native.usage == whole.usage == native_whole.usage == GEMINI_EVENT


@pytest.mark.parametrize(
    ("provider", "name", "expected"),
    [
        # prompt 2012 of which 1920 cached; completion 23
        (AzureProvider(), "azure/chat_nonstream_cached_tokens.json", TokenUsage(2012, 23, 1920)),
        # prompt 3019 of which 2048 cached (DashScope's implicit cache); completion 104
        (QwenProvider(), "qwen/compat_nonstream_implicit_cache.json", TokenUsage(3019, 104, 2048)),
        # prompt 64 of which 44 audio; completion 9
        (
            OpenAIProvider(),
            "openai/chat_nonstream_audio_input.json",
            TokenUsage(64, 9, audio_input_tokens=44),
        ),
    ],
)
def test_an_openai_style_answer_bills_its_cache_and_audio(
    provider: OpenAIProvider, name: str, expected: TokenUsage
) -> None:
    assert provider.chat_answer(read(name), "alias").usage == expected


@pytest.mark.parametrize("name", ANTHROPIC_STREAMS)
def test_a_relayed_openai_stream_keeps_every_kind(name: str) -> None:
    relay = OpenAIChunkStream(include_usage=True)
    fed(relay, openai_chunks_of(f"anthropic/{name}"))
    assert relay.usage == ANTHROPIC_STREAMS[name]


@pytest.mark.parametrize("name", ANTHROPIC_STREAMS)
def test_the_anthropic_door_answers_every_kind_in_its_stream(name: str) -> None:
    door = MessagesEventStream("claude-alias")
    events = sse_data(fed(door, openai_chunks_of(f"anthropic/{name}")))
    (delta,) = [event for event in events if event["type"] == "message_delta"]
    assert anthropic_token_usage(delta["usage"]) == ANTHROPIC_STREAMS[name]
    message = None
    for event in events:
        message = accumulate_event(event=event, current_snapshot=message, json_bufs={})
    assert message is not None
    # The SDK takes the cache write's split from message_start only, which a converted
    # stream sends before the upstream has said anything of its usage.
    seen = replace(ANTHROPIC_STREAMS[name], cache_write_1h_tokens=0)
    assert anthropic_token_usage(message.usage.model_dump()) == seen


def test_the_anthropic_door_answers_the_recorded_usage_as_recorded() -> None:
    raw = read("anthropic/anthropic_nonstream_cache_write_5m_and_read.json")
    answer = ANTHROPIC.chat_answer(raw, "claude-alias")
    message = Message.model_validate(chat_to_message(answer.completion, "claude-alias"))
    recorded = orjson.loads(raw)["usage"]
    assert message.usage.model_dump(exclude_none=True) == {
        key: recorded[key] for key in message.usage.model_dump(exclude_none=True)
    }


def test_the_gemini_door_answers_the_usage_in_its_last_event() -> None:
    door = GeminiEventStream("gemini-alias")
    chunks = openai_chunks_of("anthropic/anthropic_stream_cache_write_1h.sse")
    (event,) = [e for e in sse_data(fed(door, chunks)) if "usageMetadata" in e]
    meta = event["usageMetadata"]
    types.GenerateContentResponseUsageMetadata.model_validate(meta)
    assert meta == {"promptTokenCount": 3926, "candidatesTokenCount": 4, "totalTokenCount": 3930}


@pytest.mark.parametrize(
    ("name", "details"),
    [
        ("azure/chat_nonstream_cached_tokens.json", {"cachedContentTokenCount": 1920}),
        (
            "openai/chat_nonstream_audio_input.json",
            {
                "promptTokensDetails": [
                    {"modality": "TEXT", "tokenCount": 20},
                    {"modality": "AUDIO", "tokenCount": 44},
                ]
            },
        ),
    ],
)
def test_the_gemini_door_answers_cache_and_modalities(name: str, details: dict[str, Any]) -> None:
    completion = orjson.loads(read(name))
    meta = chat_to_gemini(completion, "alias")["usageMetadata"]
    assert meta.items() >= details.items()
    assert meta["promptTokenCount"] == completion["usage"]["prompt_tokens"]
    assert gemini_token_usage(meta) == OpenAIProvider().chat_answer(read(name), "alias").usage
