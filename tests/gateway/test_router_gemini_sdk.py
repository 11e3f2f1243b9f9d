"""The google-genai SDK builds its own requests against the Gemini door: with its default
settings (API version v1) and with ``api_version="v1beta"``, whole and streamed."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import types

from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import logged_rows, running_router

# google-genai's own aiohttp session subclass, which aiohttp warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)


@pytest.fixture
async def upstream():
    async with FakeOpenAI(
        "sk-canary-upstream-key", prompt_tokens=100, completion_tokens=200
    ) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _sdk_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own defaults, whatever this machine's environment says."""
    for name in ("GOOGLE_GENAI_API_VERSION", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def _client(router, api_version: str | None) -> genai.Client:
    options = types.HttpOptions(base_url=router.base_url[: -len("/v1")])
    if api_version is not None:
        options.api_version = api_version
    return genai.Client(api_key=router.key, http_options=options)


@pytest.mark.parametrize("api_version", [None, "v1beta"], ids=["sdk-default", "v1beta"])
async def test_google_genai_generates_content(tmp_path, upstream, api_version) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = _client(router, api_version)
        answer = await client.aio.models.generate_content(
            model="gpt-4",
            contents="hello there",
            config=types.GenerateContentConfig(max_output_tokens=300),
        )
    assert answer.text == "Hello! You said: hello there"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata.prompt_token_count == 100
    assert upstream.last_request.json["max_tokens"] == 300
    logs = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["status"], r["cost"]) for r in logs] == [
        ("generateContent", 200, 15_000_000)
    ]


@pytest.mark.parametrize("api_version", [None, "v1beta"], ids=["sdk-default", "v1beta"])
async def test_google_genai_streams_content(tmp_path, upstream, api_version) -> None:
    async with running_router(tmp_path, upstream) as router:
        client = _client(router, api_version)
        chunks = [
            chunk
            async for chunk in await client.aio.models.generate_content_stream(
                model="gpt-4", contents="hello there"
            )
        ]
    assert "".join(chunk.text or "" for chunk in chunks) == "Hello! You said: hello there"
    usage = chunks[-1].usage_metadata
    assert usage is not None and usage.candidates_token_count == 200
    assert upstream.last_request.json["stream"] is True
    logs = await logged_rows(router.db_url)
    assert [(r["status"], r["stream"], r["cost"]) for r in logs] == [(200, 1, 15_000_000)]
