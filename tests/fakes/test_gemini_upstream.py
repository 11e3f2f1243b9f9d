"""The fake Gemini refuses Google Search grounding beside function declarations as Gemini
does, and tools that are not one known kind."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from tests.fakes.gemini_upstream import FakeGemini

CONTENTS = [{"role": "user", "parts": [{"text": "News today?"}]}]
SEARCH = {"googleSearch": {}}
FUNCTIONS = {"functionDeclarations": [{"name": "get_weather"}]}
INVOCATIONS = {"includeServerSideToolInvocations": True}


async def _post(fake: FakeGemini, model: str, body: dict[str, Any]) -> tuple[int, str]:
    url = f"{fake.base_url}/v1beta/models/{model}:generateContent"
    headers = {"x-goog-api-key": fake.key, "content-type": "application/json"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=orjson.dumps(body), headers=headers) as answer,
    ):
        data = orjson.loads(await answer.read())
    return answer.status, data.get("error", {}).get("message", "")


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("gemini-2.5-flash", {"tools": [SEARCH, FUNCTIONS]}, "Tool use with function calling"),
        ("gemini-2.5-flash", {"tools": [{**SEARCH, **FUNCTIONS}]}, "exactly one kind"),
        ("gemini-3-pro-preview", {"tools": [SEARCH, FUNCTIONS]}, "include_server_side_tool"),
        ("gemini-2.5-flash", {"tools": [{"webSearch": {}}]}, "exactly one kind"),
    ],
)
async def test_tools_gemini_refuses_are_refused(model: str, extra: dict, message: str) -> None:
    async with FakeGemini() as fake:
        status, error = await _post(fake, model, {"contents": CONTENTS, **extra})
    assert status == 400 and message in error


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("gemini-2.5-flash", {"tools": [SEARCH]}),
        ("gemini-2.5-flash", {"tools": [FUNCTIONS]}),
        ("gemini-3-pro-preview", {"tools": [SEARCH, FUNCTIONS], "toolConfig": INVOCATIONS}),
    ],
)
async def test_tools_gemini_accepts_are_accepted(model: str, extra: dict) -> None:
    async with FakeGemini() as fake:
        status, _ = await _post(fake, model, {"contents": CONTENTS, **extra})
    assert status == 200
