"""``channel probe`` against the strict fakes: each finds what the fake's model supports,
through the channel's own provider (Anthropic and Gemini converted), and stores it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import InvalidRequest
from burncloud.services import capabilities as caps
from burncloud.services import channels
from burncloud.services.capabilities import OPERATOR, PROBE, CapabilitySpec
from burncloud.services.capability_checks import context_window, litellm_context_windows
from burncloud.services.capability_probe import ProbeReport, probe_channel
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.model_support import ModelSupport
from tests.fakes.openai_upstream import FakeOpenAI

BOX = SecretBox.from_passphrase("test-secret")
KEY = "sk-canary-probe-0123456789abcdef"
EVERYTHING = {
    "tools": True,
    "parallel_tools": True,
    "vision": True,
    "json_schema": True,
    "reasoning": True,
    "stream_usage": True,
}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


async def add(db: Database, base_url: str, **changes: Any) -> channels.Channel:
    fields: dict[str, Any] = {
        "type": "openai",
        "name": "probed",
        "key": KEY,
        "models": ["gpt-4o"],
        "base_url": base_url,
    }
    fields.update(changes)
    return await channels.add_channel(db, BOX, **fields)


def found(report: ProbeReport, model: str | None = None) -> dict[str, Any]:
    probed = next(p for p in report.models if model is None or p.model == model)
    return {finding.name: finding.value for finding in probed.findings}


def details(report: ProbeReport) -> dict[str, str]:
    return {finding.name: finding.detail for finding in report.models[0].findings}


async def stored(db: Database, channel_id: int, source: str = PROBE) -> dict[tuple[str, str], Any]:
    rows = await caps.capability_rows(db, channel_id)
    return {(row.model, row.name): row.value for row in rows if row.source == source}


async def test_a_model_with_everything_is_found_to_have_everything(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeOpenAI(KEY, support=ModelSupport()) as fake:
        channel = await add(db, fake.base_url)
        report = await probe_channel(db, BOX, channel.id, client=client)
        bodies = [request.json for request in fake.requests]
    assert found(report) == {**EVERYTHING, "context": 128_000}
    assert await stored(db, channel.id) == {
        ("gpt-4o", name): value for name, value in found(report).items()
    }
    # OpenAI's own API gets its current answer-limit field; each check uses its feature.
    assert all("max_completion_tokens" in body for body in bodies)
    assert [body.get("tool_choice") for body in bodies[:2]] == [
        {"type": "function", "function": {"name": "get_weather"}},
        "required",
    ]
    assert bodies[2]["messages"][0]["content"][1]["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )
    assert bodies[3]["response_format"]["type"] == "json_schema"
    assert bodies[4]["reasoning_effort"] == "low"
    assert bodies[5]["stream_options"] == {"include_usage": True}


async def test_a_text_only_tool_less_model_is_found_lacking_by_its_refusals(
    db: Database, client: httpx.AsyncClient
) -> None:
    support = ModelSupport(vision=False, tools=False, json_schema=False, reasoning=False)
    async with FakeOpenAI(KEY, support=support) as fake:
        fake.reject_stream_options = True
        channel = await add(db, fake.base_url, type="openai-compatible", models=["local-7b"])
        report = await probe_channel(db, BOX, channel.id, client=client)
        bodies = [request.json for request in fake.requests]
    assert found(report) == {**dict.fromkeys(EVERYTHING, False), "context": None}
    said = details(report)
    assert said["tools"].startswith("HTTP 400: upstream: tools is not supported in this model")
    assert said["parallel_tools"] == "no tool calls at all"  # not sent: tools are ruled out
    assert said["vision"].startswith("HTTP 400: upstream: Invalid content type. image_url is")
    assert "'reasoning_effort' is not supported" in said["reasoning"]
    assert "stream_options" in said["stream_usage"]
    assert len(bodies) == 5 and all("max_tokens" in body for body in bodies)
    assert await stored(db, channel.id) == {
        ("local-7b", name): False for name in EVERYTHING
    }  # an unknown context stores nothing


async def test_a_stream_without_its_usage_means_no_stream_usage(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeOpenAI(KEY, support=ModelSupport()) as fake:
        fake.omit_usage = True
        channel = await add(db, fake.base_url)
        report = await probe_channel(db, BOX, channel.id, client=client)
    assert found(report)["stream_usage"] is False
    assert details(report)["stream_usage"] == "the stream ended without its usage"


async def test_an_inconclusive_check_drops_the_earlier_probe_entry_only(
    db: Database, client: httpx.AsyncClient
) -> None:
    # The plain fake echoes text: it ignores a forced tool (a "no") and shows no reasoning
    # and no JSON (inconclusive: nothing proves the model lacks them).
    async with FakeOpenAI(KEY) as fake:
        channel = await add(db, fake.base_url, models=["gpt-4o", "house-model"])
        earlier = [CapabilitySpec("house-model", name, False) for name in ("reasoning", "vision")]
        await caps.set_capabilities(db, channel.id, earlier, PROBE)
        await caps.set_capabilities(db, channel.id, [CapabilitySpec("", "json_schema", False)])
        report = await probe_channel(db, BOX, channel.id, "house-model", client=client)
    assert [probed.model for probed in report.models] == ["house-model"]
    assert found(report) == {
        "tools": False,
        "parallel_tools": False,
        "vision": True,
        "json_schema": None,
        "reasoning": None,
        "stream_usage": True,
        "context": None,
    }
    assert details(report)["reasoning"] == "inconclusive: the answer did not show it"
    assert await stored(db, channel.id) == {
        ("house-model", "tools"): False,
        ("house-model", "parallel_tools"): False,
        ("house-model", "vision"): True,
        ("house-model", "stream_usage"): True,
    }
    assert await stored(db, channel.id, OPERATOR) == {("", "json_schema"): False}


async def test_an_anthropic_channel_is_probed_through_its_conversion(
    db: Database, client: httpx.AsyncClient
) -> None:
    model = "claude-3-5-haiku-20241022"
    async with FakeAnthropic(KEY, support=ModelSupport(reasoning=False)) as fake:
        channel = await add(db, fake.base_url, type="anthropic", models=[model])
        report = await probe_channel(db, BOX, channel.id, client=client)
        sent = fake.requests
    assert found(report) == {**EVERYTHING, "reasoning": False, "context": 200_000}
    assert details(report)["reasoning"] == f"HTTP 400: '{model}' does not support thinking."
    assert sent[0]["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert sent[2]["messages"][0]["content"][1]["source"]["type"] == "base64"
    assert '"required":["ok"]' in sent[3]["system"].replace(" ", "")


async def test_anthropic_reasoning_and_one_tool_at_a_time(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeAnthropic(KEY, support=ModelSupport(parallel_tools=False)) as fake:
        channel = await add(db, fake.base_url, type="anthropic", models=["claude-sonnet-4-5"])
        report = await probe_channel(db, BOX, channel.id, client=client)
        thinking = fake.requests[4]["thinking"]
    assert found(report)["reasoning"] is True
    assert thinking == {"type": "enabled", "budget_tokens": 1024}
    # One call where two were asked for proves nothing: the model may have chosen so.
    assert found(report)["parallel_tools"] is None


async def test_a_gemini_channel_is_probed_through_its_conversion(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeGemini(KEY) as fake:
        channel = await add(db, fake.base_url, type="gemini", models=["gemini-2.5-flash"])
        report = await probe_channel(db, BOX, channel.id, client=client)
        sent = fake.requests
    # The replayed answer is text with thought tokens, whatever was asked.
    assert found(report) == {
        "tools": False,
        "parallel_tools": False,
        "vision": True,
        "json_schema": None,
        "reasoning": True,
        "stream_usage": True,
        "context": 1_048_576,
    }
    assert sent[1]["contents"][0]["parts"][1]["inlineData"]["mimeType"] == "image/png"


async def test_the_channel_overrides_apply_and_the_catalog_gives_the_context(
    db: Database, client: httpx.AsyncClient
) -> None:
    catalog = litellm_context_windows('{"gpt-4o": {"max_input_tokens": 111000}, "x": 3}')
    async with FakeOpenAI(KEY, support=ModelSupport()) as fake:
        channel = await add(
            db,
            fake.base_url,
            models=["public-name"],
            model_map={"public-name": "gpt-4o"},
            overrides={"set_headers": {"X-Team": "research"}},
        )
        report = await probe_channel(db, BOX, channel.id, client=client, catalog=catalog)
        headers = [request.headers.get("X-Team") for request in fake.requests]
        models = {request.json["model"] for request in fake.requests}
    assert headers == ["research"] * 6
    assert models == {"gpt-4o"}
    assert (report.models[0].model, report.models[0].upstream_model) == ("public-name", "gpt-4o")
    assert (await stored(db, channel.id))[("public-name", "context")] == 111_000


async def test_an_unreachable_upstream_stores_nothing_and_never_shows_the_key(
    db: Database, client: httpx.AsyncClient
) -> None:
    async with FakeOpenAI(KEY) as fake:
        base_url = fake.base_url
    channel = await add(db, base_url, models=["gpt-4o"])
    await caps.set_capabilities(db, channel.id, [CapabilitySpec("gpt-4o", "vision", False)], PROBE)
    report = await probe_channel(db, BOX, channel.id, client=client)
    said = details(report)
    assert said["vision"] == "inconclusive: the upstream is unreachable (could not connect)"
    assert all(KEY not in detail for detail in said.values())
    assert await stored(db, channel.id) == {("gpt-4o", "context"): 128_000}


async def test_the_address_guard_runs_before_anything_is_sent(
    db: Database, client: httpx.AsyncClient
) -> None:
    async def refuse(url: str) -> None:
        raise InvalidRequest("base URL refused")

    async with FakeOpenAI(KEY) as fake:
        channel = await add(db, fake.base_url)
        with pytest.raises(InvalidRequest, match="base URL refused"):
            await probe_channel(db, BOX, channel.id, client=client, check_url=refuse)
        assert fake.request_count == 0


async def test_what_cannot_be_probed_is_refused(db: Database, client: httpx.AsyncClient) -> None:
    channel = await add(db, "http://127.0.0.1:9/v1")
    with pytest.raises(InvalidRequest, match="does not serve model 'gpt-5'"):
        await probe_channel(db, BOX, channel.id, "gpt-5", client=client)
    embedder = await add(
        db,
        "http://127.0.0.1:9/v1",
        type="openai-compatible",
        name="embedder",
        endpoints=["embeddings"],
    )
    with pytest.raises(InvalidRequest, match="serves no chat endpoint"):
        await probe_channel(db, BOX, embedder.id, client=client)


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o-2024-08-06", 128_000),
        ("gpt-4.1-mini", 1_047_576),
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", 200_000),
        ("models/gemini-1.5-pro-002", 2_097_152),
        ("gpt-4-0613", None),  # unlisted: a smaller guess could refuse what fits
        ("llama3:8b", None),
    ],
)
def test_published_context_windows_by_prefix(model: str, window: int | None) -> None:
    assert context_window(model) == window
