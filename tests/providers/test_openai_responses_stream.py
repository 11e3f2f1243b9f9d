"""The Responses stream meter, fed the recorded OpenAI streams (tests/fixtures/openai)."""

from __future__ import annotations

import orjson
import pytest

from burncloud.providers.openai.responses_stream import (
    ResponsesEventStream,
    event_type,
    response_texts,
)
from burncloud.providers.openai.stream import CUT_SHORT
from tests.fakes.openai_upstream import RECORDINGS, event_data, recorded_events

TEXT = "responses_stream_text.sse"
CALL = "responses_stream_function_call.sse"


def _relay(meter: ResponsesEventStream, raw: bytes, size: int = 7) -> bytes:
    """Feed ``raw`` in ``size``-byte pieces, as a network would cut it."""
    return b"".join(meter.feed(raw[i : i + size]) for i in range(0, len(raw), size))


@pytest.mark.parametrize(("name", "usage"), [(TEXT, (278, 9)), (CALL, (255, 16))])
def test_recorded_stream_goes_out_byte_for_byte_with_its_usage(name, usage) -> None:
    raw = (RECORDINGS / name).read_bytes()
    meter = ResponsesEventStream()
    out = _relay(meter, raw) + meter.finish()
    assert out == raw
    assert meter.finished and not meter.failed and meter.failure is None
    assert meter.usage is not None
    assert (meter.usage.prompt_tokens, meter.usage.completion_tokens) == usage


def test_deltas_are_sampled_for_an_estimate() -> None:
    text, call = ResponsesEventStream(), ResponsesEventStream()
    text.feed((RECORDINGS / TEXT).read_bytes())
    call.feed((RECORDINGS / CALL).read_bytes())
    assert "".join(text.texts()) == "The capital of France is Paris."
    assert text.text_chars == len("The capital of France is Paris.")
    assert "".join(call.texts()) == '{"country":"France"}'


def test_a_stream_cut_before_its_terminal_event_ends_with_an_error_event() -> None:
    events = recorded_events(TEXT)[:6]
    meter = ResponsesEventStream()
    out = meter.feed(b"".join(events))
    tail = meter.finish()
    assert out == b"".join(events)
    assert tail.startswith(b"event: error\ndata: ")
    error = event_data(tail)
    assert error == {
        "type": "error",
        "code": "upstream_error",
        "message": CUT_SHORT,
        "param": None,
        "sequence_number": 6,
    }
    assert meter.usage is None and meter.failure == (502, CUT_SHORT) and meter.finished
    assert "".join(meter.texts()) == "The capital"


def test_a_torn_last_event_is_dropped_and_a_whole_unterminated_one_kept() -> None:
    events = recorded_events(TEXT)
    torn = ResponsesEventStream()
    torn.feed(b"".join(events[:-1]) + events[-1][:40])
    assert torn.finish().startswith(b"event: error\n")
    whole = ResponsesEventStream()
    whole.feed(b"".join(events[:-1]) + events[-1].rstrip(b"\n"))
    assert whole.finish() == events[-1] and whole.usage is not None and not whole.failed


def test_nothing_after_the_terminal_event_is_relayed() -> None:
    meter = ResponsesEventStream()
    meter.feed(b"".join(recorded_events(TEXT)))
    assert meter.feed(b"event: response.output_text.delta\ndata: {}\n\n") == b""
    assert meter.finish() == b""


def test_failed_and_incomplete_responses_carry_their_usage() -> None:
    usage = {"input_tokens": 10, "output_tokens": 3}
    failed = {
        "type": "response.failed",
        "response": {"usage": usage, "error": {"code": "rate_limit_exceeded", "message": "slow"}},
    }
    meter = ResponsesEventStream()
    meter.feed(b"data: " + orjson.dumps(failed) + b"\n\n")
    assert meter.failed and meter.failure == (429, "slow") and meter.usage is not None
    assert meter.usage.completion_tokens == 3 and meter.finish() == b""
    incomplete = {"type": "response.incomplete", "response": {"usage": usage}}
    meter = ResponsesEventStream()
    meter.feed(b"event: response.incomplete\ndata: " + orjson.dumps(incomplete) + b"\n\n")
    assert meter.finished and not meter.failed and meter.usage.prompt_tokens == 10


def test_an_upstream_error_event_is_passed_on_and_not_doubled() -> None:
    error = b'event: error\ndata: {"type":"error","code":"server_error","message":"boom"}\n\n'
    meter = ResponsesEventStream()
    assert meter.feed(b": keep-alive\n\n" + error) == b": keep-alive\n\n" + error
    assert meter.finish() == b"" and meter.failure == (502, "boom")


def test_event_type_reads_the_event_line_or_the_data() -> None:
    assert event_type(b"event: response.created\ndata: {}\n\n") == b"response.created"
    assert event_type(b'data: {"type":"response.completed","response":{}}\n\n') == (
        b"response.completed"
    )
    assert event_type(b'data: {"response":{},"type":"error"}\n\n') == b"error"
    assert event_type(b": comment\n\n") is None


def test_response_texts_reads_output_items() -> None:
    answer = event_data(recorded_events(CALL)[-1])["response"]
    assert response_texts(answer) == ["get_capital", '{"country":"France"}']
    answer = event_data(recorded_events(TEXT)[-1])["response"]
    assert response_texts(answer) == ["The capital of France is Paris."]
