"""OpenAI chunk SSE -> Anthropic events, checked with the anthropic SDK's own stream reader."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import orjson
import pytest

from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.anthropic.front.stream import MessagesEventStream
from burncloud.providers.base import TokenUsage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
EXTRAS = {"signature", "caller"}  # a signature cannot cross OpenAI format; caller is newer
OPENAI_STREAMS = ["text_with_usage", "tool_call", "parallel_tool_calls", "length", "refusal"]


def openai_fixture(name: str) -> bytes:
    return (FIXTURES / f"openai_chat_stream_{name}.sse").read_bytes()


def transcode(raw: bytes, sizes: list[int] | None = None, **finish: Any) -> bytes:
    stream = MessagesEventStream("claude-alias", input_tokens=9)
    out, pos, step = [], 0, 0
    while pos < len(raw):
        size = sizes[step % len(sizes)] if sizes else len(raw)
        out.append(stream.feed(raw[pos : pos + size]))
        pos, step = pos + size, step + 1
    return b"".join(out) + stream.finish(**finish)


def read_with_sdk(sse: bytes) -> anthropic.types.Message:
    """What ``anthropic.Anthropic().messages.stream(...)`` makes of ``sse`` (no network)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=sse, headers={"content-type": "text/event-stream"})

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    client = anthropic.Anthropic(api_key="k", base_url="http://front.test", http_client=http)
    request = {
        "model": "claude-alias",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with client.messages.stream(**request) as stream:
        return stream.get_final_message()


def event_payloads(sse: bytes) -> list[dict[str, Any]]:
    framer = SSEFramer()
    payloads = []
    for raw in framer.feed(sse):
        event = parse_event(raw)
        assert event is not None
        payload = orjson.loads(event.data)
        assert payload["type"] == event.event
        payloads.append(payload)
    assert framer.flush() == b""
    return payloads


@pytest.mark.parametrize("name", OPENAI_STREAMS)
def test_output_is_identical_for_every_chunking(name: str) -> None:
    raw = openai_fixture(name)
    whole = transcode(raw)
    assert transcode(raw, [1]) == whole
    for seed in range(3):
        rng = random.Random(seed)
        assert transcode(raw, [rng.randint(1, 50) for _ in range(300)]) == whole


@pytest.mark.parametrize("name", OPENAI_STREAMS)
def test_event_order_is_what_anthropic_sends(name: str) -> None:
    types = [p["type"] for p in event_payloads(transcode(openai_fixture(name)))]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"]
    open_block = None
    for kind in types[1:-2]:
        if kind == "content_block_start":
            assert open_block is None
            open_block = True
        elif kind == "content_block_stop":
            assert open_block
            open_block = None
    assert open_block is None


def test_text_stream_with_usage() -> None:
    out = transcode(openai_fixture("text_with_usage"))
    message = read_with_sdk(out)
    assert message.model == "claude-alias"
    assert message.content[0].type == "text"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (14, 30)


def test_tool_call_streams() -> None:
    message = read_with_sdk(transcode(openai_fixture("tool_call")))
    (tool,) = message.content
    assert (tool.type, tool.id, tool.name) == (
        "tool_use",
        "call_c91SqDXlYFuETYv8mUHzz6pp",
        "GetWeatherArgs",
    )
    assert tool.input == {"city": "Edinburgh", "country": "UK", "units": "c"}
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (76, 24)


def test_parallel_tool_calls_become_two_blocks() -> None:
    message = read_with_sdk(transcode(openai_fixture("parallel_tool_calls")))
    assert [(b.type, b.name) for b in message.content] == [
        ("tool_use", "GetWeatherArgs"),
        ("tool_use", "get_stock_price"),
    ]
    assert message.content[1].input == {"ticker": "AAPL", "exchange": "NASDAQ"}


def test_length_and_refusal() -> None:
    assert read_with_sdk(transcode(openai_fixture("length"))).stop_reason == "max_tokens"
    refusal = read_with_sdk(transcode(openai_fixture("refusal")))
    assert refusal.content[0].text.startswith("I'm")


def test_estimate_is_used_when_the_upstream_sent_no_usage() -> None:
    raw = b"".join(
        b"data: " + orjson.dumps(c) + b"\n\n"
        for c in [
            {"id": "x", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
            {"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ]
    )
    message = read_with_sdk(transcode(raw + b"data: [DONE]\n\n", estimate=TokenUsage(40, 2)))
    assert (message.usage.input_tokens, message.usage.output_tokens) == (40, 2)
    assert read_with_sdk(transcode(raw)).usage.input_tokens == 9  # the start estimate


def test_reasoning_becomes_a_thinking_block_before_the_text() -> None:
    chunks = [
        {"id": "x", "choices": [{"index": 0, "delta": {"reasoning_content": "Think"}}]},
        {"id": "x", "choices": [{"index": 0, "delta": {"reasoning_content": "ing."}}]},
        {"id": "x", "choices": [{"index": 0, "delta": {"content": "Answer."}}]},
        {"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    raw = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)
    message = read_with_sdk(transcode(raw))
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert (message.content[0].thinking, message.content[1].text) == ("Thinking.", "Answer.")


def test_upstream_error_event_becomes_an_anthropic_error_event() -> None:
    raw = (
        b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"par"}}]}\n\n'
        b'data: {"error":{"message":"upstream overloaded: Overloaded","type":"server_error",'
        b'"code":"service_unavailable"}}\n\n'
    )
    payloads = event_payloads(transcode(raw))
    assert payloads[-1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "upstream overloaded: Overloaded"},
    }
    with pytest.raises(anthropic.APIStatusError):
        read_with_sdk(transcode(raw))


def test_cut_stream_ends_with_an_error_event() -> None:
    raw = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"par"}}]}\n\n'
    assert event_payloads(transcode(raw))[-1]["type"] == "error"


def test_anthropic_upstream_through_both_transcoders_matches_the_original() -> None:
    """Anthropic SSE -> OpenAI chunks -> Anthropic SSE gives the answer the SDK read directly."""
    for name in ["basic_text", "tool_use", "thinking"]:
        original = (FIXTURES / f"anthropic_stream_{name}.sse").read_bytes()
        inner = AnthropicProvider(clock=lambda: 0).chat_stream("claude-alias", include_usage=True)
        outer = MessagesEventStream("claude-alias")
        out = outer.feed(inner.feed(original) + inner.finish()) + outer.finish()
        direct, relayed = read_with_sdk(original + b"\n\n"), read_with_sdk(out)
        assert [b.type for b in relayed.content] == [b.type for b in direct.content]
        for mine, theirs in zip(relayed.content, direct.content, strict=True):
            assert _without_extras(mine) == _without_extras(theirs)
        assert relayed.stop_reason == direct.stop_reason
        assert relayed.usage.input_tokens == direct.usage.input_tokens
        assert relayed.usage.output_tokens == direct.usage.output_tokens


def _without_extras(block: Any) -> dict[str, Any]:
    return {k: v for k, v in block.model_dump().items() if k not in EXTRAS}


def test_texts_are_collected() -> None:
    stream = MessagesEventStream("m")
    stream.feed(openai_fixture("tool_call"))
    assert stream.texts()[0] == "GetWeatherArgs"
    assert "".join(stream.texts()[1:]) == '{"city":"Edinburgh","country":"UK","units":"c"}'
