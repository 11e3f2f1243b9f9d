"""Anthropic front door: a Messages API request -> an OpenAI chat request (PROTOCOLS.md 8.6).

Tool results become ``tool`` messages placed before the rest of their user turn; images in
tool results follow as a user message (OpenAI tool messages hold text only). A ``system``
message in the conversation (the ``mid-conversation-system`` beta) stays a system message at
its place; providers with one system slot (Gemini, Bedrock) merge it into that slot. Thinking blocks
sent back by the client, ``cache_control`` and ``top_k`` are dropped; server tools (those
with a ``type`` such as ``web_search_20250305``) are dropped, as an OpenAI upstream cannot
run them. ``thinking`` becomes ``reasoning_effort`` unless ``map_thinking`` is off (for
upstream models that reject the field).
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON, object_field

_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
_IGNORED_BLOCKS = ("thinking", "redacted_thinking")


def messages_to_chat(body: JSON, *, map_thinking: bool = True) -> JSON:
    """The OpenAI chat body for an Anthropic Messages ``body`` (model name kept)."""
    messages = _system_messages(body.get("system"))
    turns = body.get("messages")
    if not isinstance(turns, list) or not turns:
        raise InvalidRequest("messages: at least one message is required")
    for turn in turns:
        messages += _convert_turn(turn)
    chat: JSON = {"model": body.get("model"), "messages": messages}
    _add_settings(chat, body)
    _add_tools(chat, body)
    if map_thinking:
        effort = _reasoning_effort(body.get("thinking"))
        if effort:
            chat["reasoning_effort"] = effort
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _system_messages(system: Any) -> list[JSON]:
    text = _joined_text(system, "system")
    return [{"role": "system", "content": text}] if text else []


def _joined_text(content: Any, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: expected a string or an array of text blocks")
    texts = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest(f"{where}: expected text blocks")
        texts.append(str(block.get("text") or ""))
    return "\n\n".join(t for t in texts if t)


def _convert_turn(turn: Any) -> list[JSON]:
    role = turn.get("role") if isinstance(turn, dict) else None
    if role == "user":
        return _user_messages(turn.get("content"))
    if role == "assistant":
        return _assistant_messages(turn.get("content"))
    if role == "system":  # mid-conversation instructions (Claude Code sends them)
        text = _joined_text(turn.get("content"), "messages: a system message")
        return [{"role": "system", "content": text}] if text else []
    raise InvalidRequest(f"messages: unsupported role {role!r}")


def _user_messages(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise InvalidRequest("messages: content must be a string or an array of blocks")
    tools: list[JSON] = []
    parts: list[JSON] = []
    for block in content:
        if not isinstance(block, dict):
            raise InvalidRequest("messages: content blocks must be objects")
        if block.get("type") == "tool_result":
            message, images = _tool_message(block)
            tools.append(message)
            parts += images
        elif block.get("type") not in _IGNORED_BLOCKS:
            parts.append(_user_part(block))
    return tools + ([_user_message(parts)] if parts else [])


def _user_message(parts: list[JSON]) -> JSON:
    if len(parts) == 1 and parts[0]["type"] == "text":
        return {"role": "user", "content": parts[0]["text"]}
    return {"role": "user", "content": parts}


def _user_part(block: JSON) -> JSON:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": str(block.get("text") or "")}
    source = object_field(block, "source")
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _source_url(source)}}
    if kind == "document" and source.get("type") == "text":
        return {"type": "text", "text": str(source.get("data") or "")}
    if kind == "document" and source.get("type") == "base64":
        file = {"file_data": _source_url(source), "filename": "document.pdf"}
        return {"type": "file", "file": file}
    raise InvalidRequest(f"messages: content block type {kind!r} is not supported here")


def _source_url(source: JSON) -> str:
    if source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    url = source.get("url")
    if source.get("type") == "url" and isinstance(url, str):
        return url
    raise InvalidRequest("messages: sources must be base64 or url")


def _tool_message(block: JSON) -> tuple[JSON, list[JSON]]:
    content = block.get("content")
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    texts = [b for b in blocks if b.get("type") == "text"]
    text = content if isinstance(content, str) else _joined_text(texts, "tool_result")
    if block.get("is_error"):
        text = "Error: " + text
    images = [_user_part(b) for b in blocks if b.get("type") == "image"]
    message = {"role": "tool", "tool_call_id": str(block.get("tool_use_id") or ""), "content": text}
    return message, images


def _assistant_messages(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"role": "assistant", "content": content}]
    if not isinstance(content, list):
        raise InvalidRequest("messages: content must be a string or an array of blocks")
    texts, calls = [], []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            calls.append(_tool_call(block))
    message: JSON = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return [message]


def _tool_call(block: JSON) -> JSON:
    arguments = orjson.dumps(block.get("input") or {}).decode()
    function = {"name": str(block.get("name") or ""), "arguments": arguments}
    return {"id": str(block.get("id") or ""), "type": "function", "function": function}


def _add_settings(chat: JSON, body: JSON) -> None:
    if isinstance(body.get("max_tokens"), int):
        chat["max_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("stop_sequences"):
        chat["stop"] = body["stop_sequences"]
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        chat["user"] = metadata["user_id"]


def _add_tools(chat: JSON, body: JSON) -> None:
    tools = [_function_tool(t) for t in body.get("tools") or [] if _is_client_tool(t)]
    if not tools:
        return
    chat["tools"] = tools
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "tool":
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in _TOOL_CHOICES:
        chat["tool_choice"] = _TOOL_CHOICES[kind]
    if choice.get("disable_parallel_tool_use") is True:
        chat["parallel_tool_calls"] = False


def _is_client_tool(tool: Any) -> bool:
    return isinstance(tool, dict) and tool.get("type") in (None, "custom")


def _function_tool(tool: JSON) -> JSON:
    function: JSON = {"name": tool.get("name")}
    if tool.get("description"):
        function["description"] = tool["description"]
    function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def _reasoning_effort(thinking: Any) -> str | None:
    if not isinstance(thinking, dict):
        return None
    if thinking.get("type") == "adaptive":
        return "medium"
    budget = thinking.get("budget_tokens")
    if thinking.get("type") != "enabled" or not isinstance(budget, int):
        return None
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"
