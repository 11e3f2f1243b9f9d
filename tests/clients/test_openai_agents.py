"""The OpenAI Agents SDK (``openai-agents``, Responses API) runs a tool-using turn through the
router's /v1/responses on each channel kind: the tool runs, the answer comes back, both
requests are logged and billed exactly, and nothing but loopback is contacted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agents import flush_traces

from tests.clients.loopback_guard import loopback_only
from tests.clients.openai_agents import (
    CAPITALS,
    PROMPT,
    default_model,
    installed_version,
    pinned_version,
    run_turn,
)
from tests.clients.record_openai_agents import (
    EXPECTED,
    SCRIPT,
    TURNS,
    fixture,
    load_recordings,
    shape,
)
from tests.clients.recording_proxy import RecordingProxy
from tests.clients.responses_channels import CALL, CHANNEL_KINDS, USAGE, expected_cost, routed
from tests.gateway.router_harness import logged_rows

# In the environment of a developer who uses OpenAI: with tracing on, the SDK would export
# spans to api.openai.com with it (the loopback guard would refuse and note that).
CALLER_KEY = "sk-proj-in-the-caller-environment"


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CHANNEL_KINDS))
async def test_agent_turn_runs_the_tool_and_both_requests_are_billed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CALLER_KEY)
    monkeypatch.delenv("OPENAI_DEFAULT_MODEL", raising=False)
    model = default_model()
    guard = loopback_only(monkeypatch)
    async with (
        routed(tmp_path, kind, SCRIPT, model) as (router, upstream),
        RecordingProxy(router.base_url.removesuffix("/v1")) as proxy,
    ):
        turn = await run_turn(f"{proxy.base_url}/v1", router.key)
        flush_traces()
    assert turn == EXPECTED
    assert guard.refused == []
    assert len(upstream.bodies()) == len(TURNS)
    sent = [call.as_fixture() for call in proxy.calls]
    assert [(r["path"], r["status"]) for r in sent] == [("/v1/responses", 200)] * len(TURNS)
    assert [shape(r) for r in sent] == [shape(r) for r in load_recordings()]
    rows = await logged_rows(router.db_url)
    assert [
        (r["endpoint"], r["model"], r["stream"], r["status"], r["estimated"]) for r in rows
    ] == [("responses", model, 0, 200, 0)] * len(TURNS)
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in rows] == [USAGE] * len(TURNS)
    assert [r["cost"] for r in rows] == [expected_cost()] * len(TURNS)


def test_the_installed_sdk_is_the_pinned_one() -> None:
    """pyproject.toml's ``dev`` extra pins openai-agents exactly: the fixtures name it."""
    assert installed_version() == pinned_version()


def test_the_recordings_are_of_the_pinned_sdk() -> None:
    """A new pin without new recordings fails here: run
    ``python -m tests.clients.record_openai_agents``."""
    version = pinned_version()
    for turn, recording in zip(TURNS, load_recordings(), strict=True):
        assert recording["openai_agents_version"] == version
        assert recording["headers"]["authorization"] == "Bearer <redacted>"
        assert recording["headers"]["user-agent"] == f"Agents/Python {version}"
        assert fixture(turn).with_name(fixture(turn).name + ".src").is_file()


def _items(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (item.get("type", "message"), item.get("role"), item.get("name"), item.get("output"))
        for item in body["input"]
    ]


def test_the_second_request_sends_the_tools_output_back() -> None:
    first, second = (recording["body"] for recording in load_recordings())
    name, arguments = CALL
    assert _items(first) == [("message", "user", None, None)]
    assert first["input"][0]["content"] == PROMPT
    assert [tool["name"] for tool in first["tools"]] == [name]
    assert _items(second) == [
        ("message", "user", None, None),
        ("function_call", None, name, None),
        ("function_call_output", None, None, CAPITALS[arguments["country"]]),
    ]
    call, output = second["input"][1:]
    assert call["call_id"] == output["call_id"]
    assert second["tools"] == first["tools"] and second["model"] == first["model"]
