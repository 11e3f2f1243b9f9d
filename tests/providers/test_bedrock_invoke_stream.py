"""InvokeModelWithResponseStream frames -> Claude's own Anthropic SSE events, and the usage."""

from __future__ import annotations

import base64
import random

import orjson
import pytest

from burncloud.protocols.eventstream import EventStreamParser, encode_message
from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.base import TokenUsage
from burncloud.providers.bedrock import BedrockProvider
from burncloud.providers.bedrock.invoke_stream import CUT_SHORT, UNREADABLE
from tests.fakes.bedrock_invoke import FIXTURES, chunk_frame, invoke_frames, recorded_events
from tests.fakes.bedrock_upstream import exception_frame

PROVIDER = BedrockProvider(clock=lambda: 1_700_000_000)
RECORDED = [
    "anthropic_stream_basic_text.sse",
    "anthropic_stream_thinking.sse",
    "anthropic_stream_tool_use.sse",
]
ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/x"


def run(raw: bytes, sizes: list[int] | None = None):
    """Feed ``raw`` in pieces of ``sizes`` (then the rest); the client's bytes and the stream."""
    stream = PROVIDER.native_stream("claude-alias")
    out, position = b"", 0
    for size in sizes or []:
        out += stream.feed(raw[position : position + size])
        position += size
    return out + stream.feed(raw[position:]) + stream.finish(), stream


def events(out: bytes) -> list[tuple[str, bytes]]:
    framer = SSEFramer()
    parsed = [parse_event(raw) for raw in [*framer.feed(out), framer.flush()] if raw]
    assert framer.flush() == b""
    return [(event.event, event.data.encode()) for event in parsed if event is not None]


def error_of(out: bytes) -> dict:
    ((_, data),) = [event for event in events(out) if event[0] == "error"]
    return orjson.loads(data)


def anthropic_reading(name: str) -> tuple[TokenUsage | None, list[str]]:
    """What the Anthropic provider reads from the recorded SSE itself."""
    stream = AnthropicProvider(clock=lambda: 0).chat_stream("m", False)
    stream.feed((FIXTURES / name).read_bytes())
    stream.finish()
    return stream.usage, stream.texts()


@pytest.mark.parametrize("name", RECORDED)
def test_the_client_gets_claudes_events_as_recorded_at_any_chunking(name: str) -> None:
    raw = b"".join(invoke_frames(name))
    whole, stream = run(raw)
    recorded = recorded_events(name)
    got = events(whole)
    assert [kind for kind, _ in got] == [orjson.loads(data)["type"] for data in recorded]
    assert [data for _, data in got[:-1]] == recorded[:-1]  # the JSON as it came
    last = orjson.loads(got[-1][1])
    metrics = last.pop("amazon-bedrock-invocationMetrics")
    assert last == orjson.loads(recorded[-1]) and metrics["outputTokenCount"] > 0
    assert (stream.usage, stream.texts()) == anthropic_reading(name)
    assert stream.failure is None
    rng = random.Random(name)
    for _ in range(5):
        sizes = [rng.randint(1, 40) for _ in range(len(raw) // 20)]
        assert run(raw, sizes)[0] == whole
    assert run(raw, [1] * len(raw))[0] == whole


def test_cache_reads_and_writes_are_in_the_usage() -> None:
    start = {"type": "message_start", "message": {"id": "msg_bdrk_1", "usage": {}}}
    start["message"]["usage"] = {
        "input_tokens": 3,
        "cache_creation_input_tokens": 1200,
        "cache_read_input_tokens": 800,
        "output_tokens": 1,
    }
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}}
    delta["usage"]["output_tokens"] = 42
    raw = b"".join(
        chunk_frame(orjson.dumps(event)) for event in (start, delta, {"type": "message_stop"})
    )
    _, stream = run(raw)
    assert stream.usage == TokenUsage(2003, 42, cached_tokens=800, cache_write_tokens=1200)


def test_an_exception_frame_becomes_one_anthropic_error_event() -> None:
    frames = invoke_frames(RECORDED[0])
    message = f"Too many tokens on {ARN} - please wait before trying again."
    raw = b"".join(frames[:4]) + exception_frame("throttlingException", message)
    out, stream = run(raw + b"".join(frames[4:]))  # anything after it is ignored
    assert [kind for kind, _ in events(out)] == [
        *(orjson.loads(data)["type"] for data in recorded_events(RECORDED[0])[:4]),
        "error",
    ]
    scrubbed = "Too many tokens on <arn> - please wait before trying again."
    assert error_of(out) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": scrubbed},
    }
    assert stream.failure == (429, scrubbed)
    assert stream.usage is None  # no message_delta came: the relay estimates


def test_a_model_stream_error_is_an_api_error() -> None:
    frames = invoke_frames(RECORDED[0])
    failure = exception_frame("modelStreamErrorException", "The model stopped.")
    out, stream = run(b"".join(frames[:2]) + failure)
    assert error_of(out)["error"] == {"type": "api_error", "message": "The model stopped."}
    assert stream.failure == (502, "The model stopped.")


def test_a_stream_cut_before_its_end_ends_with_an_error_event() -> None:
    frames = invoke_frames(RECORDED[0])  # ..., content_block_stop, message_delta, message_stop
    out, stream = run(b"".join(frames[:-3]))
    assert [kind for kind, _ in events(out)][-2:] == ["content_block_delta", "error"]
    assert error_of(out)["error"] == {"type": "api_error", "message": CUT_SHORT}
    assert stream.failure == (502, CUT_SHORT)
    assert stream.usage is None  # no message_delta: the relay estimates


def test_a_stream_cut_inside_a_frame_ends_with_an_error_event() -> None:
    raw = b"".join(invoke_frames(RECORDED[0]))
    out, stream = run(raw[:-9])
    assert [kind for kind, _ in events(out)][-2:] == ["message_delta", "error"]
    assert stream.failure == (502, CUT_SHORT)
    assert stream.usage is not None  # message_delta came: the usage it gave is billed


def test_a_corrupted_frame_ends_the_stream_with_an_error_event() -> None:
    frames = invoke_frames(RECORDED[0])
    broken = bytearray(frames[2])
    broken[-1] ^= 0xFF  # the message CRC
    raw = b"".join(frames[:2]) + bytes(broken) + b"".join(frames[3:])
    out, stream = run(raw, [len(frames[0]), len(frames[1])])
    assert [kind for kind, _ in events(out)] == ["message_start", "content_block_start", "error"]
    assert "corrupted" in error_of(out)["error"]["message"]
    assert stream.failure is not None and stream.failure[0] == 502


def test_an_error_event_from_claude_is_passed_on_once() -> None:
    overloaded = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    frames = invoke_frames(RECORDED[0])
    out, stream = run(b"".join(frames[:3]) + chunk_frame(overloaded))
    assert events(out)[-1] == ("error", overloaded)
    assert [kind for kind, _ in events(out)].count("error") == 1
    assert stream.failure is not None and stream.failure[0] == 503


def test_a_chunk_that_is_no_event_is_skipped_and_unreadable_bytes_fail() -> None:
    frames = invoke_frames(RECORDED[0])
    untyped = chunk_frame(b'{"completion": "legacy"}')
    injected = chunk_frame(b'{"type": "ping\\ndata: {}"}')  # would forge an SSE line
    out, stream = run(frames[0] + untyped + injected + b"".join(frames[1:]))
    assert events(out) == events(run(b"".join(frames))[0]) and stream.failure is None
    payload = orjson.dumps({"bytes": "not base64!"})
    bad = _frame_with_payload(payload)
    out, stream = run(frames[0] + bad)
    assert error_of(out)["error"]["message"] == UNREADABLE
    assert stream.failure == (502, UNREADABLE)


def test_a_multi_line_event_is_sent_on_one_data_line() -> None:
    pretty = b'{\n  "type": "message_start",\n  "message": {"id": "msg_1", "usage": {}}\n}'
    out, _ = run(chunk_frame(pretty))
    ((kind, data), *_) = events(out)
    assert kind == "message_start"
    assert orjson.loads(data) == orjson.loads(pretty) and b"\n" not in data


def _frame_with_payload(payload: bytes) -> bytes:
    """A ``chunk`` message whose payload is ``payload`` as given (not a valid wrapper)."""
    headers = {":event-type": "chunk", ":content-type": "application/json"}
    return encode_message(headers | {":message-type": "event"}, payload)


def test_chunk_frames_carry_base64_of_the_event() -> None:
    """The fake's framing, checked against the format (PROTOCOLS.md 7.5)."""
    (message,) = EventStreamParser().feed(chunk_frame(b'{"type":"ping"}'))
    assert message.header(":event-type") == "chunk"
    assert base64.b64decode(orjson.loads(message.payload)["bytes"]) == b'{"type":"ping"}'
