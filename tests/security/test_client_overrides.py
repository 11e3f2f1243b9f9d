"""Fields in a client's body that would pick the upstream or its key (``api_base``,
``api_key``, ...) never go upstream: the request still reaches the channel's own URL with
the channel's own key, and bodies without them go up byte for byte."""

from __future__ import annotations

import httpx
import orjson
import pytest

from burncloud.gateway.relay.inbound import CLIENT_OVERRIDES
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.gateway.router_harness import RunningRouter, point_channel_at, running_router
from tests.security.test_bad_input import DOORS

ATTACKER = "http://127.0.0.1:9/steal"  # the discard port: never called, checked anyway
OVERRIDES = {
    "api_base": ATTACKER,
    "base_url": ATTACKER,
    "api_key": "sk-attacker",
    "api_version": "2099-01-01",
    "organization": "org-attacker",
    "extra_headers": {"Authorization": "Bearer sk-attacker"},
    "extra_query": {"key": "sk-attacker"},
}


def test_the_list_is_the_one_the_router_enforces() -> None:
    assert set(OVERRIDES) == CLIENT_OVERRIDES


async def _post(router: RunningRouter, path: str, body: bytes, **headers: str) -> httpx.Response:
    root = router.base_url.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {router.key}", **headers}
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(root + path, content=body, headers=headers)


STREAMS = {"chat": (False, True), "completions": (False, True), "embeddings": (False,)}


@pytest.mark.parametrize(
    ("name", "stream"), [(name, stream) for name, modes in STREAMS.items() for stream in modes]
)
async def test_overrides_are_dropped_before_an_openai_channel(tmp_path, name, stream) -> None:
    door = DOORS[name]
    extra = {"stream": True} if stream else {}
    async with (
        FakeOpenAI("sk-canary-upstream-key") as upstream,  # strict: unknown fields are a 400
        running_router(tmp_path, upstream) as router,
    ):
        response = await _post(router, door.path, door.json(**OVERRIDES, **extra))
    assert response.status_code == 200, response.text
    sent = upstream.last_request
    assert sent.path == "/v1" + door.path.removeprefix("/v1")
    assert sent.authorization == "Bearer sk-canary-upstream-key"
    assert set(sent.json).isdisjoint(OVERRIDES)
    assert sent.json["model"] == "gpt-4" and b"attacker" not in sent.body


async def test_a_body_without_overrides_goes_up_byte_for_byte(tmp_path) -> None:
    body = b'{ "messages":[{"role":"user","content":"hi"}],\n  "model" : "gpt-4","n":1 }'
    async with (
        FakeOpenAI("sk-canary-upstream-key") as upstream,
        running_router(tmp_path, upstream) as router,
    ):
        response = await _post(router, "/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    assert upstream.last_request.body == body


async def test_overrides_are_dropped_before_a_native_anthropic_channel(tmp_path) -> None:
    body = DOORS["messages"].json(**OVERRIDES)
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "anthropic", fake.base_url, fake.key)
        response = await _post(router, "/v1/messages", body, **{"anthropic-version": "2023-06-01"})
    assert response.status_code == 200, response.text
    (sent,) = fake.raw_requests
    assert set(orjson.loads(sent)).isdisjoint(OVERRIDES) and b"attacker" not in sent
    assert fake.headers[-1]["x-api-key"] == fake.key
    assert not [r for r in unused.requests if r.method == "POST"]  # nothing relayed there


async def test_overrides_are_dropped_before_a_native_gemini_channel(tmp_path) -> None:
    door = DOORS["gemini"]
    async with (
        FakeOpenAI("unused") as unused,
        FakeGemini() as fake,  # refuses any key but its own, and any key in the query
        running_router(tmp_path, unused) as router,
    ):
        await point_channel_at(router, "gemini", fake.base_url, fake.key)
        response = await _post(router, door.path, door.json(**OVERRIDES))
    assert response.status_code == 200, response.text
    (sent,) = fake.raw_requests
    assert set(orjson.loads(sent)).isdisjoint(OVERRIDES) and b"attacker" not in sent
    assert not [r for r in unused.requests if r.method == "POST"]  # nothing relayed there
