"""A strict fake of the Anthropic Messages API on 127.0.0.1, replaying recorded answers.

It rejects what Anthropic rejects: a missing or wrong ``x-api-key``, no
``anthropic-version``, no ``max_tokens``, roles that do not alternate or do not start with
``user``, empty text blocks, and a ``system`` role inside ``messages`` unless the request
declares a beta that allows mid-conversation system turns (Claude Code does: it sends the
session's environment as a ``system`` message after the first user turn). Those turns hold
text only and stand outside the user/assistant alternation. Extended thinking is held to
Anthropic's rules (``_thinking_problem``): a budget from 1024 to below ``max_tokens``, no
``temperature`` but 1, no ``top_k``, ``top_p`` only from 0.95, no forced tool; a thinking
block sent back needs its signature, and with thinking enabled the assistant turn of a tool
loop must open with its thinking. Client tools need a name and an object ``input_schema``;
the web search server tool is named ``web_search``. Streams replay a recorded SSE file,
re-chunked at random byte boundaries. Given several fixtures, the fake answers with them in
turn (the last one repeats).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.model_support import ModelSupport, anthropic_answer, anthropic_refusal
from tests.fakes.replay_server import ReplayServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
# Betas under which the API takes ``system`` turns inside ``messages``: Claude Code 2.1.197
# declares the first, 2.1.332 the second (its code treats either as enabling them).
MID_CONVERSATION_SYSTEM_BETAS = frozenset(
    {"mid-conversation-system-2026-04-07", "per-turn-control-2026-07-01"}
)
MIN_BUDGET = 1024
_THINKING_BLOCKS = ("thinking", "redacted_thinking")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


class FakeAnthropic(ReplayServer):
    """``async with FakeAnthropic(key) as fake``: ``fake.base_url``, ``fake.requests``."""

    def __init__(
        self,
        key: str = "sk-canary-ant-upstream",
        *,
        stream_fixture: str | Sequence[str] = "anthropic_stream_basic_text.sse",
        answer_fixture: str | Sequence[str] = "anthropic_nonstream_tool_use.json",
        seed: int = 7,
        in_one_order: bool = False,
        support: ModelSupport | None = None,
    ) -> None:
        self.key = key
        # None: the fixtures answer; a ModelSupport: what the model lacks is refused as
        # Anthropic does, and whole answers follow the request (``model_support``).
        self.support = support
        # True: the nth request, streamed or not, gets the nth fixture of its kind (a script
        # mixing both); False: streamed and whole requests are counted apart.
        self.in_one_order = in_one_order
        self.stream_fixtures = _names(stream_fixture)
        self.answer_fixtures = _names(answer_fixture)
        self.stream_fixture, self.answer_fixture = self.stream_fixtures[0], self.answer_fixtures[0]
        super().__init__(seed)
        self.requests: list[dict[str, Any]] = []
        self.raw_requests: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self._streamed = self._answered = 0

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
        refusal = anthropic_refusal(self.support, body) if self.support is not None else None
        if refusal is not None:
            return _error(400, "invalid_request_error", refusal)
        self.requests.append(body)
        self.raw_requests.append(raw)
        self.headers.append(dict(request.headers))
        if self.support is not None and not body.get("stream"):
            return web.json_response(anthropic_answer(self.support, body))
        if body.get("stream"):
            self._streamed += 1
            streamed = _nth(self.stream_fixtures, self._turn(self._streamed))
            return await self.replay(request, FIXTURES / streamed)
        self._answered += 1
        answer = FIXTURES / _nth(self.answer_fixtures, self._turn(self._answered))
        return web.Response(body=answer.read_bytes(), content_type="application/json")

    def _turn(self, count: int) -> int:
        return len(self.requests) if self.in_one_order else count


def _names(fixtures: str | Sequence[str]) -> tuple[str, ...]:
    return (fixtures,) if isinstance(fixtures, str) else tuple(fixtures)


def _nth(fixtures: tuple[str, ...], count: int) -> str:
    return fixtures[min(count, len(fixtures)) - 1]


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
    return (
        _messages_problem(messages, betas)
        or _tools_problem(body.get("tools"))
        or _thinking_problem(body)
    )


def _messages_problem(messages: list[Any], betas: frozenset[str]) -> str | None:
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
        problem = _blocks_problem(blocks, f"messages.{index}")
        if problem:
            return problem
    return None


def _blocks_problem(blocks: list[dict[str, Any]], where: str) -> str | None:
    for index, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "text" and not block.get("text"):
            return f"{where}: text content blocks must be non-empty"
        if kind == "thinking" and not _filled(block, "signature"):
            return f"{where}.content.{index}.thinking.signature: Field required"
        if kind == "redacted_thinking" and not _filled(block, "data"):
            return f"{where}.content.{index}.redacted_thinking.data: Field required"
    return None


def _tools_problem(tools: Any) -> str | None:
    for index, tool in enumerate(tools if isinstance(tools, list) else ()):
        if not isinstance(tool, dict):
            return f"tools.{index}: Input should be an object"
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_search_"):
            location = tool.get("user_location", {"type": "approximate"})
            if tool.get("name") != "web_search":
                return f"tools.{index}.name: the web search tool must be named web_search"
            if not isinstance(location, dict) or location.get("type") != "approximate":
                return f"tools.{index}.user_location.type: Input should be 'approximate'"
        elif kind in (None, "custom"):
            schema = tool.get("input_schema")
            if not _TOOL_NAME.match(str(tool.get("name") or "")):
                return f"tools.{index}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return f"tools.{index}.input_schema.type: Input should be 'object'"
    return None


def _thinking_problem(body: dict[str, Any]) -> str | None:
    """What Anthropic refuses about a request's extended thinking (None: nothing)."""
    thinking = body.get("thinking")
    if thinking is None:
        return None
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "disabled", "adaptive"):
        return "thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'"
    if kind == "enabled":
        problem = _budget_problem(thinking.get("budget_tokens"), body["max_tokens"])
        problem = problem or _unsigned_tool_loop(body["messages"])
        if problem:
            return problem
    return _sampling_problem(body) if kind != "disabled" else None


def _budget_problem(budget: Any, max_tokens: int) -> str | None:
    if not isinstance(budget, int) or budget < MIN_BUDGET:
        return (
            f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_BUDGET}"
        )
    if budget >= max_tokens:
        return "`max_tokens` must be greater than `thinking.budget_tokens`."
    return None


def _sampling_problem(body: dict[str, Any]) -> str | None:
    if body.get("temperature", 1) != 1:
        return "`temperature` may only be set to 1 when thinking is enabled."
    if "top_k" in body:
        return "`top_k` is not supported when thinking is enabled."
    if body.get("top_p", 1) < 0.95:
        return "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def _unsigned_tool_loop(messages: list[dict[str, Any]]) -> str | None:
    """With thinking enabled, the last assistant turn, when it used tools, opens with thinking."""
    for index, message in reversed(list(enumerate(messages))):
        if message.get("role") != "assistant":
            continue
        blocks = _blocks(message.get("content"))
        first = blocks[0].get("type") if blocks else None
        if any(b.get("type") == "tool_use" for b in blocks) and first not in _THINKING_BLOCKS:
            return (
                f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                f"but found `{first}`. When `thinking` is enabled, a final `assistant` message "
                "must start with a thinking block."
            )
        return None
    return None


def _filled(block: dict[str, Any], key: str) -> bool:
    value = block.get(key)
    return isinstance(value, str) and bool(value)


def _blocks(content: Any) -> list[dict[str, Any]]:
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def _error(status: int, kind: str, message: str) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
