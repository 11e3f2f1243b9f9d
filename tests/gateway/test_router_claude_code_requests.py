"""What Claude Code really sends (tests/fixtures/clients/claude-code, recorded from the real
client), replayed through the Anthropic door: untouched to an Anthropic channel, converted
for OpenAI and Gemini channels, and billed either way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.services.prices import set_price
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.gateway.router_harness import (
    RunningRouter,
    logged_rows,
    point_channel_at,
    running_router,
)

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "clients" / "claude-code"
FIXTURES = sorted(RECORDED.glob("*.json"))
HOP_BY_HOP = {"host", "content-length", "connection", "accept-encoding", "x-api-key"}


def _recorded(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _models() -> list[str]:
    return sorted({_recorded(path)["body"]["model"] for path in FIXTURES})


async def _serve_models(router: RunningRouter, channel_type: str, fake: Any, **fields) -> None:
    """Price every model Claude Code asked for and point the channel at ``fake`` for them."""
    db = await open_database(router.db_url)
    try:
        async with db.transaction() as tx:
            for model in _models():
                await set_price(tx, model, parse_usd("3"), parse_usd("15"))
    finally:
        await db.close()
    await point_channel_at(
        router, channel_type, fake.base_url, fake.key, models=_models(), **fields
    )


async def _replay(router: RunningRouter, recorded: dict[str, Any]) -> tuple[httpx.Response, bytes]:
    """Send the recorded request as Claude Code did (path, query, headers, body)."""
    body = orjson.dumps(recorded["body"])
    headers = {k: v for k, v in recorded["headers"].items() if k.lower() not in HOP_BY_HOP}
    headers["x-api-key"] = router.key
    url = router.base_url.removesuffix("/v1") + recorded["path"]
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url, params=recorded["query"], content=body, headers=headers)
    return response, body


def test_the_recordings_hold_what_the_door_must_handle() -> None:
    """The fixtures are the real client's: a mid-conversation system turn, a tool round
    trip, thinking, betas and max_tokens far above what OpenAI models take."""
    bodies = [_recorded(path)["body"] for path in FIXTURES]
    assert any(m["role"] == "system" for body in bodies for m in body["messages"])
    assert any(m["role"] == "assistant" for body in bodies for m in body["messages"])
    assert all(body["max_tokens"] > 16_384 for body in bodies)
    assert all(_recorded(path)["query"] == {"beta": "true"} for path in FIXTURES)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.stem)
async def test_an_anthropic_channel_gets_claude_codes_request_untouched(tmp_path, fixture) -> None:
    recorded = _recorded(fixture)
    async with (
        FakeOpenAI("unused") as unused,
        FakeAnthropic() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await _serve_models(router, "anthropic", fake)
        response, sent = await _replay(router, recorded)
    assert response.status_code == 200, response.text
    assert fake.raw_requests == [sent]  # byte for byte: nothing parsed and re-serialised
    betas = recorded["headers"]["anthropic-beta"]
    assert fake.headers[-1]["anthropic-beta"] == betas
    rows = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["status"], r["model"]) for r in rows] == [
        ("messages", 200, recorded["body"]["model"])
    ]
    assert rows[0]["cost"] > 0 and not rows[0]["estimated"]


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.stem)
async def test_an_openai_channel_gets_claude_codes_request_converted(tmp_path, fixture) -> None:
    recorded = _recorded(fixture)
    body = recorded["body"]
    async with (
        FakeOpenAI("sk-canary-openai", prompt_tokens=100, completion_tokens=20) as fake,
        running_router(tmp_path, fake) as router,
    ):
        mapping = {model: "gpt-4o" for model in _models()}
        await _serve_models(router, "openai", fake, model_map=mapping)
        response, _ = await _replay(router, recorded)
    assert response.status_code == 200, response.text
    sent = fake.last_request.json
    assert sent["model"] == "gpt-4o"
    assert sent["max_tokens"] == 16_384  # gpt-4o's limit, not the 32000+ Claude Code asks
    roles = [m["role"] for m in sent["messages"]]
    expected = ["system"] + [_openai_role(m) for m in body["messages"]]
    assert roles == expected
    if any(m["role"] == "assistant" for m in body["messages"]):
        assert "tool" in roles  # the tool_result became a tool message
        assert sent["messages"][roles.index("tool") - 1]["tool_calls"]
    rows = await logged_rows(router.db_url)
    assert [(r["status"], r["prompt_tokens"], r["completion_tokens"]) for r in rows] == [
        (200, 100, 20)
    ]


def _openai_role(message: dict[str, Any]) -> str:
    """The role a Messages turn takes in the OpenAI conversion (a user turn of one tool
    result becomes one tool message)."""
    content = message["content"]
    if isinstance(content, list) and all(block["type"] == "tool_result" for block in content):
        return "tool"
    return message["role"]


async def test_a_gemini_channel_gets_claude_codes_request_converted(tmp_path) -> None:
    recorded = _recorded(RECORDED / "tool_result_turn.json")
    async with (
        FakeOpenAI("unused") as unused,
        FakeGemini() as fake,
        running_router(tmp_path, unused) as router,
    ):
        mapping = {model: "gemini-2.5-flash" for model in _models()}
        await _serve_models(router, "gemini", fake, model_map=mapping)
        response, _ = await _replay(router, recorded)
    assert response.status_code == 200, response.text
    sent = fake.requests[-1]
    system = " ".join(part["text"] for part in sent["systemInstruction"]["parts"])
    assert "# Environment" in system  # the mid-conversation system turn, merged (one slot)
    assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
    assert sent["generationConfig"]["maxOutputTokens"] == 65_536  # capped, not refused
    rows = await logged_rows(router.db_url)
    assert [r["status"] for r in rows] == [200]
