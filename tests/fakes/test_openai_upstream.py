"""The fake OpenAI upstream behaves like OpenAI for the official SDK, and its switches work."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.fakes import DEFAULT_MODELS, MID_STREAM_ERROR, FakeOpenAI, running_fake_openai

KEY = "sk-canary-upstream"
USER = [{"role": "user", "content": "hi there"}]
CHAT = {"model": "gpt-4o-mini", "messages": USER}
TLS = ssl.create_default_context()  # shared: building one per client costs ~25 ms


def async_sdk(fake: FakeOpenAI, key: str = KEY) -> openai.AsyncOpenAI:
    http_client = openai.DefaultAsyncHttpxClient(verify=TLS)
    return openai.AsyncOpenAI(
        base_url=fake.base_url, api_key=key, max_retries=0, http_client=http_client
    )


def sync_sdk(fake: FakeOpenAI) -> openai.OpenAI:
    http_client = openai.DefaultHttpxClient(verify=TLS)
    return openai.OpenAI(
        base_url=fake.base_url, api_key=KEY, max_retries=0, http_client=http_client
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(KEY) as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with async_sdk(fake) as sdk:
        yield sdk


@pytest.fixture
async def http(fake: FakeOpenAI) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=fake.base_url, headers=headers, verify=TLS) as raw:
        yield raw


def events_of(raw: bytes) -> list[bytes]:
    """The data payloads of an SSE body, [DONE] included."""
    assert raw.endswith(b"\n\n")
    return [event.removeprefix(b"data: ") for event in raw.split(b"\n\n")[:-1]]


async def stream_raw(http: httpx.AsyncClient, **extra: Any) -> list[bytes]:
    response = await http.post("/chat/completions", json={**CHAT, "stream": True, **extra})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    return events_of(response.content)


async def test_chat_echoes_the_last_user_message_with_word_usage(client, fake) -> None:
    messages = [{"role": "system", "content": "Be brief"}, *USER]
    answer = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.content == "Hello! You said: hi there"
    assert answer.choices[0].finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (4, 5)
    assert answer.usage.total_tokens == 9
    assert (fake.prompt_tokens_served, fake.completion_tokens_served) == (4, 5)


def test_sync_sdk_talks_to_the_background_thread_server() -> None:
    options = {"reply": "Sure.", "prompt_tokens": 100, "completion_tokens": 200}
    with (
        running_fake_openai(KEY, **options) as fake,
        sync_sdk(fake) as sdk,
    ):
        answer = sdk.chat.completions.create(**CHAT)
        stream = sdk.chat.completions.create(
            **CHAT, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
    assert answer.choices[0].message.content == "Sure."
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (100, 200)
    assert chunks[-1].usage.completion_tokens == 200
    assert fake.request_count == 2
    assert fake.completion_tokens_served == 400


def test_sync_mode_sees_a_client_timeout_as_a_cancel() -> None:
    with (
        running_fake_openai(KEY) as fake,
        sync_sdk(fake) as sdk,
    ):
        fake.stall_before_headers = 5
        with pytest.raises(openai.APITimeoutError):
            sdk.chat.completions.create(**CHAT, timeout=0.1)
        fake.wait_until_blocking(lambda: fake.cancelled == 1, within=1.0)


async def test_stream_without_include_usage_has_no_usage_key_anywhere(http) -> None:
    events = await stream_raw(http)
    assert events[-1] == b"[DONE]"
    chunks = [orjson.loads(event) for event in events[:-1]]
    assert all("usage" not in chunk for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert chunks[-1]["choices"][0]["delta"] == {}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == (
        "Hello! You said: hi there"
    )


async def test_stream_events_are_compact_json(http) -> None:
    events = await stream_raw(http, stream_options={"include_usage": True})
    assert all(orjson.dumps(orjson.loads(event)) == event for event in events[:-1])
    assert b'"object":"chat.completion.chunk"' in events[0]


async def test_include_usage_adds_one_final_usage_chunk_and_null_elsewhere(http, client) -> None:
    events = await stream_raw(http, stream_options={"include_usage": True})
    chunks = [orjson.loads(event) for event in events[:-1]]
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 5
    stream = await client.chat.completions.create(
        **CHAT, stream=True, stream_options={"include_usage": True}
    )
    usages = [chunk.usage for chunk in [c async for c in stream] if chunk.usage is not None]
    assert [(u.prompt_tokens, u.completion_tokens) for u in usages] == [(2, 5)]


async def test_chunks_setting_splits_the_reply_into_that_many_pieces(client, fake) -> None:
    fake.reply, fake.chunks = "The quick brown fox jumps over the lazy dog", 20
    stream = await client.chat.completions.create(
        **CHAT, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) == 20
    assert "".join(pieces) == fake.reply
    assert chunks[-1].usage.completion_tokens == 20


async def test_max_tokens_caps_the_answer_with_finish_reason_length(client) -> None:
    answer = await client.chat.completions.create(**CHAT, max_tokens=2)
    assert answer.choices[0].message.content == "Hello! You"
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == 2
    stream = await client.chat.completions.create(**CHAT, stream=True, max_completion_tokens=3)
    finishes = [c.choices[0].finish_reason async for c in stream if c.choices[0].finish_reason]
    assert finishes == ["length"]


async def test_fixed_completion_tokens_are_capped_by_max_tokens(client, fake) -> None:
    fake.completion_tokens = 200
    answer = await client.chat.completions.create(**CHAT, max_tokens=50)
    assert answer.usage.completion_tokens == 50
    assert answer.choices[0].finish_reason == "length"


async def test_wrong_key_raises_authentication_error(fake) -> None:
    async with async_sdk(fake, "sk-wrong") as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.chat.completions.create(**CHAT)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert "sk-wrong" not in caught.value.message
    assert fake.last_request.authorization == "Bearer sk-wrong"


async def test_missing_authorization_is_401_without_a_code(fake) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url, verify=TLS) as raw:
        response = await raw.post("/chat/completions", json=CHAT)
    assert response.status_code == 401
    assert response.json()["error"]["code"] is None
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_bad_json_is_400_with_the_openai_error_shape(http) -> None:
    response = await http.post("/chat/completions", content=b'{"model": "gpt-4o-mini",')
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert "could not parse the JSON body" in error["message"]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"messages": USER}, "model", None),
        ({"model": "gpt-4o-mini"}, "messages", "missing_required_parameter"),
        ({"model": "gpt-4o-mini", "messages": []}, "messages", "empty_array"),
        ({"model": "gpt-4o-mini", "messages": [{"content": "x"}]}, "messages[0].role", None),
        ({**CHAT, "max_tokens": 0}, "max_tokens", "integer_below_min_value"),
    ],
)
async def test_invalid_chat_requests_name_the_param(http, body, param, code) -> None:
    response = await http.post("/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    if code is not None:
        assert response.json()["error"]["code"] == code


async def test_unknown_parameters_are_rejected_unless_allowed(http, fake) -> None:
    response = await http.post("/chat/completions", json={**CHAT, "burncloud_channel": 3})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "burncloud_channel"
    fake.allow_unknown_params = True
    assert (await http.post("/chat/completions", json={**CHAT, "x": 1})).status_code == 200


async def test_stream_options_without_stream_is_rejected(client) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(**CHAT, stream_options={"include_usage": True})
    assert caught.value.param == "stream_options"


async def test_unknown_model_is_404_model_not_found(client, fake) -> None:
    fake.models = ("gpt-4o",)
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(**CHAT)
    assert caught.value.code == "model_not_found"
    assert [model.id async for model in client.models.list()] == ["gpt-4o"]


async def test_injected_429_carries_retry_after_and_is_used_up(client, fake) -> None:
    fake.fail_with(429, retry_after=7, times=1)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(**CHAT)
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["type"] == "requests"
    answer = await client.chat.completions.create(**CHAT)
    assert answer.choices[0].message.content == "Hello! You said: hi there"


async def test_injected_errors_queue_in_order_until_cleared(http, fake) -> None:
    fake.fail_with(500, times=1)
    fake.fail_with(503, "overloaded", code="upstream_busy")
    statuses = [(await http.post("/chat/completions", json=CHAT)).status_code for _ in range(3)]
    assert statuses == [500, 503, 503]
    assert fake.last_request.path == "/v1/chat/completions"
    fake.clear_faults()
    assert (await http.post("/chat/completions", json=CHAT)).status_code == 200


async def test_injected_5xx_reaches_the_sdk_as_server_error(client, fake) -> None:
    fake.fail_with(503)
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(**CHAT)
    assert caught.value.status_code == 503
    assert caught.value.body["type"] == "server_error"


async def test_stall_before_headers_times_out_and_counts_as_cancel(client, fake) -> None:
    fake.stall_before_headers = 5
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(**CHAT, timeout=0.1)
    await fake.wait_until(lambda: fake.cancelled == 1, within=1.0)


async def test_stall_after_headers_sends_the_status_then_nothing(http, fake) -> None:
    fake.stall_after_headers = 5
    timeout = httpx.Timeout(2.0, read=0.1)
    body = {**CHAT, "stream": True}
    async with http.stream("POST", "/chat/completions", json=body, timeout=timeout) as response:
        assert response.status_code == 200
        assert fake.open_streams == 1
        with pytest.raises(httpx.ReadTimeout):
            await response.aread()
    await fake.wait_until(lambda: fake.open_streams == 0 and fake.cancelled == 1, within=1.0)


async def test_die_after_chunks_cuts_the_stream_abruptly(http, client, fake) -> None:
    fake.die_after_chunks = 2
    received = b""
    async with http.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as response:
        with pytest.raises(httpx.RemoteProtocolError):
            async for piece in response.aiter_bytes():
                received += piece
    assert len(events_of(received)) == 2
    stream = await client.chat.completions.create(**CHAT, stream=True)
    with pytest.raises(openai.APIConnectionError):
        _ = [chunk async for chunk in stream]
    assert (fake.streams_completed, fake.cancelled, fake.completion_tokens_served) == (0, 0, 0)


async def test_die_after_zero_chunks_sends_only_headers_for_non_stream(client, fake) -> None:
    fake.die_after_chunks = 0
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(**CHAT)


async def test_error_after_chunks_sends_an_in_band_error_then_ends(http, client, fake) -> None:
    fake.error_after_chunks = 2
    events = await stream_raw(http)
    assert len(events) == 3
    assert orjson.loads(events[-1]) == MID_STREAM_ERROR
    stream = await client.chat.completions.create(**CHAT, stream=True)
    with pytest.raises(openai.APIError, match="upstream overloaded"):
        _ = [chunk async for chunk in stream]
    assert (fake.streams_completed, fake.cancelled) == (0, 0)


async def test_omit_usage_drops_usage_even_when_asked(http, client, fake) -> None:
    fake.omit_usage = True
    events = await stream_raw(http, stream_options={"include_usage": True})
    assert all(b"usage" not in event for event in events)
    answer = await client.chat.completions.create(**CHAT)
    assert answer.usage is None


async def test_reject_stream_options_answers_400_like_a_strict_vendor(http, fake) -> None:
    fake.reject_stream_options = True
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    response = await http.post("/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream_options"
    assert len(await stream_raw(http)) == 8


async def test_client_disconnect_mid_stream_is_recorded(http, fake) -> None:
    fake.chunks, fake.chunk_delay = 20, 0.02
    async with http.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as response:
        async for _ in response.aiter_bytes():
            break
    await fake.wait_until(lambda: fake.cancelled == 1, within=1.0)
    assert (fake.open_streams, fake.streams_completed, fake.completion_tokens_served) == (0, 0, 0)


async def test_open_streams_counts_concurrent_streams(client, fake) -> None:
    fake.chunk_delay = 0.02

    async def consume() -> str:
        stream = await client.chat.completions.create(**CHAT, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream])

    texts = await asyncio.gather(consume(), consume(), consume())
    assert texts == ["Hello! You said: hi there"] * 3
    assert (fake.max_open_streams, fake.open_streams, fake.streams_completed) == (3, 0, 3)


async def test_raw_body_and_headers_are_recorded_before_any_check(http, fake) -> None:
    raw = b'{"model":  "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "n": 1}'
    response = await http.post("/chat/completions", content=raw, headers={"X-Trace": "t1"})
    assert response.status_code == 200
    await http.post("/chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-client"})
    first, second = fake.requests
    assert (first.method, first.path, first.body) == ("POST", "/v1/chat/completions", raw)
    assert first.json == orjson.loads(raw)
    assert first.headers["x-trace"] == "t1"
    assert first.authorization == f"Bearer {KEY}"
    assert second.authorization == "Bearer sk-client"
    assert fake.request_count == 2


async def test_legacy_completions_default_to_16_tokens_and_stream_usage(client, fake) -> None:
    fake.chunks, fake.reply = 20, "abcdefghijklmnopqrstuvwxyz"
    answer = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
    assert answer.object == "text_completion"
    assert (answer.choices[0].finish_reason, answer.usage.completion_tokens) == ("length", 16)
    stream = await client.completions.create(
        model="gpt-3.5-turbo-instruct",
        prompt="Say hi",
        max_tokens=100,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].text for c in chunks if c.choices) == fake.reply
    assert (chunks[-1].choices, chunks[-1].usage.completion_tokens) == ([], 20)
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_legacy_completions_require_a_prompt(http) -> None:
    response = await http.post("/completions", json={"model": "gpt-3.5-turbo-instruct"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "prompt"


async def test_embeddings_return_the_same_vectors_as_float_and_base64(client, http) -> None:
    answer = await client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])
    assert [item.index for item in answer.data] == [0, 1]
    assert answer.usage.prompt_tokens == 3
    body = {"model": "text-embedding-3-small", "input": "a b", "encoding_format": "float"}
    floats = (await http.post("/embeddings", json=body)).json()["data"][0]["embedding"]
    assert answer.data[0].embedding == floats
    assert len(floats) == 8
    sized = await client.embeddings.create(model="text-embedding-3-small", input="x", dimensions=4)
    assert len(sized.data[0].embedding) == 4


async def test_embeddings_reject_empty_input(http) -> None:
    response = await http.post("/embeddings", json={"model": "text-embedding-3-small", "input": ""})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "input"


async def test_models_list_retrieve_and_unknown_paths(client, http) -> None:
    assert [model.id async for model in client.models.list()] == list(DEFAULT_MODELS)
    assert (await client.models.retrieve("gpt-4o")).owned_by == "system"
    response = await http.get("/chat/completions")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (GET /v1/chat/completions)"


async def test_every_answer_carries_its_own_request_id(http, fake) -> None:
    ok = await http.post("/chat/completions", json=CHAT)
    rejected = await http.post("/chat/completions", json={"model": "gpt-4o-mini"})
    assert (ok.headers["x-request-id"], rejected.headers["x-request-id"]) == (
        "req_fake000001",
        "req_fake000002",
    )


async def test_reset_forgets_requests_and_counters(client, fake) -> None:
    await client.chat.completions.create(**CHAT)
    fake.reset()
    assert (fake.request_count, fake.completion_tokens_served, fake.cancelled) == (0, 0, 0)


async def test_responses_script_answers_in_order_then_the_recording_answers(
    client, http, fake
) -> None:
    fake.responses_script = ["responses_stream_function_call.sse", "responses_stream_text.sse"]
    rejected = await http.post("/responses", json={"model": "gpt-4o", "input": "x", "nope": 1})
    call = await client.responses.create(model="gpt-4o", input="What is the capital of France?")
    text = await client.responses.create(model="gpt-4o", input="again")
    fake.responses_recording = "responses_stream_function_call.sse"
    after = await client.responses.create(model="gpt-4o", input="and again")
    assert rejected.status_code == 400
    assert [(item.type, getattr(item, "name", None)) for item in call.output] == [
        ("function_call", "get_capital")
    ]
    assert text.output_text == "The capital of France is Paris."
    assert [item.type for item in after.output] == ["function_call"]
    assert fake.responses_script == []
