"""The fake Anthropic refuses what Anthropic refuses about extended thinking and tools, and
accepts a tool-loop request the real API accepted (recorded)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
ACCEPTED = orjson.loads((FIXTURES / "anthropic_thinking_tool_loop.request.json").read_bytes())
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


def edited(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(ACCEPTED)
    body.update(changes)
    return body


def without_signature() -> dict[str, Any]:
    body = copy.deepcopy(ACCEPTED)
    del body["messages"][1]["content"][0]["signature"]
    return body


def without_thinking_first() -> dict[str, Any]:
    body = copy.deepcopy(ACCEPTED)
    body["messages"][1]["content"].pop(0)
    return body


REFUSED = [
    (edited(thinking={"type": "enabled", "budget_tokens": 512}), "budget_tokens"),
    (edited(thinking={"type": "enabled", "budget_tokens": 4096}), "`max_tokens` must be greater"),
    (edited(thinking={"type": "sometimes"}), "thinking.type"),
    (edited(temperature=0.5), "`temperature` may only be set to 1"),
    (edited(top_k=5), "`top_k`"),
    (edited(top_p=0.5), "`top_p`"),
    (edited(tool_choice={"type": "any"}), "tool_choice forces tool use"),
    (without_signature(), "messages.1.content.0.thinking.signature: Field required"),
    (without_thinking_first(), "Expected `thinking` or `redacted_thinking`, but found `text`"),
    (edited(tools=[{**WEB_SEARCH, "name": "search"}]), "named web_search"),
    (edited(tools=[{**WEB_SEARCH, "user_location": {"city": "Oslo"}}]), "user_location.type"),
    (edited(tools=[{"name": "get_user_country"}]), "input_schema.type"),
    (edited(tools=[{"name": "bad name", "input_schema": {"type": "object"}}]), "tools.0.name"),
]
ACCEPTED_TOO = [
    edited(temperature=1, top_p=0.95),
    edited(thinking={"type": "disabled"}, temperature=0.2),
    edited(thinking={"type": "adaptive"}),
    # without thinking, an assistant tool turn needs no thinking block
    {k: v for k, v in without_thinking_first().items() if k != "thinking"},
    edited(
        tools=[
            {**WEB_SEARCH, "user_location": {"type": "approximate", "city": "Oslo"}},
            *ACCEPTED["tools"],
        ]
    ),
]


async def _post(fake: FakeAnthropic, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"x-api-key": fake.key, "anthropic-version": "2023-06-01"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake.base_url}/v1/messages", data=orjson.dumps(body), headers=headers) as r,
    ):
        return r.status, orjson.loads(await r.read())


@pytest.mark.parametrize(("body", "message"), REFUSED)
async def test_the_fake_refuses_what_anthropic_refuses(body: dict[str, Any], message: str) -> None:
    async with FakeAnthropic() as fake:
        status, answer = await _post(fake, body)
    assert status == 400
    assert answer["error"]["type"] == "invalid_request_error"
    assert message in answer["error"]["message"]


async def test_the_fake_accepts_what_anthropic_accepted_and_answers_in_turn() -> None:
    fixtures = ("anthropic_nonstream_thinking_tool_use.json", "anthropic_nonstream_tool_use.json")
    async with FakeAnthropic(answer_fixture=fixtures) as fake:
        answers = [await _post(fake, body) for body in [ACCEPTED, *ACCEPTED_TOO]]
    assert [status for status, _ in answers] == [200] * (1 + len(ACCEPTED_TOO))
    ids = [answer["id"] for _, answer in answers]
    assert ids[0] == "msg_01WvueFjZVbHcj4H4zUzeGv2"
    assert set(ids[1:]) == {"msg_01QAHQ47smZ47jGdCgd1rjE1"}  # the last fixture repeats
