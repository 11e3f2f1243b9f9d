"""The scripted anthropic upstream answers a script in order, whole or streamed as each
request asks, with the call, the text and the usage every channel kind's script promises."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.clients.responses_channels import ANSWER, CALL, USAGE, scripted_anthropic

HEADERS = {"anthropic-version": "2023-06-01"}


def _request(stream: bool) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
    }


def _events(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line[5:]) for line in raw.splitlines() if line.startswith(b"data:")]


def _streamed(raw: bytes) -> tuple[str, dict[str, Any] | None, tuple[int, int]]:
    """The text, the tool call (name and input) and the usage a stream adds up to."""
    text, tool, partial, usage = "", None, "", [0, 0]
    for event in _events(raw):
        kind = event["type"]
        if kind == "message_start":
            usage[0] = event["message"]["usage"]["input_tokens"]
        elif kind == "content_block_start" and event["content_block"]["type"] == "tool_use":
            tool = {"name": event["content_block"]["name"]}
        elif kind == "content_block_delta":
            text += event["delta"].get("text", "")
            partial += event["delta"].get("partial_json", "")
        elif kind == "message_delta":
            usage[1] = event["usage"]["output_tokens"]
    if tool is not None:
        tool["input"] = orjson.loads(partial)
    return text, tool, (usage[0], usage[1])


def _whole(answer: dict[str, Any]) -> tuple[str, dict[str, Any] | None, tuple[int, int]]:
    blocks = answer["content"]
    text = "".join(b["text"] for b in blocks if b["type"] == "text")
    tools = [{"name": b["name"], "input": b["input"]} for b in blocks if b["type"] == "tool_use"]
    usage = answer["usage"]["input_tokens"], answer["usage"]["output_tokens"]
    return text, (tools[0] if tools else None), usage


async def test_a_script_mixing_whole_and_streamed_requests_is_answered_in_order() -> None:
    name, arguments = CALL
    call = ("", {"name": name, "input": arguments}, USAGE)
    text = (ANSWER, None, USAGE)
    async with (
        scripted_anthropic(("call", "text", "text", "call")) as upstream,
        httpx.AsyncClient(timeout=10) as client,
    ):
        got = []
        for stream in (False, True, False, True):
            answer = await client.post(
                f"{upstream.base_url}/v1/messages",
                json=_request(stream),
                headers={**HEADERS, "x-api-key": upstream.key},
            )
            assert answer.status_code == 200, answer.text
            got.append(_streamed(answer.content) if stream else _whole(answer.json()))
        assert len(upstream.bodies()) == 4
    assert got == [call, text, text, call]
