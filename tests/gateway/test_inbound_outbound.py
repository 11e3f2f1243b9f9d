from __future__ import annotations

import orjson
import pytest

from burncloud.errors import InvalidRequest
from burncloud.gateway.relay.inbound import (
    CHAT,
    CLIENT_OVERRIDES,
    COMPLETIONS,
    EMBEDDINGS,
    parse_request,
    without_overrides,
)
from burncloud.gateway.relay.outbound import upstream_body
from burncloud.providers.qwen import QwenProvider


def _chat(**fields) -> bytes:
    return orjson.dumps(
        {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], **fields}
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"messages": [{"role": "user", "content": "x"}]}',
        b'{"model": "gpt-4"}',
        b'{"model": "gpt-4", "messages": []}',
        _chat(stream_options={"include_usage": True}),
        _chat(max_tokens=0),
        _chat(stream="yes"),
    ],
)
def test_malformed_requests_are_400(body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        parse_request(CHAT, body)


def test_non_stream_body_goes_upstream_byte_for_byte() -> None:
    body = b'{ "model" : "gpt-4", "messages": [{"role":"user","content":"hi"}] }'
    request = parse_request(CHAT, body)
    assert upstream_body(request, "gpt-4", None) is body


def test_stream_without_options_gets_usage_spliced_not_reserialised() -> None:
    body = b'{ "model" : "gpt-4", "stream": true, "messages": [{"role":"user","content":"hi"}] }'
    request = parse_request(CHAT, body)
    sent = upstream_body(request, "gpt-4", None)
    assert sent == b'{"stream_options":{"include_usage":true},' + body[1:]
    assert orjson.loads(sent)["stream_options"] == {"include_usage": True}


def test_client_usage_request_passes_through_untouched() -> None:
    body = _chat(stream=True, stream_options={"include_usage": True})
    request = parse_request(CHAT, body)
    assert request.client_wants_usage
    assert upstream_body(request, "gpt-4", None) is body


def test_model_mapping_and_cap_rewrite_the_body() -> None:
    request = parse_request(CHAT, _chat(max_tokens=1000, stream=True, stream_options={"x": 1}))
    sent = orjson.loads(upstream_body(request, "gpt-4-0613", 200))
    assert sent["model"] == "gpt-4-0613"
    assert sent["max_tokens"] == 200
    assert sent["stream_options"] == {"x": 1, "include_usage": True}


def test_embeddings_never_stream() -> None:
    request = parse_request(EMBEDDINGS, b'{"model": "e", "input": "hello", "stream": true}')
    assert request.stream is False
    assert request.answer_budget() == 0


def test_qwen3_non_stream_goes_with_thinking_off_and_other_fields_intact() -> None:
    request = parse_request(CHAT, _chat(temperature=0.5))
    fields = QwenProvider().prepare(request.data, "qwen3-32b", request.stream)
    sent = orjson.loads(upstream_body(request, "qwen3-32b", None, fields))
    assert sent == {**request.data, "model": "qwen3-32b", "enable_thinking": False}


def test_unchanged_provider_fields_keep_the_bytes() -> None:
    body = _chat()
    request = parse_request(CHAT, body)
    fields = QwenProvider().prepare(request.data, "qwen-plus", request.stream)
    assert upstream_body(request, "gpt-4", None, fields) is body


def test_an_upstream_without_stream_options_never_gets_them() -> None:
    asked = parse_request(CHAT, _chat(stream=True, stream_options={"include_usage": True}))
    assert "stream_options" not in orjson.loads(upstream_body(asked, "gpt-4", None, None, False))
    plain = parse_request(CHAT, _chat(stream=True))
    assert upstream_body(plain, "gpt-4", None, None, False) is plain.body


@pytest.mark.parametrize(
    ("endpoint", "fields", "answers"),
    [
        (CHAT, {}, 1),
        (CHAT, {"n": 3}, 3),
        (COMPLETIONS, {"n": 2, "best_of": 5}, 5),
        (COMPLETIONS, {"n": 2, "prompt": ["a", "b", "c"]}, 6),
        (COMPLETIONS, {"prompt": [[1, 2], [3]]}, 2),
        (COMPLETIONS, {"prompt": [1, 2, 3]}, 1),  # one prompt as token ids
        (EMBEDDINGS, {"n": 5}, 1),
    ],
)
def test_the_answers_a_request_generates_are_counted(endpoint, fields, answers) -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "x"}], "prompt": "x"}
    base["input"] = "x"
    assert parse_request(endpoint, orjson.dumps({**base, **fields})).answers == answers


@pytest.mark.parametrize("n", [0, -1, 129, "3", True, 2.5])
def test_n_must_be_a_sane_integer(n) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "n": n}
    with pytest.raises(InvalidRequest, match="'n' must be an integer from 1 to 128"):
        parse_request(CHAT, orjson.dumps(body))


def test_client_overrides_are_dropped_and_only_then_is_the_body_rewritten() -> None:
    body = _chat(api_base="http://x", api_key="sk-x", extra_headers={"a": "b"}, temperature=0.5)
    request = parse_request(CHAT, body)
    assert orjson.loads(request.body) == orjson.loads(_chat(temperature=0.5))
    assert set(request.data).isdisjoint(CLIENT_OVERRIDES)
    assert upstream_body(request, "gpt-4", None) == request.body
    plain = _chat(temperature=0.5)
    data = orjson.loads(plain)
    assert without_overrides(data, plain) == (data, plain)
    assert without_overrides(data, plain)[1] is plain  # no re-serialisation


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (42, "'model' must be a string"),
        (["gpt-4"], "'model' must be a string"),
        ("gpt-4\r\nX-Evil: 1", "printable"),
        ("gpt-4\x00", "printable"),
        ("   ", "printable"),
        ("m" * 257, "at most 256"),
        (None, "you must provide a model parameter"),
    ],
)
def test_a_model_must_be_a_short_printable_name(model: object, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_request(CHAT, _chat(model=model))


def test_real_model_names_are_accepted() -> None:
    for model in ("ft:gpt-4o-mini:org::abc", "meta-llama/Llama-3-70b", "qwen-max 2", "m" * 256):
        assert parse_request(CHAT, _chat(model=model)).model == model
