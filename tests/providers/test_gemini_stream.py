"""Gemini alt=sse streams as OpenAI chunk streams (PROTOCOLS.md 4.4, 8.4, 9.1, gotcha 6)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from burncloud.providers.base import TokenUsage
from burncloud.providers.gemini import GeminiProvider

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gemini"
STREAMS = sorted(p.name for p in FIXTURES.glob("stream_*.sse"))
_CREATED = re.compile(rb'"created":\d+')


def run(raw: bytes, sizes: list[int] | None = None, include_usage: bool = True):
    """Feed ``raw`` in pieces of ``sizes`` (then the rest); return (bytes out, stream)."""
    stream = GeminiProvider().chat_stream("my-gemini", include_usage)
    out, pos = [], 0
    for size in sizes or []:
        out.append(stream.feed(raw[pos : pos + size]))
        pos += size
    out.append(stream.feed(raw[pos:]))
    out.append(stream.finish())
    return b"".join(out), stream


def events(out: bytes) -> list[dict]:
    assert out.endswith(b"data: [DONE]\n\n")
    body = out[: -len(b"data: [DONE]\n\n")]
    assert body == b"" or body.endswith(b"\n\n")
    return [orjson.loads(e.removeprefix(b"data: ")) for e in body.split(b"\n\n") if e]


def accumulate(out: bytes):
    state = ChatCompletionStreamState()
    for chunk in events(out):
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize("name", STREAMS)
def test_any_chunking_gives_the_same_output(name: str) -> None:
    raw = fixture(name)
    whole, _ = run(raw)
    whole = _CREATED.sub(b"", whole)
    assert _CREATED.sub(b"", run(raw, [1] * len(raw))[0]) == whole
    for seed in range(5):
        rng = random.Random(seed)
        sizes = [rng.randint(1, 97) for _ in range(len(raw) // 20)]
        assert _CREATED.sub(b"", run(raw, sizes)[0]) == whole, seed


@pytest.mark.parametrize("name", STREAMS)
def test_every_chunk_is_a_valid_openai_chunk_with_one_id(name: str) -> None:
    chunks = events(run(fixture(name))[0])
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        assert chunk["model"] == "my-gemini"
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]


@pytest.mark.parametrize(
    ("name", "text", "usage"),
    [
        ("stream_crlf_usage_changes.sse", "The capital of France is Paris.\n", TokenUsage(13, 8)),
        (
            "stream_after_tool_result.sse",
            "The capital of Mexico is Mexico City.",
            TokenUsage(257, 8),
        ),
        ("stream_single_chunk.sse", "1, 2, 3", TokenUsage(8, 30, reasoning_tokens=23)),
        (
            "stream_text_after_function_response.sse",
            "今日の東京の天気は曇りで、気温は22度です。\n",
            TokenUsage(138, 15),
        ),
    ],
)
def test_text_streams_bill_the_last_usage(name: str, text: str, usage: TokenUsage) -> None:
    out, stream = run(fixture(name))
    final = accumulate(out)
    assert final.choices[0].message.content == text
    assert final.choices[0].finish_reason == "stop"
    assert stream.usage == usage
    assert events(out)[-1]["usage"] == usage.to_openai()
    assert "".join(stream.texts()) == text


def test_long_thinking_stream_bills_thoughts_and_keeps_a_bounded_sample() -> None:
    out, stream = run(fixture("stream_long_text_thinking.sse"))
    final = accumulate(out)
    assert final.choices[0].message.content.startswith("Okay, let's create a Tetris game")
    assert stream.usage == TokenUsage(4, 5947 + 2042, reasoning_tokens=2042)
    sample = "".join(stream.texts())
    assert len(sample) == 16_384
    assert final.choices[0].message.content.startswith(sample)
    deltas = [chunk["choices"][0]["delta"] for chunk in events(out) if chunk.get("choices")]
    generated = [d.get("content") or d.get("reasoning_content") or "" for d in deltas]
    assert stream.text_chars == sum(map(len, generated)) > len(sample)


@pytest.mark.parametrize(
    ("name", "function", "usage"),
    [
        (
            "stream_function_call.sse",
            ("getWeather", '{"location":"Tokyo"}'),
            TokenUsage(83, 118, reasoning_tokens=104),
        ),
        (
            "stream_tool_call_thought_signature.sse",
            ("get_country", "{}"),
            TokenUsage(29, 212, reasoning_tokens=202),
        ),
    ],
)
def test_function_call_streams_end_with_tool_calls(
    name: str, function: tuple, usage: TokenUsage
) -> None:
    out, stream = run(fixture(name))
    final = accumulate(out)
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == function
    assert call.id.startswith("call_") and "__thought__" in call.id
    assert stream.usage == usage
    assert stream.texts() == list(function)


def sse(*payloads: dict | str, sep: bytes = b"\r\n\r\n") -> bytes:
    return b"".join(
        (p.encode() if isinstance(p, str) else b"data: " + orjson.dumps(p)) + sep for p in payloads
    )


def chunk(parts: list[dict], reason: str | None = None, **extra: object) -> dict:
    cand: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    if reason:
        cand["finishReason"] = reason
    return {"candidates": [cand], "responseId": "r1", **extra}


def test_thoughts_are_reasoning_deltas_and_pings_and_empty_parts_are_skipped() -> None:
    raw = sse(
        ": keep-alive",
        chunk([{"text": "Hmm.", "thought": True}, {"text": ""}]),
        chunk([{"text": "Answer"}]),
        chunk(
            [{"text": ""}], "STOP", usageMetadata={"promptTokenCount": 3, "candidatesTokenCount": 1}
        ),
    )
    out, stream = run(raw, include_usage=False)
    deltas = [c["choices"][0]["delta"] for c in events(out)]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Hmm."},
        {"content": "Answer"},
        {},
    ]
    assert stream.usage == TokenUsage(3, 1)  # known even when the client did not ask for it


def test_unterminated_last_event_is_still_read() -> None:
    raw = (
        sse(chunk([{"text": "a"}])) + b"data: " + orjson.dumps(chunk([{"text": "b"}], "MAX_TOKENS"))
    )
    chunks = events(run(raw)[0])
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "ab"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"  # no usage came: no usage chunk


def test_in_band_error_becomes_an_openai_error_event_and_ends_the_stream() -> None:
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    raw = sse(chunk([{"text": "partial"}]), error, chunk([{"text": "ignored"}], "STOP"))
    out, _ = run(raw)
    chunks = events(out)
    assert chunks[-1] == {
        "error": {
            "message": "The model is overloaded.",
            "type": "server_error",
            "code": "service_unavailable",
        }
    }
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [
        {"role": "assistant", "content": ""},
        {"content": "partial"},
    ]


def test_stream_cut_before_a_finish_reason_reports_an_error() -> None:
    out, stream = run(sse(chunk([{"text": "half"}], usageMetadata={"promptTokenCount": 4})))
    chunks = events(out)
    assert "error" in chunks[-1]
    assert all(c.get("choices", [{}])[0].get("finish_reason") is None for c in chunks[:-1])
    assert stream.usage == TokenUsage(4, 0)


def test_blocked_prompt_in_a_stream_finishes_with_content_filter() -> None:
    raw = sse({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": "r"})
    chunks = events(run(raw)[0])
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "content_filter"]


def test_garbage_event_is_reported_not_swallowed() -> None:
    chunks = events(run(sse("data: {not json"))[0])
    assert chunks == [
        {
            "error": {
                "message": "the Gemini upstream sent unreadable data",
                "type": "server_error",
                "code": "upstream_error",
            }
        }
    ]


def test_parallel_calls_get_distinct_indexes_and_ids() -> None:
    calls = [{"functionCall": {"name": n, "args": {"q": n}}} for n in ("a", "b")]
    final = accumulate(run(sse(chunk(calls[:1]), chunk(calls[1:], "STOP")))[0])
    tool_calls = final.choices[0].message.tool_calls
    assert [c.function.name for c in tool_calls] == ["a", "b"]
    assert len({c.id for c in tool_calls}) == 2
