"""The strict fake's /v1/responses takes what OpenAI takes (the SDK's vocabulary and what
Codex CLI really sends) and refuses the rest with OpenAI's 400."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.fakes import FakeOpenAI

CODEX_BODIES = {
    path.stem: orjson.loads(path.read_bytes())["body"]
    for path in sorted(
        (Path(__file__).resolve().parents[1] / "fixtures" / "clients").glob("codex_*.json")
    )
}
BASE: dict[str, Any] = {"model": "gpt-4o", "input": "hi"}


async def _post(body: dict[str, Any]) -> httpx.Response:
    async with FakeOpenAI() as fake, httpx.AsyncClient() as http:
        return await http.post(
            f"{fake.base_url}/responses",
            json=body,
            headers={"Authorization": f"Bearer {fake.key}"},
        )


def test_there_are_codex_recordings() -> None:
    assert len(CODEX_BODIES) >= 2


@pytest.mark.parametrize("name", sorted(CODEX_BODIES))
async def test_what_codex_really_sends_is_accepted(name: str) -> None:
    answer = await _post(CODEX_BODIES[name])
    assert answer.status_code == 200, answer.text
    assert b"event: response.completed" in answer.content


@pytest.mark.parametrize(
    "extra",
    [
        {"prompt_cache_options": {"mode": "implicit"}},
        {"include": ["reasoning.encrypted_content"], "store": False},
        {"reasoning": {"effort": "low", "context": "all_turns", "summary": "auto"}},
        {"text": {"verbosity": "low", "format": {"type": "text"}}},
        {"tools": [{"type": "web_search", "external_web_access": False}]},
        {"input": [{"role": "user", "content": "hi"}, {"type": "item_reference", "id": "x"}]},
    ],
)
async def test_parameters_openai_accepts_are_accepted(extra: dict[str, Any]) -> None:
    answer = await _post({**BASE, **extra})
    assert answer.status_code == 200, answer.text


FUNCTION = {"type": "function", "name": "f", "parameters": {"type": "object"}}


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"include": ["reasoning.plaintext"]}, "include[0]", "invalid_value"),
        ({"reasoning": {"budget": 10}}, "reasoning.budget", "unknown_parameter"),
        ({"text": {"style": "terse"}}, "text.style", "unknown_parameter"),
        ({"tools": [FUNCTION, {"type": "browser"}]}, "tools[1].type", "invalid_value"),
        (
            {"tools": [{"type": "namespace", "name": "n", "tools": [{"type": "nope"}]}]},
            "tools[0].tools[0].type",
            "invalid_value",
        ),
        ({"input": [{"type": "chat_message", "role": "user"}]}, "input[0].type", "invalid_value"),
        ({"input": [{"content": "no role, no type"}]}, "input[0].type", "invalid_value"),
        ({"input": ["hi"]}, "input[0]", "invalid_type"),
        (
            {"input": [{"type": "additional_tools", "role": "developer", "tools": [{}]}]},
            "input[0].tools[0].type",
            "invalid_value",
        ),
    ],
)
async def test_what_openai_rejects_is_a_400_naming_the_parameter(
    extra: dict[str, Any], param: str, code: str
) -> None:
    answer = await _post({**BASE, **extra})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
