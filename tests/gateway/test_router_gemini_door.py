"""The Gemini-format front door: generateContent and streamGenerateContent, any channel."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import running_router

BODY = {
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "contents": [{"role": "user", "parts": [{"text": "hello there"}]}],
    "generationConfig": {"maxOutputTokens": 300},
}


@pytest.fixture
async def upstream():
    async with FakeOpenAI(
        "sk-canary-upstream-key", prompt_tokens=100, completion_tokens=200
    ) as fake:
        yield fake


def _url(router, method: str) -> str:
    return f"{router.base_url[: -len('/v1')]}/v1beta/models/gpt-4:{method}"


async def test_generate_content_from_an_openai_channel(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router, httpx.AsyncClient() as http:
        response = await http.post(
            _url(router, "generateContent"), json=BODY, headers={"x-goog-api-key": router.key}
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["candidates"][0]["content"]["parts"][0]["text"] == "Hello! You said: hello there"
    assert answer["candidates"][0]["finishReason"] == "STOP"
    assert answer["usageMetadata"]["promptTokenCount"] == 100
    assert upstream.last_request.json["messages"][0] == {"role": "system", "content": "Be brief."}


async def test_stream_generate_content_with_the_key_in_the_url(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router, httpx.AsyncClient() as http:
        response = await http.post(
            _url(router, "streamGenerateContent") + f"?alt=sse&key={router.key}", json=BODY
        )
    assert response.status_code == 200, response.text
    events = [
        orjson.loads(line[len("data: ") :])
        for line in response.text.replace("\r\n", "\n").split("\n")
        if line.startswith("data: ")
    ]
    text = "".join(
        part.get("text", "")
        for event in events
        for candidate in event.get("candidates", [])
        for part in candidate.get("content", {}).get("parts", [])
    )
    assert text == "Hello! You said: hello there"
    assert events[-1]["usageMetadata"]["candidatesTokenCount"] == 200


async def test_gemini_door_errors_use_geminis_shape(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router, httpx.AsyncClient() as http:
        denied = await http.post(
            _url(router, "generateContent"), json=BODY, headers={"x-goog-api-key": "nope"}
        )
        no_sse = await http.post(
            _url(router, "streamGenerateContent"), json=BODY, headers={"x-goog-api-key": router.key}
        )
    assert denied.status_code == 401
    assert denied.json()["error"]["status"] == "UNAUTHENTICATED"
    assert no_sse.status_code == 400 and no_sse.json()["error"]["status"] == "INVALID_ARGUMENT"
