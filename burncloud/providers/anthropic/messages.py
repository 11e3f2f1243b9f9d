"""OpenAI chat ``messages`` -> Anthropic ``system`` blocks and ``messages`` (PROTOCOLS.md 8.1).

System and developer messages, wherever they stand, become top-level system text. Tool
results join the user turn that follows them, always ahead of its text; consecutive turns of
one role merge; empty text blocks are dropped (Anthropic rejects them); a conversation that
opens with the assistant gets a short user turn in front, as older models require.

An assistant message's ``thinking_blocks`` (as ``response.py`` returns them) open its turn,
ahead of text and tool use, as Anthropic wants them back. A thinking block without its
signature cannot be verified and is dropped, and so is a bare ``reasoning_content``: both
are only the text of reasoning Anthropic could not accept as its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON
from burncloud.providers.anthropic.content import part_block, text_block

OPENING_TURN = "(continue)"
_UNSAFE_ID = re.compile(r"[^a-zA-Z0-9_-]")
_THINKING_TYPES = ("thinking", "redacted_thinking")


@dataclass(frozen=True, slots=True)
class Conversation:
    """The converted conversation: system text blocks and alternating turns."""

    system: list[JSON]
    messages: list[JSON]


def convert_messages(messages: Any) -> Conversation:
    """Split OpenAI ``messages`` into Anthropic system blocks and user/assistant turns."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty array")
    system: list[JSON] = []
    turns: list[JSON] = []
    for message in messages:
        if not isinstance(message, dict):
            raise InvalidRequest("each message must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            system += _text_parts(message.get("content"), str(role))
        else:
            _append_turn(turns, *_convert_turn(message))
    if not turns:
        raise InvalidRequest("messages must hold at least one user or assistant message")
    if turns[0]["role"] == "assistant":
        turns.insert(0, {"role": "user", "content": [text_block(OPENING_TURN)]})
    _trim_prefill(turns[-1])
    return Conversation(system, turns)


def tool_use_id(value: Any) -> str:
    """A tool-call id Anthropic accepts (``^[a-zA-Z0-9_-]+$``), stable for the same input."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest("tool call ids must be non-empty strings")
    return _UNSAFE_ID.sub("_", value)


def tool_input(arguments: Any) -> JSON:
    """Parsed tool-call arguments; anything that is not a JSON object becomes ``{}``."""
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str | bytes) and arguments:
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _convert_turn(message: JSON) -> tuple[str, list[JSON]]:
    role = message.get("role")
    if role == "user":
        return "user", _user_blocks(message.get("content"))
    if role == "assistant":
        return "assistant", _assistant_blocks(message)
    if role == "tool":
        return "user", [_tool_result(message)]
    if role == "function":
        raise InvalidRequest("'function' messages are not supported; use tools and 'tool' messages")
    raise InvalidRequest(f"unsupported message role: {role!r}")


def _append_turn(turns: list[JSON], role: str, blocks: list[JSON]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        blocks = turns.pop()["content"] + blocks
    # tool results must open a user turn, thinking an assistant turn
    first = ("tool_result",) if role == "user" else _THINKING_TYPES
    blocks = [b for b in blocks if b["type"] in first] + [
        b for b in blocks if b["type"] not in first
    ]
    turns.append({"role": role, "content": blocks})


def _text_parts(content: Any, role: str) -> list[JSON]:
    if content is None or isinstance(content, str):
        block = text_block(content or "")
        return [block] if block else []
    if not isinstance(content, list):
        raise InvalidRequest(f"{role} message content must be a string or an array of parts")
    blocks = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text":
            raise InvalidRequest(f"{role} message parts must be text parts")
        block = part_block(part)
        if block:
            blocks.append(block)
    return blocks


def _user_blocks(content: Any) -> list[JSON]:
    if content is None or isinstance(content, str):
        return _text_parts(content, "user")
    if not isinstance(content, list):
        raise InvalidRequest("user message content must be a string or an array of parts")
    return [block for part in content if (block := part_block(part))]


def _assistant_blocks(message: JSON) -> list[JSON]:
    if message.get("function_call") is not None:
        raise InvalidRequest("assistant 'function_call' is not supported; use tool_calls")
    blocks = _thinking_blocks(message.get("thinking_blocks"))
    content = message.get("content")
    if isinstance(content, list):
        content = [_refusal_as_text(part) for part in content]
    blocks += _text_parts(content, "assistant")
    for call in message.get("tool_calls") or []:
        blocks.append(_tool_use(call))
    return blocks


def _refusal_as_text(part: Any) -> Any:
    if isinstance(part, dict) and part.get("type") == "refusal":
        return {"type": "text", "text": part.get("refusal") or ""}
    return part


def _thinking_blocks(blocks: Any) -> list[JSON]:
    """The signed thinking and the redacted thinking among a message's ``thinking_blocks``."""
    if not isinstance(blocks, list):
        return []
    kept = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "thinking" and _filled(block, "signature"):
            thinking = block.get("thinking")
            text = thinking if isinstance(thinking, str) else ""
            kept.append({"type": "thinking", "thinking": text, "signature": block["signature"]})
        elif kind == "redacted_thinking" and _filled(block, "data"):
            kept.append({"type": "redacted_thinking", "data": block["data"]})
    return kept


def _filled(block: JSON, key: str) -> bool:
    value = block.get(key)
    return isinstance(value, str) and bool(value)


def _tool_use(call: Any) -> JSON:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise InvalidRequest("each tool call must be an object with a 'function'")
    function = call["function"]
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("tool calls need a function name")
    return {
        "type": "tool_use",
        "id": tool_use_id(call.get("id")),
        "name": name,
        "input": tool_input(function.get("arguments")),
    }


def _tool_result(message: JSON) -> JSON:
    result: JSON = {"type": "tool_result", "tool_use_id": tool_use_id(message.get("tool_call_id"))}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            result["content"] = content
    elif isinstance(content, list):
        blocks = _text_parts(content, "tool")
        if blocks:
            result["content"] = blocks
    elif content is not None:
        raise InvalidRequest("tool message content must be a string or an array of text parts")
    return result


def _trim_prefill(turn: JSON) -> None:
    """A final assistant turn (a prefill) may not end in whitespace: Anthropic rejects it."""
    if turn["role"] != "assistant":
        return
    last = turn["content"][-1]
    if last["type"] == "text":  # never empty: whitespace-only text blocks were dropped
        last["text"] = last["text"].rstrip()
