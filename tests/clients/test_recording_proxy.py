"""The recording proxy and the egress trap, against the strict fake Anthropic upstream."""

from __future__ import annotations

import httpx
import pytest

from tests.clients.egress_trap import EgressTrap
from tests.clients.recording_proxy import REDACTED, RecordingProxy
from tests.fakes.anthropic_upstream import FIXTURES, FakeAnthropic

BODY = {"model": "claude-x", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


def _headers(key: str) -> dict[str, str]:
    return {"x-api-key": key, "authorization": f"Bearer {key}", "anthropic-version": "2023-06-01"}


async def test_a_request_is_forwarded_and_recorded_with_its_secrets_redacted() -> None:
    async with (
        FakeAnthropic() as fake,
        RecordingProxy(fake.base_url) as proxy,
        httpx.AsyncClient() as client,
    ):
        answer = await client.post(
            f"{proxy.base_url}/v1/messages?beta=true", json=BODY, headers=_headers(fake.key)
        )
    assert answer.status_code == 200
    assert answer.content == (FIXTURES / fake.answer_fixture).read_bytes()
    assert fake.requests == [BODY] and fake.headers[0]["x-api-key"] == fake.key
    call = proxy.calls[0].as_fixture()
    assert (call["method"], call["path"], call["query"], call["status"]) == (
        "POST",
        "/v1/messages",
        {"beta": "true"},
        200,
    )
    assert call["body"] == BODY
    assert call["headers"]["x-api-key"] == REDACTED
    assert call["headers"]["authorization"] == f"Bearer {REDACTED}"
    assert fake.key not in str(call)


async def test_a_stream_passes_through_byte_for_byte() -> None:
    async with (
        FakeAnthropic() as fake,
        RecordingProxy(fake.base_url) as proxy,
        httpx.AsyncClient() as client,
    ):
        answer = await client.post(
            f"{proxy.base_url}/v1/messages",
            json=BODY | {"stream": True},
            headers=_headers(fake.key),
        )
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.content == (FIXTURES / fake.stream_fixture).read_bytes()
    assert proxy.calls[0].body["stream"] is True


async def test_a_refused_request_is_recorded_with_the_upstream_status() -> None:
    async with (
        FakeAnthropic() as fake,
        RecordingProxy(fake.base_url) as proxy,
        httpx.AsyncClient() as client,
    ):
        answer = await client.post(
            f"{proxy.base_url}/v1/messages", content=b"not json", headers=_headers("sk-wrong")
        )
    assert answer.status_code == 401 and answer.json()["error"]["type"] == "authentication_error"
    assert [(c.status, c.body) for c in proxy.calls] == [(401, "not json")]


async def test_the_egress_trap_refuses_and_names_every_target() -> None:
    async with EgressTrap() as trap, httpx.AsyncClient(proxy=trap.url) as client:
        with pytest.raises(httpx.ProxyError):
            await client.get("https://api.example.invalid/v1/metrics")
        plain = await client.get("http://updates.example.invalid/latest")
    assert plain.status_code == 403
    assert trap.targets == [
        "CONNECT api.example.invalid:443",
        "GET http://updates.example.invalid/latest",
    ]
