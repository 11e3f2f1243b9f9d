"""OpenAI chunk SSE -> Gemini streamGenerateContent events, checked with google-genai's types."""

from __future__ import annotations

import base64
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.gemini.front.stream import TEXT_LIMIT, GeminiEventStream
from burncloud.providers.gemini.stream import GeminiStream

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OPENAI_STREAMS = sorted(p.name for p in (FIXTURES / "openai").glob("chat_stream_*.sse"))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def transcode(raw: bytes, sizes: list[int] | None = None) -> bytes:
    stream = GeminiEventStream("alias")
    out, pos, step = [], 0, 0
    while pos < len(raw):
        size = sizes[step % len(sizes)] if sizes else len(raw)
        out.append(stream.feed(raw[pos : pos + size]))
        pos, step = pos + size, step + 1
    return b"".join(out) + stream.finish()


def events(sse: bytes) -> list[dict[str, Any]]:
    """Every event's JSON; each must be one CRLF-framed ``data:`` line."""
    framer = SSEFramer()
    raws = framer.feed(sse)
    assert framer.flush() == b""
    payloads = []
    for raw in raws:
        assert raw.startswith(b"data: ") and raw.endswith(b"\r\n\r\n") and raw.count(b"\n") == 2
        event = parse_event(raw)
        assert event is not None and event.data != "[DONE]"
        payloads.append(orjson.loads(event.data))
    return payloads


def validate(payloads: list[dict[str, Any]]) -> None:
    types = pytest.importorskip("google.genai.types", reason="google-genai is not installed")
    for payload in payloads:
        types.GenerateContentResponse.model_validate(payload)


def openai_deltas(raw: bytes) -> list[dict[str, Any]]:
    return [
        chunk for event in events_any(raw) if event != "[DONE]" and (chunk := orjson.loads(event))
    ]


def events_any(raw: bytes) -> list[str]:
    return [e.data for r in SSEFramer().feed(raw) if (e := parse_event(r)) is not None]


def openai_text(raw: bytes, index: int) -> str:
    return "".join(
        choice["delta"].get("content") or choice["delta"].get("refusal") or ""
        for chunk in openai_deltas(raw)
        for choice in chunk["choices"]
        if choice["index"] == index
    )


def gemini_parts(payloads: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    return [
        part
        for payload in payloads
        for candidate in payload.get("candidates", [])
        if candidate["index"] == index
        for part in candidate["content"]["parts"]
    ]


@pytest.mark.parametrize("name", OPENAI_STREAMS)
def test_any_chunking_gives_identical_output(name: str) -> None:
    raw = fixture(f"openai/{name}")
    whole = transcode(raw)
    assert transcode(raw, [1]) == whole
    for seed in range(5):
        rng = random.Random(seed)
        assert transcode(raw, [rng.randint(1, 90) for _ in range(40)]) == whole
    assert transcode(raw.replace(b"\n", b"\r\n")) == whole
    assert transcode(raw.replace(b"\n\n", b"\n: keep-alive\n\n")) == whole


@pytest.mark.parametrize("name", OPENAI_STREAMS)
def test_events_are_generate_content_responses_with_the_same_text(name: str) -> None:
    raw = fixture(f"openai/{name}")
    payloads = events(transcode(raw))
    indexes = {c["index"] for chunk in openai_deltas(raw) for c in chunk["choices"]}
    for index in indexes:
        texts = [p.get("text", "") for p in gemini_parts(payloads, index)]
        assert "".join(texts) == openai_text(raw, index)
    last = payloads[-1]
    usage = next(c["usage"] for c in openai_deltas(raw) if c.get("usage"))
    assert last["usageMetadata"] == {
        "promptTokenCount": usage["prompt_tokens"],
        "candidatesTokenCount": usage["completion_tokens"],
        "totalTokenCount": usage["total_tokens"],
    }
    assert sorted(c["index"] for c in last["candidates"]) == sorted(indexes)
    assert all(c.get("finishReason") for c in last["candidates"])
    assert all("usageMetadata" not in p and "finishReason" not in str(p) for p in payloads[:-1])
    assert {p["modelVersion"] for p in payloads} == {"alias"}
    assert len({p["responseId"] for p in payloads}) == 1
    validate(payloads)  # last: without google-genai the checks above still run


def test_tool_call_is_one_whole_function_call() -> None:
    payloads = events(transcode(fixture("openai/chat_stream_tool_call.sse")))
    calls = [p for p in gemini_parts(payloads, 0) if "functionCall" in p]
    assert calls == [
        {
            "functionCall": {
                "name": "GetWeatherArgs",
                "args": {"city": "Edinburgh", "country": "UK", "units": "c"},
                "id": "call_c91SqDXlYFuETYv8mUHzz6pp",
            }
        }
    ]
    assert payloads[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "functionCall" in payloads[-1]["candidates"][0]["content"]["parts"][0]


def test_parallel_calls_go_out_as_each_completes() -> None:
    payloads = events(transcode(fixture("openai/chat_stream_parallel_tool_calls.sse")))
    with_calls = [
        [part["functionCall"] for part in gemini_parts([p], 0) if "functionCall" in part]
        for p in payloads
    ]
    with_calls = [calls for calls in with_calls if calls]
    assert [[c["name"] for c in calls] for calls in with_calls] == [
        ["GetWeatherArgs"],
        ["get_stock_price"],
    ]
    assert with_calls[0][0]["args"] == {"city": "Edinburgh", "country": "GB", "units": "c"}
    assert with_calls[1][0]["args"] == {"ticker": "AAPL", "exchange": "NASDAQ"}


def test_length_finish_and_refusal() -> None:
    length = events(transcode(fixture("openai/chat_stream_length.sse")))
    assert length[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    refusal = events(transcode(fixture("openai/chat_stream_refusal.sse")))
    assert refusal[-1]["candidates"][0]["finishReason"] == "STOP"


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "choices": [choice], **extra}
    return b"data: " + orjson.dumps(body) + b"\n\n"


def test_reasoning_text_and_split_utf8() -> None:
    raw = (
        chunk({"role": "assistant", "reasoning_content": "考え"})
        + chunk({"content": "東京は"})
        + chunk({"content": "晴れ"}, "stop")
        + b'data: {"id":"chatcmpl-x","choices":[],"usage":{"prompt_tokens":5,'
        b'"completion_tokens":9,"completion_tokens_details":{"reasoning_tokens":4},'
        b'"prompt_tokens_details":{"cached_tokens":2}}}\n\n' + b"data: [DONE]\n\n"
    )
    whole = transcode(raw)
    assert transcode(raw, [1]) == transcode(raw, [3, 7]) == whole
    payloads = events(whole)
    assert gemini_parts(payloads, 0) == [
        {"text": "考え", "thought": True},
        {"text": "東京は"},
        {"text": "晴れ"},
        {"text": ""},
    ]
    assert payloads[-1]["usageMetadata"] == {
        "promptTokenCount": 5,
        "candidatesTokenCount": 5,
        "totalTokenCount": 14,
        "cachedContentTokenCount": 2,
        "thoughtsTokenCount": 4,
    }
    assert payloads[0]["responseId"] == "x"
    validate(payloads)


def test_text_after_a_call_sends_the_call_first() -> None:
    call = {"index": 0, "id": "call_a", "function": {"name": "f", "arguments": '{"q":1}'}}
    raw = chunk({"tool_calls": [call]}) + chunk({"content": "done"}, "stop") + b"data: [DONE]\n\n"
    payloads = events(transcode(raw))
    assert gemini_parts(payloads[:1], 0) == [
        {"functionCall": {"name": "f", "args": {"q": 1}, "id": "call_a"}},
        {"text": "done"},
    ]


def test_in_band_error_becomes_a_gemini_error_event() -> None:
    error = b'data: {"error":{"message":"Rate limit reached","type":"rate_limit_error"}}\n\n'
    stream = GeminiEventStream("alias")
    out = stream.feed(chunk({"content": "Hi"}) + error + chunk({"content": "ignored"}))
    out += stream.finish()
    payloads = events(out)
    assert payloads[-1] == {
        "error": {"code": 429, "message": "Rate limit reached", "status": "RESOURCE_EXHAUSTED"}
    }
    assert len(payloads) == 2


def test_cut_off_stream_ends_with_an_error_event() -> None:
    payloads = events(transcode(chunk({"content": "Hi"})))
    assert payloads[-1]["error"]["status"] == "UNAVAILABLE"
    garbage = events(transcode(b"data: {not json\n\n"))
    assert garbage == [
        {
            "error": {
                "code": 502,
                "message": "upstream sent a malformed stream event",
                "status": "UNAVAILABLE",
            }
        }
    ]


def test_without_done_or_usage_the_finish_closes_the_answer() -> None:
    payloads = events(transcode(chunk({"content": "Hi"}, "stop")))
    assert payloads[-1]["candidates"] == [
        {"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}
    ]
    assert "usageMetadata" not in payloads[-1]


def test_texts_are_capped() -> None:
    stream = GeminiEventStream("alias")
    stream.feed(chunk({"content": "x" * (TEXT_LIMIT + 10)}) + chunk({"content": "more"}))
    assert sum(len(t) for t in stream.texts()) == TEXT_LIMIT


def test_gemini_channel_stream_round_trips_with_its_signature() -> None:
    """Gemini upstream -> forward GeminiStream -> front door: the signed call comes back."""
    original = fixture("gemini/stream_tool_call_thought_signature.sse")
    forward = GeminiStream("gemini-3-flash", include_usage=True)
    openai_sse = forward.feed(original) + forward.finish()
    payloads = events(transcode(openai_sse))
    sent = [p for p in _gemini_events(original) for p in gemini_parts([p], 0)]
    got = gemini_parts(payloads, 0)
    sent_calls = [p for p in sent if "functionCall" in p]
    got_calls = [p for p in got if "functionCall" in p]
    assert sent_calls and all(_sig(c) for c in got_calls)
    assert [c["functionCall"]["name"] for c in got_calls] == [
        c["functionCall"]["name"] for c in sent_calls
    ]
    assert [c["functionCall"]["args"] for c in got_calls] == [
        c["functionCall"]["args"] for c in sent_calls
    ]
    assert [_sig(c) for c in got_calls] == [_sig(c) for c in sent_calls]
    sent_text = "".join(p.get("text", "") for p in sent if not p.get("thought"))
    assert "".join(p.get("text", "") for p in got if not p.get("thought")) == sent_text
    validate(payloads)


def _gemini_events(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(data) for data in events_any(raw)]


def _sig(part: dict[str, Any]) -> bytes | None:
    signature = part.get("thoughtSignature")
    if signature is None:
        return None
    return base64.urlsafe_b64decode(signature.replace("+", "-").replace("/", "_"))
