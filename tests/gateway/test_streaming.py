"""Stream relaying: usage metered; injected usage hidden so the client sees OpenAI's bytes."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from burncloud.gateway.relay.streaming import StreamMeter

RECORDED = (
    Path(__file__).resolve().parents[1] / "fixtures" / "openai" / "chat_stream_text_with_usage.sse"
).read_bytes()


def _with_null_usage(stream: bytes) -> bytes:
    """The same stream as OpenAI sends it with include_usage: "usage":null on every chunk."""
    return stream.replace(b'"finish_reason":null}]}', b'"finish_reason":null}],"usage":null}')


def _relay(meter: StreamMeter, data: bytes, seed: int = 1) -> bytes:
    rng, out, pos = random.Random(seed), [], 0
    while pos < len(data):
        size = rng.randint(1, 64)
        out.append(meter.feed(data[pos : pos + size]))
        pos += size
    out.append(meter.finish())
    return b"".join(out)


def test_client_that_asked_for_usage_gets_the_bytes_untouched() -> None:
    meter = StreamMeter(hide_usage=False)
    assert _relay(meter, RECORDED) == RECORDED
    assert meter.usage is not None
    assert (meter.usage["prompt_tokens"], meter.usage["completion_tokens"]) == (14, 30)
    assert meter.finished


def test_injected_usage_is_metered_and_hidden() -> None:
    upstream = _with_null_usage(RECORDED)
    for seed in range(20):
        meter = StreamMeter(hide_usage=True)
        out = _relay(meter, upstream, seed)
        assert b'"usage"' not in out
        assert meter.usage is not None and meter.usage["total_tokens"] == 44
        usage_chunk_removed = RECORDED.replace(
            b"".join(e + b"\n\n" for e in RECORDED.split(b"\n\n") if b'"usage":{' in e), b""
        )
        assert out == usage_chunk_removed


def test_text_is_counted_for_estimates_when_usage_never_comes() -> None:
    without_usage = b"".join(e + b"\n\n" for e in RECORDED.split(b"\n\n")[:-1] if b"usage" not in e)
    meter = StreamMeter(hide_usage=True)
    _relay(meter, without_usage)
    text = "".join(
        (orjson.loads(e[6:])["choices"][0]["delta"].get("content") or "")
        for e in without_usage.split(b"\n\n")
        if e.startswith(b"data: {")
    )
    assert meter.usage is None
    assert meter.text_chars == len(text) > 0


def test_a_long_answer_without_usage_is_counted_from_a_sample() -> None:
    """Past SAMPLE_BYTES of content events the meter keeps no more of them: the count
    is scaled from what it kept, close to the truth for an even stream."""
    pieces = [f"word{i % 97} " for i in range(20_000)]
    events = b"".join(
        b"data: "
        + orjson.dumps(
            {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}}]}
        )
        + b"\n\n"
        for p in pieces
    )
    meter = StreamMeter(hide_usage=False)
    _relay(meter, events + b"data: [DONE]\n\n")
    true_chars = sum(len(p) for p in pieces)
    assert meter.usage is None and meter.finished
    assert abs(meter.text_chars - true_chars) / true_chars < 0.02
    assert meter.sample_chars > 2_000 and "".join(meter.sample).startswith("word0 word1 ")
