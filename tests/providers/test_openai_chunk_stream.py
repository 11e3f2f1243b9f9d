"""The one OpenAI-format stream transcoder, as the passthrough relay uses it (byte for byte
when the client asked for usage, the injected usage hidden when not, content chunks never
parsed) and as the converted path does (Azure); its metering of usage and text."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from burncloud.protocols.openai_chunks import DONE
from burncloud.providers.openai import stream as stream_module
from burncloud.providers.openai.stream import CUT_SHORT, OpenAIChunkStream
from burncloud.providers.text_sample import SAMPLE_CHARS

ROOT = Path(__file__).resolve().parents[2]
RECORDED = (ROOT / "tests/fixtures/openai/chat_stream_text_with_usage.sse").read_bytes()
BENCH = (ROOT / "bench/fixtures/stream.sse").read_bytes()  # as sent with include_usage


def _with_null_usage(stream: bytes) -> bytes:
    """The same stream as OpenAI sends it with include_usage: "usage":null on every chunk."""
    return stream.replace(b'"finish_reason":null}]}', b'"finish_reason":null}],"usage":null}')


def _relay(stream: OpenAIChunkStream, data: bytes, seed: int = 1) -> bytes:
    rng, out, pos = random.Random(seed), [], 0
    while pos < len(data):
        size = rng.randint(1, 64)
        out.append(stream.feed(data[pos : pos + size]))
        pos += size
    out.append(stream.finish())
    return b"".join(out)


def _chunk(content: str, **extra: Any) -> bytes:
    body = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content}}],
    }
    return b"data: " + orjson.dumps({**body, **extra}) + b"\n\n"


def _data(out: bytes) -> list[str]:
    return [line[6:].decode() for line in out.split(b"\n") if line.startswith(b"data: ")]


def test_client_that_asked_for_usage_gets_the_bytes_untouched() -> None:
    stream = OpenAIChunkStream(include_usage=True)
    assert _relay(stream, RECORDED) == RECORDED
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == (14, 30)
    assert stream.finished


@pytest.mark.parametrize("seed", range(20))
def test_injected_usage_is_metered_and_hidden(seed: int) -> None:
    stream = OpenAIChunkStream(include_usage=False)
    out = _relay(stream, _with_null_usage(RECORDED), seed)
    assert b'"usage"' not in out
    assert stream.usage is not None
    assert stream.usage.prompt_tokens + stream.usage.completion_tokens == 44
    usage_chunk = b"".join(e + b"\n\n" for e in RECORDED.split(b"\n\n") if b'"usage":{' in e)
    assert out == RECORDED.replace(usage_chunk, b"")


def test_content_chunks_are_never_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path: of the bench stream's 24 events only the usage chunk is parsed, with
    and without hiding the usage; the text is read only when asked for."""
    parsed: list[bytes] = []

    def loads(data: bytes) -> Any:
        parsed.append(data)
        return orjson.loads(data)

    counting = SimpleNamespace(
        loads=loads, dumps=orjson.dumps, JSONDecodeError=orjson.JSONDecodeError
    )
    monkeypatch.setattr(stream_module, "orjson", counting)
    for include_usage in (True, False):
        parsed.clear()
        stream = OpenAIChunkStream(include_usage)
        out = b"".join(stream.feed(event + b"\n\n") for event in BENCH.split(b"\n\n") if event)
        assert [b'"usage":{' in data for data in parsed] == [True]
        assert stream.finished and (out == BENCH) is include_usage
        assert "".join(stream.texts()).startswith("The quick brown fox")


def test_text_is_counted_for_estimates_when_usage_never_comes() -> None:
    without_usage = b"".join(e + b"\n\n" for e in RECORDED.split(b"\n\n")[:-1] if b"usage" not in e)
    stream = OpenAIChunkStream(include_usage=False)
    _relay(stream, without_usage)
    text = "".join(
        (orjson.loads(e[6:])["choices"][0]["delta"].get("content") or "")
        for e in without_usage.split(b"\n\n")
        if e.startswith(b"data: {")
    )
    assert stream.usage is None
    assert stream.text_chars == len(text) > 0
    assert "".join(stream.texts()) == text


def test_a_long_answer_without_usage_is_counted_from_a_sample() -> None:
    """Past SAMPLE_BYTES of content chunks none is kept: the count is scaled from what was
    kept, close to the truth for an even stream."""
    pieces = [f"word{i % 97} " for i in range(20_000)]
    stream = OpenAIChunkStream(include_usage=True)
    _relay(stream, b"".join(_chunk(piece) for piece in pieces) + DONE)
    true_chars = sum(len(piece) for piece in pieces)
    assert stream.usage is None and stream.finished
    assert abs(stream.text_chars - true_chars) / true_chars < 0.02
    sample = "".join(stream.texts())
    assert 2_000 < len(sample) <= SAMPLE_CHARS and sample.startswith("word0 word1 ")


def test_parsed_streams_count_every_character_and_keep_a_bounded_sample() -> None:
    stream = OpenAIChunkStream(include_usage=False, strip_filters=True)
    stream.feed(_chunk("x" * 1000) * 50 + DONE)
    assert stream.text_chars == 50_000
    assert sum(map(len, stream.texts())) == SAMPLE_CHARS


@pytest.mark.parametrize("strip_filters", [False, True])
def test_done_is_passed_on_at_once_and_nothing_after_it(strip_filters: bool) -> None:
    stream = OpenAIChunkStream(include_usage=False, strip_filters=strip_filters)
    out = stream.feed(_chunk("Hi") + DONE)
    assert out.endswith(DONE) and stream.finished  # the client may hang up now
    assert stream.feed(_chunk("late") + b": ping\n\n" + DONE) == b""
    assert stream.finish() == b""
    assert stream.texts() == ["Hi"]


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_stream_without_done_ends_with_an_error_then_done(include_usage: bool) -> None:
    stream = OpenAIChunkStream(include_usage)
    out = stream.feed(_chunk("cut") + b'data: {"choices":[{"del') + stream.finish()
    data = _data(out)
    assert orjson.loads(data[0])["choices"][0]["delta"]["content"] == "cut"
    assert orjson.loads(data[1])["error"]["message"] == CUT_SHORT
    assert data[2:] == ["[DONE]"] and stream.finished


def test_an_upstream_error_event_is_an_openai_error_event_and_no_second_one() -> None:
    error = b'data: {"error":{"message":"overloaded","type":"server_error","code":503}}\n\n'
    stream = OpenAIChunkStream(include_usage=True)
    data = _data(stream.feed(_chunk("Hel") + error) + stream.finish())
    assert orjson.loads(data[1]) == {
        "error": {"message": "overloaded", "type": "server_error", "code": "503"}
    }
    assert data[2:] == ["[DONE]"] and stream.failed


@pytest.mark.parametrize("include_usage", [True, False])
def test_what_no_openai_client_can_read_is_dropped_keep_alives_kept(include_usage: bool) -> None:
    stream = OpenAIChunkStream(include_usage)
    raw = (
        b": keep-alive\n\n"
        + b"event: ping\n\n"  # no data: the OpenAI SDK would parse "" as JSON
        + b"data: not json\n\n"
        + b"event: message\ndata: "
        + _chunk("named")[6:]
        + _chunk("plain")
        + DONE
    )
    out = stream.feed(raw)
    assert out == b": keep-alive\n\n" + _chunk("named") + _chunk("plain") + DONE


def test_bytes_are_sent_as_soon_as_their_event_is_whole() -> None:
    stream = OpenAIChunkStream(include_usage=True)
    event = _chunk("Hi")
    assert stream.feed(event[:10]) == b""
    assert stream.feed(event[10:] + event[:5]) == event
    assert stream.feed(event[5:]) == event
