"""OpenAI-style stream relaying (OpenAI, compatibles, Azure, Qwen) against recorded streams."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState, ParsedChatCompletionSnapshot
from openai.types.chat import ChatCompletionChunk

from burncloud.protocols.openai_chunks import DONE
from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.azure import AzureProvider
from burncloud.providers.base import ChatProvider, ChatStream
from burncloud.providers.openai import OpenAIProvider
from burncloud.providers.openai.stream import CUT_SHORT
from burncloud.providers.qwen import QwenProvider
from burncloud.providers.text_sample import SAMPLE_CHARS

FIXTURES = Path(__file__).parent.parent / "fixtures"


@dataclass(frozen=True, slots=True)
class Case:
    provider: ChatProvider
    fixture: str
    text: str
    finish: str
    usage: tuple[int, int] | None


CASES = [
    Case(
        OpenAIProvider(),
        "openai/chat_stream_text_with_usage.sse",
        "I'm unable to provide",
        "stop",
        (14, 30),
    ),
    Case(OpenAIProvider(), "openai/chat_stream_tool_call.sse", "", "tool_calls", (76, 24)),
    Case(OpenAIProvider(), "openai/chat_stream_parallel_tool_calls.sse", "", "tool_calls", None),
    Case(OpenAIProvider(), "openai/chat_stream_n3_multiple_choices.sse", "", "stop", None),
    Case(OpenAIProvider(), "openai/chat_stream_length.sse", '{"', "length", (79, 1)),
    Case(OpenAIProvider(), "openai/chat_stream_refusal.sse", "", "stop", (79, 11)),
    Case(
        AzureProvider(),
        "azure/chat_stream_prompt_filter_first_chunk.sse",
        "Hallo Welt!",
        "stop",
        None,
    ),
    Case(
        QwenProvider(),
        "qwen/compat_stream_with_usage.sse",
        "I am a large-scale language model from Alibaba Cloud, and my name is Qwen.",
        "stop",
        (22, 17),
    ),
]
IDS = [case.fixture for case in CASES]


def relay(stream: ChatStream, raw: bytes, pieces: list[bytes] | None = None) -> bytes:
    return b"".join(stream.feed(piece) for piece in pieces or [raw]) + stream.finish()


def rechunk(raw: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(raw)), k=min(len(raw) - 1, rng.randint(1, 60))))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


def events(out: bytes) -> list[dict]:
    """The JSON of every data event, checking the stream ends with exactly one [DONE]."""
    framer = SSEFramer()
    parsed = [parse_event(raw) for raw in framer.feed(out)]
    assert framer.flush() == b""
    data = [event.data for event in parsed if event is not None]
    assert data[-1] == "[DONE]"
    assert data.count("[DONE]") == 1
    return [orjson.loads(item) for item in data[:-1]]


def accumulate(out: bytes) -> ParsedChatCompletionSnapshot:
    """What the OpenAI SDK's own accumulator makes of the stream (validating every chunk)."""
    state: ChatCompletionStreamState = ChatCompletionStreamState()
    for chunk in events(out):
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.current_completion_snapshot  # get_final_completion() raises on length


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_output_does_not_depend_on_chunk_boundaries(case: Case, include_usage: bool) -> None:
    raw = (FIXTURES / case.fixture).read_bytes()
    reference = case.provider.chat_stream("m", include_usage)
    whole = relay(reference, raw)
    splits = [rechunk(raw, seed) for seed in range(6)] + [[bytes([b]) for b in raw]]
    for pieces in splits:
        stream = case.provider.chat_stream("m", include_usage)
        assert relay(stream, raw, pieces) == whole
        assert (stream.usage, stream.texts()) == (reference.usage, reference.texts())


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_sdk_accumulates_the_expected_answer(case: Case, include_usage: bool) -> None:
    raw = (FIXTURES / case.fixture).read_bytes()
    stream = case.provider.chat_stream("m", include_usage)
    out = relay(stream, raw, rechunk(raw, 42))
    completion = accumulate(out)
    assert completion.choices[0].finish_reason == case.finish
    assert (completion.choices[0].message.content or "").startswith(case.text)
    if case.usage is not None:
        assert stream.usage is not None
        assert (stream.usage.prompt_tokens, stream.usage.completion_tokens) == case.usage
    assert stream.texts()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_usage_is_hidden_unless_the_client_asked(case: Case) -> None:
    raw = (FIXTURES / case.fixture).read_bytes()
    hidden = events(relay(case.provider.chat_stream("m", False), raw))
    shown = events(relay(case.provider.chat_stream("m", True), raw))
    assert all("usage" not in chunk and chunk["choices"] for chunk in hidden)
    assert [chunk for chunk in shown if chunk.get("usage")] == [
        chunk for chunk in events(raw) if chunk.get("usage")
    ]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.fixture.startswith("openai/")], ids=lambda case: case.fixture
)
def test_openai_streams_pass_through_byte_for_byte_when_usage_was_asked(case: Case) -> None:
    raw = (FIXTURES / case.fixture).read_bytes()
    assert relay(OpenAIProvider().chat_stream("m", True), raw, rechunk(raw, 3)) == raw


def test_tool_call_arguments_are_assembled_by_index() -> None:
    raw = (FIXTURES / "openai/chat_stream_parallel_tool_calls.sse").read_bytes()
    completion = accumulate(relay(OpenAIProvider().chat_stream("m", False), raw))
    calls = completion.choices[0].message.tool_calls or []
    assert len(calls) == 2
    assert all(orjson.loads(call.function.arguments) for call in calls)
    assert len({call.id for call in calls}) == 2


def test_n_choices_each_finish() -> None:
    raw = (FIXTURES / "openai/chat_stream_n3_multiple_choices.sse").read_bytes()
    completion = accumulate(relay(OpenAIProvider().chat_stream("m", False), raw))
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    assert all(choice.finish_reason == "stop" for choice in completion.choices)


def test_refusals_are_metered_and_relayed() -> None:
    raw = (FIXTURES / "openai/chat_stream_refusal.sse").read_bytes()
    stream = OpenAIProvider().chat_stream("m", False)
    completion = accumulate(relay(stream, raw))
    assert completion.choices[0].message.refusal == "I'm sorry, I can't assist with that request."
    assert "".join(stream.texts()) == completion.choices[0].message.refusal


def test_azure_prompt_filter_chunk_and_annotations_are_dropped() -> None:
    raw = (FIXTURES / "azure/chat_stream_prompt_filter_first_chunk.sse").read_bytes()
    stream = AzureProvider().chat_stream("gpt-4o", True)
    chunks = events(relay(stream, raw))
    assert len(chunks) == 5  # the filter chunk is gone; the 5 real ones stay
    assert all(chunk["id"] == "chatcmpl-BleatwEUn3D8iXsgXpDqeOPEMuW3j" for chunk in chunks)
    assert not any(b"filter_results" in orjson.dumps(chunk) for chunk in chunks)
    assert stream.usage is None


AZURE_FILTERED = (
    b'data: {"choices":[],"created":0,"id":"","model":"","object":"",'
    b'"prompt_filter_results":[]}\n\n'
    b'data: {"choices":[{"delta":{"role":"assistant","content":"Once"},"finish_reason":null,'
    b'"index":0}],"created":1,"id":"c1","model":"gpt-4o","object":"chat.completion.chunk"}\n\n'
    b'data: {"choices":[{"content_filter_offsets":{"check_offset":0},"content_filter_results":'
    b'{"violence":{"filtered":true,"severity":"high"}},"delta":{},"finish_reason":null,"index":0}],'
    b'"created":1,"id":"c1","model":"gpt-4o","object":"chat.completion.chunk"}\n\n'
    b'data: {"choices":[{"content_filter_results":{"violence":{"filtered":true}},"delta":{},'
    b'"finish_reason":"content_filter","index":0}],"created":1,"id":"c1","model":"gpt-4o",'
    b'"object":"chat.completion.chunk"}\n\n'
    b'data: {"choices":[],"created":1,"id":"c1","model":"gpt-4o","object":"chat.completion.chunk",'
    b'"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}\n\n'
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("include_usage", [True, False])
def test_azure_content_filter_finish_is_kept(include_usage: bool) -> None:
    stream = AzureProvider().chat_stream("gpt-4o", include_usage)
    out = relay(stream, AZURE_FILTERED)
    chunks = events(out)
    assert accumulate(out).choices[0].finish_reason == "content_filter"
    assert len(chunks) == (3 if include_usage else 2)  # annotation-only chunk dropped
    assert stream.usage is not None
    assert stream.usage.prompt_tokens == 9


def _chunk(delta: dict, finish: str | None = None, **extra: object) -> bytes:
    body = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "qwen3-32b",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


QWEN_THINKING = b"".join(
    [
        _chunk({"content": None, "role": "assistant", "reasoning_content": ""}, usage=None),
        _chunk({"content": None, "reasoning_content": "用户问好，"}, usage=None),
        _chunk({"content": None, "reasoning_content": "回答 🙂"}, usage=None),
        _chunk({"content": "你好！"}, usage=None),
        _chunk({"content": ""}, "stop", usage=None),
        b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"qwen3-32b",'
        b'"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30,'
        b'"completion_tokens_details":{"reasoning_tokens":14},'
        b'"prompt_tokens_details":{"cached_tokens":4}}}\n\n',
        b"data: [DONE]\n\n",
    ]
)


def test_qwen_reasoning_deltas_survive_one_byte_reads() -> None:
    stream = QwenProvider().chat_stream("qwen3-32b", False)
    out = relay(stream, QWEN_THINKING, [bytes([b]) for b in QWEN_THINKING])
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content") or "" for c in events(out)
    )
    assert reasoning == "用户问好，回答 🙂"
    assert accumulate(out).choices[0].message.content == "你好！"
    assert stream.texts() == ["用户问好，", "回答 🙂", "你好！"]
    assert stream.usage is not None
    assert (stream.usage.reasoning_tokens, stream.usage.cached_tokens) == (14, 4)


def test_usage_on_the_finishing_chunk_is_recorded_then_hidden() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    raw = _chunk({"role": "assistant", "content": "Hi"}) + _chunk({}, "stop", usage=usage) + DONE
    hidden = OpenAIProvider("openai-compatible").chat_stream("m", False)
    shown = OpenAIProvider("openai-compatible").chat_stream("m", True)
    assert all("usage" not in chunk for chunk in events(relay(hidden, raw)))
    assert events(relay(shown, raw))[-1]["usage"] == usage
    assert hidden.usage == shown.usage
    assert hidden.usage is not None
    assert hidden.usage.completion_tokens == 2


def test_the_last_non_null_usage_wins() -> None:
    first = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    last = {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}
    raw = _chunk({"content": "a"}, usage=first) + _chunk({}, "stop", usage=None)
    stream = QwenProvider().chat_stream("m", False)
    relay(stream, raw + b'data: {"choices":[],"usage":' + orjson.dumps(last) + b"}\n\n" + DONE)
    assert stream.usage is not None
    assert stream.usage.completion_tokens == 9


def test_crlf_pings_and_comments_are_handled() -> None:
    raw = (FIXTURES / "qwen/compat_stream_with_usage.sse").read_bytes()
    crlf = b": keep-alive\r\n\r\n" + raw.replace(b"\n", b"\r\n")
    stream = QwenProvider().chat_stream("qwen-plus", False)
    out = relay(stream, crlf, rechunk(crlf, 9))
    assert out.startswith(b": keep-alive\r\n\r\n")
    expected = relay(QwenProvider().chat_stream("qwen-plus", False), raw)
    assert accumulate(out) == accumulate(expected)
    assert stream.usage is not None
    assert stream.usage.prompt_tokens == 22


def test_in_band_upstream_error_becomes_an_openai_error_event() -> None:
    raw = _chunk({"role": "assistant", "content": "Hel"}) + (
        b'data: {"error":{"message":"The server had an error","type":"server_error",'
        b'"param":null,"code":null}}\n\n'
    )
    out = relay(OpenAIProvider().chat_stream("m", False), _chunk({}, error=None) + raw)
    assert events(out)[0]["error"] is None  # a null error member is no error
    error = events(out)[-1]["error"]
    assert error["message"] == "The server had an error"
    assert (error["type"], error["code"]) == ("server_error", "upstream_error")


def test_a_cut_stream_drops_the_torn_event_and_ends_with_an_error_and_done() -> None:
    raw = _chunk({"role": "assistant", "content": "whole"}) + b'data: {"id":"c","choi'
    *chunks, error = events(relay(OpenAIProvider().chat_stream("m", False), raw))
    assert [c["choices"][0]["delta"]["content"] for c in chunks] == ["whole"]
    assert error["error"]["message"] == CUT_SHORT


def test_an_unterminated_last_event_is_still_relayed() -> None:
    raw = _chunk({"role": "assistant", "content": "a"}) + _chunk({}, "stop").rstrip(b"\n")
    *chunks, error = events(relay(OpenAIProvider().chat_stream("m", False), raw))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert error["error"]["message"] == CUT_SHORT  # no [DONE]: it may have been cut there


@pytest.mark.parametrize("provider", [OpenAIProvider(), AzureProvider()], ids=["read", "parsed"])
def test_texts_keep_a_bounded_sample_and_count_every_character(provider: ChatProvider) -> None:
    stream = provider.chat_stream("m", False)
    piece = _chunk({"content": "x" * 1000})
    for _ in range(50):
        stream.feed(piece)
    assert sum(map(len, stream.texts())) == SAMPLE_CHARS
    assert stream.text_chars == 50_000  # read from a sample of even chunks: exact


def test_named_and_multi_line_events_go_out_as_plain_data_lines() -> None:
    body = orjson.loads(_chunk({"role": "assistant", "content": "Hi"})[6:])
    multi = orjson.dumps(body, option=orjson.OPT_INDENT_2).replace(b"\n", b"\ndata: ")
    raw = (
        b"event: ping\n\n"
        + b"event: message\nid: 1\n"
        + _chunk({"content": "!"})
        + b"data: "
        + multi
        + b"\n\n"
        + b": OPENROUTER PROCESSING\n\n"
        + DONE
    )
    out = relay(OpenAIProvider("openai-compatible").chat_stream("m", False), raw)
    assert b"event:" not in out
    assert b"id:" not in out
    assert all(line.startswith((b"data: {", b": OPENROUTER")) for line in out.split(b"\n\n")[:-2])
    assert [c["choices"][0]["delta"]["content"] for c in events(out)] == ["!", "Hi"]
