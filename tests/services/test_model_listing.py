"""What each kind of channel's upstream offers, asked of strict local fakes of each
provider's model listing over real HTTP (``tests/fakes/model_lists.py``)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import InvalidRequest, NotFound, ServiceUnavailable, UpstreamError
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services import channels
from burncloud.services.channel_keys import add_keys, list_keys, set_key_status
from burncloud.services.model_listing import (
    LISTERS,
    Fetched,
    HttpxGetter,
    bedrock_control_url,
    collect_body,
    fetch_upstream_models,
    list_models,
)
from tests.fakes.model_lists import (
    ANTHROPIC_KEY,
    BEDROCK_ACCESS,
    GEMINI_KEY,
    OPENAI_KEY,
    FakeAnthropicModels,
    FakeBedrockModels,
    FakeGeminiModels,
    FakeOpenAIModels,
)

BOX = SecretBox.from_passphrase("test-secret")
WRONG_KEY = "sk-canary-wrong-Zq7DistinctivePlaintext-8842"
BEDROCK_TEXT = [
    "amazon.nova-pro-v1:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "us.amazon.nova-pro-v1:0",
    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "us.anthropic.claude-sonnet-4-20250514-v1:0",
]


@pytest.fixture
async def getter() -> AsyncIterator[HttpxGetter]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield HttpxGetter(client)


async def add(
    db: Database,
    type: str,
    base_url: str,
    key: str,
    *,
    name: str | None = None,
    config: dict[str, str] | None = None,
) -> channels.Channel:
    return await channels.add_channel(
        db,
        BOX,
        type=type,
        name=name or f"{type}-main",
        key=key,
        models=["m"],
        base_url=base_url,
        config=config or {},
    )


class Refusing:
    """A getter that must not be called (a listing that needs no request)."""

    async def get(self, url: str, headers: Mapping[str, str]) -> Fetched:
        raise AssertionError(f"unexpected GET {url}")


async def test_openai_lists_the_data_ids_with_its_bearer_key(
    db: Database, getter: HttpxGetter
) -> None:
    async with FakeOpenAIModels(models=["gpt-4o-mini", "gpt-4o", "gpt-4o"]) as fake:
        channel = await add(db, "openai", fake.api_base, OPENAI_KEY)
        found = await fetch_upstream_models(db, BOX, channel.id, getter)
    assert found.models == ("gpt-4o", "gpt-4o-mini")  # sorted, once each
    assert (found.source, found.channel_id) == ("upstream", channel.id)
    (seen,) = fake.requests
    assert (seen.method, seen.path) == ("GET", "/v1/models")
    assert seen.headers["authorization"] == f"Bearer {OPENAI_KEY}"


async def test_a_refused_key_is_one_line_naming_the_channel_never_the_key(
    db: Database, getter: HttpxGetter
) -> None:
    async with FakeOpenAIModels() as fake:
        channel = await add(db, "openai-compatible", fake.api_base, WRONG_KEY)
        with pytest.raises(UpstreamError) as failed:
            await fetch_upstream_models(db, BOX, channel.id, getter)
    message = failed.value.message
    assert message.startswith(f"channel {channel.id} (openai-compatible-main): listing its models")
    assert "HTTP 401" in message and "\n" not in message
    assert WRONG_KEY not in message and fake.base_url not in message


async def test_qwen_lists_dashscope_compatible_mode_models(
    db: Database, getter: HttpxGetter
) -> None:
    models = ["qwen-plus", "qwen3-max", "text-embedding-v4"]
    async with FakeOpenAIModels(
        models=models, prefix="/compatible-mode/v1", dashscope=True
    ) as fake:
        channel = await add(db, "qwen", fake.api_base, OPENAI_KEY)
        found = await fetch_upstream_models(db, BOX, channel.id, getter)
        assert found.models == tuple(models)
        wrong = await add(db, "qwen", fake.api_base, WRONG_KEY, name="other")
        with pytest.raises(UpstreamError, match="HTTP 401"):
            await fetch_upstream_models(db, BOX, wrong.id, getter)
    assert fake.requests[0].path == "/compatible-mode/v1/models"


async def test_anthropic_follows_last_id_while_has_more(db: Database, getter: HttpxGetter) -> None:
    async with FakeAnthropicModels(page_cap=2) as fake:
        channel = await add(db, "anthropic", fake.base_url + "/v1", ANTHROPIC_KEY)
        found = await fetch_upstream_models(db, BOX, channel.id, getter)
    assert found.models == (
        "claude-3-5-haiku-20241022",
        "claude-opus-4-1-20250805",
        "claude-sonnet-4-20250514",
    )
    assert [seen.path for seen in fake.requests] == [
        "/v1/models?limit=1000",
        "/v1/models?limit=1000&after_id=claude-sonnet-4-20250514",
    ]
    headers = fake.requests[0].headers
    assert headers["x-api-key"] == ANTHROPIC_KEY and headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers


async def test_anthropic_refuses_a_wrong_key(db: Database, getter: HttpxGetter) -> None:
    async with FakeAnthropicModels() as fake:
        channel = await add(db, "anthropic", fake.base_url, WRONG_KEY)
        with pytest.raises(UpstreamError, match="HTTP 401"):
            await fetch_upstream_models(db, BOX, channel.id, getter)


async def test_gemini_pages_by_token_and_keeps_content_and_embedding_models(
    db: Database, getter: HttpxGetter
) -> None:
    async with FakeGeminiModels(page_cap=2) as fake:
        channel = await add(db, "gemini", fake.base_url, GEMINI_KEY)
        found = await fetch_upstream_models(db, BOX, channel.id, getter)
    assert found.models == ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001")
    assert len(fake.requests) == 3  # 5 models, 2 a page
    assert fake.requests[0].path == "/v1beta/models?pageSize=1000"
    assert "pageToken=" in fake.requests[1].path
    for seen in fake.requests:  # the key travels in its header, never in a URL
        assert seen.headers["x-goog-api-key"] == GEMINI_KEY and GEMINI_KEY not in seen.path


async def test_gemini_honours_a_versioned_base_url_and_refuses_a_wrong_key(
    db: Database, getter: HttpxGetter
) -> None:
    async with FakeGeminiModels() as fake:
        channel = await add(db, "gemini", fake.base_url + "/v1", GEMINI_KEY)
        await fetch_upstream_models(db, BOX, channel.id, getter)
        wrong = await add(db, "gemini", fake.base_url, WRONG_KEY, name="other")
        with pytest.raises(UpstreamError, match="HTTP 400"):
            await fetch_upstream_models(db, BOX, wrong.id, getter)
    assert fake.requests[0].path.startswith("/v1/models?")


async def test_bedrock_signs_each_call_and_lists_text_models_and_profiles(
    db: Database, getter: HttpxGetter
) -> None:
    async with FakeBedrockModels(page_cap=1) as fake:
        channel = await add(db, "bedrock", fake.base_url, fake.key, config={"region": "us-east-1"})
        found = await fetch_upstream_models(db, BOX, channel.id, getter)
    assert list(found.models) == BEDROCK_TEXT  # no embedding or image model, no image profile
    paths = [seen.path for seen in fake.requests]
    assert paths[0] == "/foundation-models?byOutputModality=TEXT"
    assert len(paths) == 5 and all(p.startswith("/inference-profiles?") for p in paths[1:])
    for seen in fake.requests:  # botocore reproduced every signature (else a 403)
        assert seen.headers["authorization"].startswith(
            f"AWS4-HMAC-SHA256 Credential={BEDROCK_ACCESS}/"
        )


async def test_bedrock_api_key_goes_as_a_bearer_and_a_wrong_secret_is_refused(
    db: Database, getter: HttpxGetter
) -> None:
    async with FakeBedrockModels(api_key="ABSKcanaryBedrockApiKey") as fake:
        keyed = await add(
            db, "bedrock", fake.base_url, "ABSKcanaryBedrockApiKey", config={"region": "us-east-1"}
        )
        assert list((await fetch_upstream_models(db, BOX, keyed.id, getter)).models) == BEDROCK_TEXT
        wrong = await add(
            db,
            "bedrock",
            fake.base_url,
            f"{BEDROCK_ACCESS}:not/the/secret",
            name="other",
            config={"region": "us-east-1"},
        )
        with pytest.raises(UpstreamError, match="HTTP 403") as failed:
            await fetch_upstream_models(db, BOX, wrong.id, getter)
    assert "not/the/secret" not in failed.value.message


def test_bedrock_lists_on_the_control_plane_beside_the_runtime_host() -> None:
    runtime = "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert bedrock_control_url(runtime) == "https://bedrock.eu-west-3.amazonaws.com"
    fips = "https://bedrock-runtime-fips.us-east-1.amazonaws.com/"
    assert bedrock_control_url(fips) == "https://bedrock-fips.us-east-1.amazonaws.com"
    assert bedrock_control_url("http://127.0.0.1:9/aws") == "http://127.0.0.1:9/aws"


async def test_azure_lists_the_deployments_its_config_names_without_a_request(
    db: Database,
) -> None:
    config = {"deployments": "gpt-4o=prod-4o, gpt-4o-mini=prod-mini", "api_version": "2024-10-21"}
    channel = await add(db, "azure", "https://res.openai.azure.com", "azure-key", config=config)
    found = await fetch_upstream_models(db, BOX, channel.id, Refusing())
    assert (found.models, found.source) == (("gpt-4o", "gpt-4o-mini"), "config")
    bare = await add(db, "azure", "https://res.openai.azure.com", "azure-key", name="bare")
    with pytest.raises(InvalidRequest, match="deployments=MODEL=DEPLOYMENT"):
        await fetch_upstream_models(db, BOX, bare.id, Refusing())


def test_every_channel_kind_has_a_model_listing() -> None:
    assert set(LISTERS) == set(CHANNEL_KINDS)


async def test_ids_a_channel_cannot_hold_are_set_aside(db: Database, getter: HttpxGetter) -> None:
    odd = ["good-1", "has space", "a,b", "", "\x1b[2Jclear"]
    async with FakeOpenAIModels(models=odd) as fake:
        channel = await add(db, "openai", fake.api_base, OPENAI_KEY)
        found = await fetch_upstream_models(db, BOX, channel.id, getter)
    assert (found.models, found.ignored) == (("good-1",), ("\x1b[2Jclear", "a,b", "has space"))


async def test_the_first_enabled_key_asks(db: Database, getter: HttpxGetter) -> None:
    async with FakeOpenAIModels() as fake:
        channel = await add(db, "openai", fake.api_base, WRONG_KEY)
        await add_keys(db, BOX, channel.id, [OPENAI_KEY])
        first = (await list_keys(db, channel.id))[0]
        await set_key_status(db, channel.id, first.id, "disabled")
        found = await fetch_upstream_models(db, BOX, channel.id, getter)
    assert found.models and fake.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"


async def test_an_unknown_channel_is_not_found(db: Database, getter: HttpxGetter) -> None:
    with pytest.raises(NotFound, match="no channel with id 9"):
        await fetch_upstream_models(db, BOX, 9, getter)


async def test_an_unreachable_upstream_is_one_line_without_its_url(
    db: Database, getter: HttpxGetter
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = await add(db, "openai", f"http://127.0.0.1:{port}/v1", OPENAI_KEY)
    with pytest.raises(ServiceUnavailable) as failed:
        await fetch_upstream_models(db, BOX, channel.id, getter)
    assert "unreachable" in failed.value.message and str(port) not in failed.value.message


class Canned:
    """A getter answering every GET with ``body``."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body, self.status = body, status

    async def get(self, url: str, headers: Mapping[str, str]) -> Fetched:
        return Fetched(self.status, self.body)


@pytest.mark.parametrize(
    ("body", "why"),
    [(b"<html>", "not JSON"), (b"[]", "not a JSON object"), (b'{"data": 3}', "no 'data' list")],
)
async def test_an_answer_that_is_not_a_model_list_says_so(
    db: Database, body: bytes, why: str
) -> None:
    channel = await add(db, "openai", "http://127.0.0.1:9/v1", OPENAI_KEY)
    with pytest.raises(UpstreamError, match=why):
        await list_models(channel, OPENAI_KEY, Canned(body))


async def test_a_listing_past_the_size_limit_is_refused() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 1024

    assert await collect_body(chunks(), limit=4096) == b"x" * 3072
    with pytest.raises(UpstreamError, match="over"):
        await collect_body(chunks(), limit=2048)


async def test_each_url_passes_the_address_guard_before_it_is_asked(db: Database) -> None:
    checked: list[str] = []

    async def guard(url: str) -> None:
        checked.append(url)
        if "after_id" in url:
            raise InvalidRequest("base URL host 127.0.0.1 is refused")

    async with FakeAnthropicModels(page_cap=1) as fake, httpx.AsyncClient() as client:
        channel = await add(db, "anthropic", fake.base_url, ANTHROPIC_KEY)
        with pytest.raises(InvalidRequest, match="refused"):
            await fetch_upstream_models(db, BOX, channel.id, HttpxGetter(client, guard))
    assert len(checked) == 2 and len(fake.requests) == 1  # the refused page was never sent


# google-genai's own aiohttp session subclass, which aiohttp warns about.
@pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")
async def test_the_fakes_answer_the_providers_own_sdks() -> None:
    """Each fake's pages, cursors and errors are what the official SDKs expect (and page
    through), so the listing is tested against the providers' documented shapes."""
    import anthropic
    import openai
    from google import genai
    from google.genai import types

    async with FakeOpenAIModels() as fake:
        async with openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=fake.api_base) as client:
            assert [m.id async for m in client.models.list()] == list(fake.models)
        async with openai.AsyncOpenAI(
            api_key=WRONG_KEY, base_url=fake.api_base, max_retries=0
        ) as wrong:
            with pytest.raises(openai.AuthenticationError):
                await wrong.models.list()
    async with FakeAnthropicModels(page_cap=1) as claude:
        # The documented header: this SDK sends the key as a bearer token unless told.
        headers = {"x-api-key": ANTHROPIC_KEY}
        async with anthropic.AsyncAnthropic(
            api_key=None, base_url=claude.base_url, default_headers=headers
        ) as sdk:
            listed = [m.id async for m in sdk.models.list(limit=1)]
        assert listed == [model for model, _, _ in claude.models]
        assert len(claude.requests) == 3
    async with FakeGeminiModels() as gemini:
        options = types.HttpOptions(base_url=gemini.base_url)
        google = genai.Client(api_key=GEMINI_KEY, http_options=options)
        try:
            pager = await google.aio.models.list(config={"page_size": 2})
            names = [model.name async for model in pager]
        finally:
            await google.aio.aclose()
        assert names == [model["name"] for model in gemini.models]
        assert len(gemini.requests) == 3


async def test_the_bedrock_fake_takes_botocore_signatures() -> None:
    import asyncio

    import botocore.session  # type: ignore[import-untyped]

    async with FakeBedrockModels(page_cap=2) as fake:

        def listed() -> tuple[list[str], list[str]]:
            client = botocore.session.get_session().create_client(
                "bedrock",
                region_name="us-east-1",
                endpoint_url=fake.base_url,
                aws_access_key_id=fake.access_key,
                aws_secret_access_key=fake.secret_key,
            )
            models = client.list_foundation_models(byOutputModality="TEXT")["modelSummaries"]
            pages = client.get_paginator("list_inference_profiles").paginate(
                PaginationConfig={"PageSize": 2}
            )
            profiles = [
                p["inferenceProfileId"] for page in pages for p in page["inferenceProfileSummaries"]
            ]
            return [m["modelId"] for m in models], profiles

        models, profiles = await asyncio.to_thread(listed)
    assert len(models) == 3 and all("embed" not in m and "sd3" not in m for m in models)
    assert profiles == [profile for profile, _ in fake.profiles]
