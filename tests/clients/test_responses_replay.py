"""Every Responses request recorded from a real client (tests/fixtures/clients/*.json: Codex
CLI, OpenAI Agents SDK, Vercel AI SDK) is accepted by the router's /v1/responses on each
channel kind, answered whole or streamed as it asked, and billed once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.clients.responses_channels import ANSWER, CHANNEL_KINDS, USAGE, expected_cost, routed
from tests.gateway.router_harness import logged_rows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients"


def responses_recordings() -> dict[str, dict[str, Any]]:
    """The recorded POST /v1/responses requests by fixture name (without ``.json``)."""
    recordings = {path.stem: orjson.loads(path.read_bytes()) for path in FIXTURES.glob("*.json")}
    return {
        name: recording
        for name, recording in sorted(recordings.items())
        if (recording["method"], recording["path"]) == ("POST", "/v1/responses")
    }


RECORDINGS = responses_recordings()


def _events(raw: bytes) -> list[dict[str, Any]]:
    """The JSON ``data:`` payloads of an SSE body."""
    return [
        orjson.loads(line[5:])
        for line in raw.splitlines()
        if line.startswith(b"data:") and line[5:].strip() != b"[DONE]"
    ]


def _final_response(answer: httpx.Response, stream: bool) -> dict[str, Any]:
    if not stream:
        response: dict[str, Any] = answer.json()
        return response
    events = _events(answer.content)
    assert events[-1]["type"] == "response.completed", events[-1]
    completed: dict[str, Any] = events[-1]["response"]
    return completed


def _output_text(response: dict[str, Any]) -> str:
    return "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def test_every_client_has_recordings_and_one_sends_a_tool_output_back() -> None:
    for client in ("codex_", "openai_agents_", "vercel_ai_"):
        assert any(name.startswith(client) for name in RECORDINGS), client
    items = [item for r in RECORDINGS.values() for item in r["body"]["input"]]
    assert any(item.get("type") == "function_call_output" for item in items)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CHANNEL_KINDS))
@pytest.mark.parametrize("name", sorted(RECORDINGS))
async def test_a_recorded_request_is_accepted_answered_and_billed(
    tmp_path: Path, kind: str, name: str
) -> None:
    body = RECORDINGS[name]["body"]
    stream = body.get("stream") is True
    async with routed(tmp_path, kind, ("text",), body["model"]) as (router, upstream):
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"{router.base_url}/responses",
                content=orjson.dumps(body),
                headers={"Authorization": f"Bearer {router.key}"},
            )
        assert answer.status_code == 200, answer.text
        assert len(upstream.bodies()) == 1
    response = _final_response(answer, stream)
    assert (response["status"], _output_text(response)) == ("completed", ANSWER)
    rows = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["model"], r["stream"], r["status"]) for r in rows] == [
        ("responses", body["model"], int(stream), 200)
    ]
    assert (rows[0]["prompt_tokens"], rows[0]["completion_tokens"]) == USAGE
    assert rows[0]["cost"] == expected_cost()
