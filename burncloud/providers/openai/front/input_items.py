"""Responses API input items as OpenAI chat messages.

Messages keep their role (``developer`` is a system message). A model's turn is one
assistant message: its text, then the calls that follow it (consecutive ``function_call``
items, ``custom_tool_call`` items with their input as ``{"input": ...}``, and the calls of
client-run built-in tools: ``local_shell``, ``shell``, ``apply_patch``), with the reasoning
items before them as ``reasoning_content`` and ``thinking_blocks``. Each call's output is a
tool message. Items chat has no room for and that carry nothing the model needs (web
searches run at OpenAI, references to items stored there, compaction and tool-list
bookkeeping) are left out and reported; ``additional_tools`` items give tools
(``tools.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON
from burncloud.providers.openai.front.content import (
    json_text,
    text_content,
    tool_output,
    user_content,
)
from burncloud.providers.openai.front.reasoning import Reasoning, Unseal, unsealed
from burncloud.providers.openai.front.tools import ChatTools

_ROLES = ("user", "assistant", "system", "developer")
_SILENT = frozenset({"additional_tools"})  # read elsewhere: not reported as left out
# Client-run built-in tools' calls: the function name they get, and their arguments' field.
_BUILT_IN_CALLS = {
    "local_shell_call": ("local_shell", "action"),
    "shell_call": ("shell", "action"),
    "apply_patch_call": ("apply_patch", "operation"),
}
_OUTPUTS = frozenset(
    {
        "function_call_output",
        "custom_tool_call_output",
        "local_shell_call_output",
        "shell_call_output",
        "apply_patch_call_output",
    }
)


def item_type(item: Any, where: str) -> str:
    """An input item's type (a message may leave it out)."""
    if not isinstance(item, dict):
        raise InvalidRequest(f"Invalid type for '{where}': expected an object.")
    kind = item.get("type")
    if kind is None and "role" in item:
        return "message"
    if not isinstance(kind, str) or not kind:
        raise InvalidRequest(f"Missing required parameter: '{where}.type'.")
    return kind


class ChatMessages:
    """Chat messages built from input items, in order."""

    def __init__(self, tools: ChatTools, unseal: Unseal) -> None:
        self.messages: list[JSON] = []
        self.omitted: list[str] = []
        self._tools, self._unseal = tools, unseal
        self._reasoning: list[Reasoning] = []  # reasoning items waiting for their turn
        self._attachments: list[JSON] = []  # tool outputs' images and files
        self._handlers: dict[str, Callable[[JSON, str], None]] = {
            "message": self._message,
            "reasoning": self._reasoning_item,
            "function_call": self._function_call,
            "custom_tool_call": self._custom_call,
            "mcp_call": self._mcp_call,
        }

    def add(self, item: Any, where: str) -> None:
        """Add one input item at ``where`` (its parameter path)."""
        kind = item_type(item, where)
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(item, where)
        elif kind in _OUTPUTS:
            self._output(item, where)
        elif kind in _BUILT_IN_CALLS:
            name, field = _BUILT_IN_CALLS[kind]
            self._call(item, where, name, json_text(item.get(field) or {}))
        elif kind not in _SILENT:
            self.omitted.append(f"{kind} items: no equivalent on this channel")

    def finish(self) -> list[JSON]:
        """The messages; reasoning that no assistant turn followed is dropped."""
        self._attach()
        return self.messages

    def _message(self, item: JSON, where: str) -> None:
        role = item.get("role")
        if role not in _ROLES:
            raise InvalidRequest(
                f"Invalid value: '{role}'. Supported values are: 'assistant', 'system', "
                f"'developer', and 'user'. (at '{where}.role')"
            )
        if "content" not in item:
            raise InvalidRequest(f"Missing required parameter: '{where}.content'.")
        content, place = item["content"], f"{where}.content"
        if role == "user":
            self._append({"role": "user", "content": user_content(content, place)})
        elif role == "assistant":
            message = {"role": "assistant", "content": text_content(content, place)}
            self._append(self._with_reasoning(message))
        else:
            self._append({"role": "system", "content": text_content(content, place)})

    def _reasoning_item(self, item: JSON, where: str) -> None:
        reasoning = unsealed(item, self._unseal, where)
        if reasoning:
            self._reasoning.append(reasoning)

    def _function_call(self, item: JSON, where: str) -> None:
        name = _required_text(item, "name", where)
        namespace = item.get("namespace") if isinstance(item.get("namespace"), str) else None
        arguments = item.get("arguments")
        self._call(item, where, self._tools.chat_name(name, namespace), json_text(arguments or ""))

    def _custom_call(self, item: JSON, where: str) -> None:
        name = _required_text(item, "name", where)
        namespace = item.get("namespace") if isinstance(item.get("namespace"), str) else None
        wrapped = json_text({"input": str(item.get("input") or "")})
        self._call(item, where, self._tools.chat_name(name, namespace), wrapped)

    def _mcp_call(self, item: JSON, where: str) -> None:
        """A call a remote MCP server ran at OpenAI: the call and its result in one item."""
        name = _required_text(item, "name", where)
        server = str(item.get("server_label") or "mcp")
        self._call(
            item, where, self._tools.chat_name(name, server), str(item.get("arguments") or "{}")
        )
        result = item.get("output") if item.get("output") is not None else item.get("error")
        self.messages.append(_tool_message(_call_id(item, where), json_text(result or "")))

    def _call(self, item: JSON, where: str, name: str, arguments: str) -> None:
        """A tool call, joining the assistant turn it follows (or opening one)."""
        function = {"name": name, "arguments": arguments}
        call = {"id": _call_id(item, where), "type": "function", "function": function}
        last = self.messages[-1] if self.messages else None
        if last is None or last["role"] != "assistant":
            last = {"role": "assistant", "content": None}
            self._append(last)
        self._with_reasoning(last).setdefault("tool_calls", []).append(call)

    def _output(self, item: JSON, where: str) -> None:
        parts: list[JSON] = []
        if item.get("type") == "shell_call_output":  # stdout, stderr and outcome per command
            text = json_text(item.get("output") or [])
        else:
            text, parts = tool_output(item.get("output"), f"{where}.output")
        if item.get("type") == "apply_patch_call_output" and not text:
            text = str(item.get("status") or "")
        self.messages.append(_tool_message(_call_id(item, where), text))
        self._attachments += parts

    def _append(self, message: JSON) -> None:
        self._attach()
        self.messages.append(message)

    def _attach(self) -> None:
        """Tool outputs' images and files, as a user message after the tool messages."""
        if self._attachments:
            self.messages.append({"role": "user", "content": self._attachments})
            self._attachments = []

    def _with_reasoning(self, message: JSON) -> JSON:
        """``message`` (an assistant turn) with the reasoning items that came before it."""
        for reasoning in self._reasoning:
            if reasoning.text:
                earlier = message.get("reasoning_content")
                joined = f"{earlier}\n\n{reasoning.text}" if earlier else reasoning.text
                message["reasoning_content"] = joined
            if reasoning.blocks:
                message["thinking_blocks"] = [
                    *message.get("thinking_blocks", ()),
                    *reasoning.blocks,
                ]
        self._reasoning = []
        return message


def _tool_message(call_id: str, content: str) -> JSON:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def _call_id(item: JSON, where: str) -> str:
    """A call's id (``call_id``; a local shell call's output names it ``id``)."""
    call_id = item.get("call_id") or item.get("id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"Missing required parameter: '{where}.call_id'.")
    return call_id


def _required_text(item: JSON, key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"Missing required parameter: '{where}.{key}'.")
    return value
