"""Each forwarding mode alone, over the in-process transport: what goes upstream, what the
client gets, and the ``Metered`` it leaves for billing (no socket, no router)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from burncloud.config import Settings
from burncloud.gateway.egress.upstream import UpstreamFailure
from burncloud.gateway.relay.call import Call, NativeRequest
from burncloud.gateway.relay.converted import converted_chat
from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.forward import Forward
from burncloud.gateway.relay.inbound import CHAT, EMBEDDINGS, parse_request
from burncloud.gateway.relay.metering import Metered, measure
from burncloud.gateway.relay.modes import choose_mode
from burncloud.gateway.relay.native import native
from burncloud.gateway.relay.passthrough import passthrough
from burncloud.gateway.snapshot import Upstream
from burncloud.providers.base import TokenUsage
from tests.fakes.transport import FakeTransport, Reply, replying, sse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEY = "sk-canary-mode-key-0123456789"
USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}}],
}


@dataclass
class Deps:
    """What the modes use of the worker: the transport above all."""

    transport: FakeTransport
    settings: Settings = field(default_factory=Settings)
    estimator: TokenEstimator = field(default_factory=TokenEstimator)
    fetcher: Any = None


@dataclass
class Client:
    """The client's side of the ASGI exchange: what it was sent."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()  # the client stays until a test says otherwise
        return {"type": "http.disconnect"}

    @property
    def status(self) -> int:
        return self.messages[0]["status"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


def _upstream(kind: str, base_url: str = "https://upstream.test/v1") -> Upstream:
    return Upstream(1, kind, "fake", base_url, KEY, {}, {})


def _forward(
    transport: FakeTransport,
    body: dict[str, Any],
    kind: str = "openai",
    *,
    endpoint=CHAT,
    native_request: NativeRequest | None = None,
    model: str = "gpt-4o",
    cap: int | None = None,
) -> tuple[Forward, Client]:
    client = Client()
    request = parse_request(endpoint, orjson.dumps(body))
    call = Call(endpoint, {"headers": [], "client": None}, client.receive, client.send)
    exchange = Exchange(request_id="req-1")
    base = "https://api.anthropic.test" if kind == "anthropic" else "https://upstream.test/v1"
    forward = Forward(
        Deps(transport),  # type: ignore[arg-type]
        call,
        request,
        native_request,
        _upstream(kind, base),
        model,
        cap,
        exchange,
    )
    return forward, client


CHAT_BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}


async def test_passthrough_sends_the_clients_bytes_and_returns_the_answer_as_it_came() -> None:
    answer = orjson.dumps({**COMPLETION, "usage": USAGE})
    transport = FakeTransport(replying(Reply(parts=[answer])))
    forward, client = _forward(transport, CHAT_BODY)
    await passthrough(forward)
    (sent,) = transport.sent
    assert sent.url == "https://upstream.test/v1/chat/completions"
    assert sent.body == forward.request.body  # not re-serialised
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert (client.status, client.body) == (200, answer)
    metered = forward.exchange.metered
    assert metered is not None and metered.usage is not None
    assert (metered.usage.prompt_tokens, metered.usage.completion_tokens) == (10, 5)
    assert transport.answers[0].released


async def test_passthrough_without_usage_keeps_the_text_for_an_estimate() -> None:
    transport = FakeTransport(replying(Reply(parts=[orjson.dumps(COMPLETION)])))
    forward, _ = _forward(transport, CHAT_BODY)
    await passthrough(forward)
    metered = forward.exchange.metered
    assert metered is not None and metered.usage is None and metered.texts == ["Hi!"]
    usage, estimated = await measure(metered, TokenEstimator())
    assert estimated and usage.prompt_tokens > 0 and usage.completion_tokens >= 1


def _chunk(content: str | None = None, usage: dict | None = None, finish: bool = False) -> bytes:
    choices = [] if content is None and usage else [{"index": 0, "delta": {"content": content}}]
    if finish:
        choices = [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    event = {"id": "c", "object": "chat.completion.chunk", "choices": choices, "usage": usage}
    return b"data: " + orjson.dumps(event)


async def test_passthrough_stream_hides_the_usage_it_asked_for() -> None:
    events = sse(
        _chunk("Hel"), _chunk("lo"), _chunk(finish=True), _chunk(usage=USAGE), b"data: [DONE]"
    )
    transport = FakeTransport(replying(Reply(parts=events)))
    forward, client = _forward(transport, {**CHAT_BODY, "stream": True})
    await passthrough(forward)
    assert b'"stream_options":{"include_usage":true}' in transport.sent[0].body
    assert client.status == 200 and b"Hel" in client.body and b"[DONE]" in client.body
    assert b'"prompt_tokens"' not in client.body  # the usage chunk was burncloud's
    metered = forward.exchange.metered
    assert metered is not None and metered.usage is not None
    assert metered.usage.completion_tokens == 5


async def test_a_stream_that_breaks_off_ends_with_an_error_event_and_bills_what_came() -> None:
    events = sse(_chunk("Hello there"), _chunk(" and more"), _chunk(usage=USAGE))
    transport = FakeTransport(replying(Reply(parts=events, break_after=2)))
    forward, client = _forward(transport, {**CHAT_BODY, "stream": True})
    await passthrough(forward)
    assert forward.exchange.status == 502
    assert client.body.rstrip().endswith(b"}") and b'"error"' in client.body
    metered = forward.exchange.metered
    assert metered is not None and metered.usage is None
    assert metered.text_chars == len("Hello there and more")


async def test_a_refusal_is_an_upstream_failure_with_the_key_masked() -> None:
    error = {"error": {"message": f"bad key {KEY}", "type": "invalid_request_error"}}
    transport = FakeTransport(replying(Reply(status=400, parts=[orjson.dumps(error)])))
    forward, client = _forward(transport, CHAT_BODY)
    with pytest.raises(UpstreamFailure) as failure:
        await passthrough(forward)
    assert failure.value.status == 400 and not failure.value.retryable
    assert KEY[:12] not in failure.value.error.message
    assert client.messages == [] and transport.answers[0].released


async def test_an_unreachable_upstream_is_a_retryable_failure() -> None:
    forward, _ = _forward(FakeTransport(unreachable=True), CHAT_BODY)
    with pytest.raises(UpstreamFailure) as failure:
        await passthrough(forward)
    assert failure.value.status is None and failure.value.retryable
    assert failure.value.error.status == 503


ANTHROPIC_BODY = {
    "model": "claude",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hello"}],
}


async def test_converted_chat_speaks_the_providers_format_both_ways() -> None:
    answer = (FIXTURES / "anthropic" / "anthropic_nonstream_tool_use.json").read_bytes()
    transport = FakeTransport(replying(Reply(parts=[answer])))
    forward, client = _forward(
        transport, {"model": "claude", "messages": CHAT_BODY["messages"]}, "anthropic"
    )
    await converted_chat(forward)
    sent = orjson.loads(transport.sent[0].body)
    assert transport.sent[0].url == "https://api.anthropic.test/v1/messages"
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    completion = orjson.loads(client.body)
    assert completion["object"] == "chat.completion"
    metered = forward.exchange.metered
    assert metered is not None and metered.usage is not None
    assert (metered.usage.prompt_tokens, metered.usage.completion_tokens) == (1577, 86)


async def test_converted_stream_transcodes_as_it_arrives() -> None:
    stream = (FIXTURES / "anthropic" / "anthropic_stream_basic_text.sse").read_bytes()
    parts = [stream[i : i + 37] for i in range(0, len(stream), 37)]  # any chunking
    transport = FakeTransport(replying(Reply(parts=parts)))
    body = {"model": "claude", "messages": CHAT_BODY["messages"], "stream": True}
    forward, client = _forward(transport, body, "anthropic")
    await converted_chat(forward)
    text = b"".join(
        orjson.loads(line[6:])["choices"][0]["delta"].get("content", "").encode()
        for line in client.body.split(b"\n")
        if line.startswith(b"data: {") and b'"choices":[{' in line
    )
    assert text == b"Hello there!" and client.body.endswith(b"data: [DONE]\n\n")
    metered = forward.exchange.metered
    assert metered is not None and metered.usage is not None
    assert metered.usage.completion_tokens == 6


def _native_request(raw: bytes, send) -> NativeRequest:
    def refuse() -> Any:
        raise AssertionError("a native request must not be converted")

    return NativeRequest(
        speaks=lambda upstream, _model: upstream.type == "anthropic",
        raw=raw,
        body=orjson.loads(raw),
        stream=False,
        client_headers={"anthropic-version": "2023-06-01"},
        send=send,
        stream_error=lambda message: message.encode(),
        convert=refuse,
    )


async def test_native_sends_the_door_request_untouched_and_answers_as_it_came() -> None:
    answer = (FIXTURES / "anthropic" / "anthropic_nonstream_tool_use.json").read_bytes()
    transport = FakeTransport(replying(Reply(parts=[answer])))
    raw = b'{"model":"claude", "max_tokens":50,"messages":[{"role":"user","content":"hello"}]}'
    door_client = Client()
    forward, openai_client = _forward(
        transport,
        {"model": "claude", "messages": CHAT_BODY["messages"]},
        "anthropic",
        native_request=_native_request(raw, door_client.send),
        model="claude",
    )
    await native(forward)
    assert transport.sent[0].body == raw
    assert door_client.body == answer and openai_client.messages == []
    metered = forward.exchange.metered
    assert metered is not None and metered.usage is not None
    assert metered.usage.prompt_tokens == 1577


@pytest.mark.parametrize(
    ("kind", "endpoint", "door", "mode"),
    [
        ("openai", CHAT, False, passthrough),
        ("qwen", CHAT, False, passthrough),
        ("anthropic", CHAT, False, converted_chat),
        ("anthropic", CHAT, True, native),
    ],
)
def test_the_mode_is_one_lookup(kind, endpoint, door, mode) -> None:
    send = Client().send
    native_request = _native_request(orjson.dumps(ANTHROPIC_BODY), send) if door else None
    forward, _ = _forward(FakeTransport(), CHAT_BODY, kind, native_request=native_request)
    assert choose_mode(forward)[0] is mode


def test_a_door_request_for_another_format_goes_converted_and_capped() -> None:
    converted = parse_request(CHAT, orjson.dumps({**CHAT_BODY, "max_tokens": 128_000}))
    door = _native_request(orjson.dumps(ANTHROPIC_BODY), Client().send)
    door = NativeRequest(**{**_fields(door), "convert": lambda: converted})
    forward, _ = _forward(FakeTransport(), CHAT_BODY, "openai", native_request=door)
    mode, ready = choose_mode(forward)
    assert mode is passthrough and ready.request is converted and ready.native is None
    assert ready.cap == 16_384  # gpt-4o's published limit


def test_embeddings_on_a_converted_channel_take_the_embeddings_mode() -> None:
    from burncloud.gateway.relay.converted import converted_embeddings

    body = {"model": "text-embedding", "input": "hello"}
    forward, _ = _forward(FakeTransport(), body, "gemini", endpoint=EMBEDDINGS)
    assert choose_mode(forward)[0] is converted_embeddings


def _fields(door: NativeRequest) -> dict[str, Any]:
    return {name: getattr(door, name) for name in NativeRequest.__dataclass_fields__}


LONG_ANSWER = [f"word{i % 97} " for i in range(12_000)]  # ~83,000 characters, even


async def _estimated_on_all_of(metered: Metered | None, texts: list[str]) -> None:
    """The estimate scales the sample's token count to every character generated."""
    assert metered is not None and metered.usage is None
    assert metered.text_chars == sum(map(len, texts)) > 5 * sum(map(len, metered.texts))
    estimator = TokenEstimator()
    usage, estimated = await measure(metered, estimator)
    whole = await estimator.completion_tokens(texts, metered.prompt.model)
    assert estimated and abs(usage.completion_tokens - whole) <= whole // 50


async def test_a_long_converted_answer_without_usage_is_estimated_on_all_its_text() -> None:
    parts = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": piece}]}}]}
        for piece in LONG_ANSWER
    ]
    parts[-1]["candidates"][0]["finishReason"] = "STOP"  # a whole answer, no usageMetadata
    transport = FakeTransport(
        replying(Reply(parts=sse(*(b"data: " + orjson.dumps(p) for p in parts))))
    )
    body = {"model": "gemini-2.0-flash", "messages": CHAT_BODY["messages"], "stream": True}
    forward, client = _forward(transport, body, "gemini", model="gemini-2.0-flash")
    await converted_chat(forward)
    assert client.body.endswith(b"data: [DONE]\n\n") and forward.exchange.status == 200
    await _estimated_on_all_of(forward.exchange.metered, LONG_ANSWER)


async def test_a_long_native_answer_cut_before_its_usage_is_estimated_on_all_its_text() -> None:
    def event(kind: str, **fields: Any) -> bytes:
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **fields})

    start = {"id": "msg_1", "role": "assistant", "content": [], "usage": {"input_tokens": 9}}
    events = [
        event("message_start", message=start),
        event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        *(
            event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
            for piece in LONG_ANSWER
        ),
    ]  # cut before message_delta: no usage
    transport = FakeTransport(replying(Reply(parts=sse(*events))))
    raw = orjson.dumps({**ANTHROPIC_BODY, "stream": True})
    door_client = Client()
    door = _native_request(raw, door_client.send)
    converted = parse_request(CHAT, orjson.dumps({**CHAT_BODY, "model": "claude"}))
    door = NativeRequest(**{**_fields(door), "stream": True, "convert": lambda: converted})
    forward, _ = _forward(
        transport, ANTHROPIC_BODY, "anthropic", native_request=door, model="claude"
    )
    await native(forward)
    assert door_client.body.startswith(b"event: message_start")
    await _estimated_on_all_of(forward.exchange.metered, LONG_ANSWER)


async def test_passthrough_meters_every_kind_the_answer_reports() -> None:
    answer = (FIXTURES / "openai" / "chat_nonstream_audio_input.json").read_bytes()
    transport = FakeTransport(replying(Reply(parts=[answer])))
    forward, client = _forward(transport, CHAT_BODY)
    await passthrough(forward)
    assert client.body == answer
    metered = forward.exchange.metered
    assert metered is not None  # 64 prompt tokens, 44 of them audio; 9 completion tokens
    assert metered.usage == TokenUsage(64, 9, audio_input_tokens=44)


async def test_a_native_stream_meters_the_one_hour_cache_write() -> None:
    recorded = (FIXTURES / "anthropic" / "anthropic_stream_cache_write_1h.sse").read_bytes()
    transport = FakeTransport(replying(Reply(parts=[recorded[:700], recorded[700:]])))
    door_client = Client()
    raw = orjson.dumps({**ANTHROPIC_BODY, "stream": True})
    door = NativeRequest(**{**_fields(_native_request(raw, door_client.send)), "stream": True})
    forward, _ = _forward(
        transport, ANTHROPIC_BODY, "anthropic", native_request=door, model="claude"
    )
    await native(forward)
    assert door_client.body == recorded
    metered = forward.exchange.metered
    assert metered is not None  # input 13 + a 3,913-token write for one hour; output 4
    assert metered.usage == TokenUsage(3926, 4, cache_write_tokens=3913, cache_write_1h_tokens=3913)


async def test_a_native_answer_meters_its_cache_write_and_read() -> None:
    name = "anthropic_nonstream_cache_write_5m_and_read.json"
    answer = (FIXTURES / "anthropic" / name).read_bytes()
    transport = FakeTransport(replying(Reply(parts=[answer])))
    door_client = Client()
    raw = orjson.dumps(ANTHROPIC_BODY)
    forward, _ = _forward(
        transport,
        ANTHROPIC_BODY,
        "anthropic",
        native_request=_native_request(raw, door_client.send),
        model="claude",
    )
    await native(forward)
    metered = forward.exchange.metered
    assert metered is not None  # input 3 + 418 written for 5 minutes + 1,111 read; output 33
    assert metered.usage == TokenUsage(1532, 33, cached_tokens=1111, cache_write_tokens=418)
