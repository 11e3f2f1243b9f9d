"""A strict fake of the Anthropic Messages API on 127.0.0.1, replaying recorded answers.

It rejects what Anthropic rejects: a missing or wrong ``x-api-key``, no
``anthropic-version``, no ``max_tokens``, roles that do not alternate or do not start with
``user``, empty text blocks, and a ``system`` role inside ``messages`` unless the request
declares a beta that allows mid-conversation system turns (Claude Code does: it sends the
session's environment as a ``system`` message after the first user turn). Those turns hold
text only and stand outside the user/assistant alternation. Streams replay a recorded SSE
file, re-chunked at random byte boundaries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.replay_server import ReplayServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
# Betas under which the API takes ``system`` turns inside ``messages``: Claude Code 2.1.197
# declares the first, 2.1.332 the second (its code treats either as enabling them).
MID_CONVERSATION_SYSTEM_BETAS = frozenset(
    {"mid-conversation-system-2026-04-07", "per-turn-control-2026-07-01"}
)


class FakeAnthropic(ReplayServer):
    """``async with FakeAnthropic(key) as fake``: ``fake.base_url``, ``fake.requests``."""

    def __init__(
        self,
        key: str = "sk-canary-ant-upstream",
        *,
        stream_fixture: str = "anthropic_stream_basic_text.sse",
        answer_fixture: str = "anthropic_nonstream_tool_use.json",
        seed: int = 7,
    ) -> None:
        self.key = key
        self.stream_fixture = stream_fixture
        self.answer_fixture = answer_fixture
        super().__init__(seed)
        self.requests: list[dict[str, Any]] = []
        self.raw_requests: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("x-api-key") != self.key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version header is required")
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "invalid_request_error", "invalid JSON")
        problem = _invalid(body, _betas(request.headers.get("anthropic-beta", "")))
        if problem:
            return _error(400, "invalid_request_error", problem)
        self.requests.append(body)
        self.raw_requests.append(raw)
        self.headers.append(dict(request.headers))
        if body.get("stream"):
            return await self.replay(request, FIXTURES / self.stream_fixture)
        return web.Response(
            body=(FIXTURES / self.answer_fixture).read_bytes(), content_type="application/json"
        )


def _betas(header: str) -> frozenset[str]:
    return frozenset(name.strip() for name in header.split(",") if name.strip())


def _invalid(body: Any, betas: frozenset[str]) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return "model: field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    system_turns = not betas.isdisjoint(MID_CONVERSATION_SYSTEM_BETAS)
    expected = "user"
    for index, message in enumerate(messages):
        blocks = _blocks(message.get("content"))
        if message.get("role") == "system" and system_turns and index > 0:
            if any(b.get("type") != "text" for b in blocks):
                return f"messages.{index}: a system turn holds text blocks only"
        elif message.get("role") != expected:
            return f"messages.{index}.role: roles must alternate user/assistant, starting with user"
        else:
            expected = "assistant" if expected == "user" else "user"
        if any(b.get("type") == "text" and not b.get("text") for b in blocks):
            return f"messages.{index}: text content blocks must be non-empty"
    return None


def _blocks(content: Any) -> list[dict[str, Any]]:
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def _error(status: int, kind: str, message: str) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
