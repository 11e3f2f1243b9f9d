"""Responses API tools as OpenAI chat tools, and the names that map the answer's calls back.

Function tools convert one to one. The members of a ``namespace`` tool (Codex groups MCP
servers and its agent tools so) are flattened to function tools named
``<namespace>__<name>``, or, when that is no valid chat name (64 characters of
``[a-zA-Z0-9_-]``) or is taken, a shortened form ending in a hash of both. ``custom`` tools
(free-form input, maybe bound by a grammar) become function tools taking ``{"input":
string}``. Built-in tools run at OpenAI: a web search the client allows becomes chat's
``web_search_options`` (each provider maps it to its own search); every other one is left
out. No tool is ever refused, since agents declare every tool they might use; what is left
out is reported, for the route explanation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON

WEB_SEARCH_TYPES = frozenset(
    {"web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"}
)
NAME_LIMIT = 64
_CHAT_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_NOT_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_HASH_CHARS = 10
_CUSTOM_SCHEMA: JSON = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's whole input."}},
    "required": ["input"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class ToolName:
    """A tool as the client knows it: its name, its namespace, and whether it is a custom
    (free-form) tool, whose input travels as ``{"input": ...}``."""

    name: str
    namespace: str | None = None
    custom: bool = False


@dataclass(frozen=True, slots=True)
class ChatTools:
    """The chat side of a request's tools."""

    tools: tuple[JSON, ...]
    names: Mapping[str, ToolName]  # chat name -> the client's, for renamed and custom tools
    chat_names: Mapping[tuple[str | None, str], str]  # (namespace, name) -> chat name
    web_search: bool  # the client allows a live web search
    omitted: tuple[str, ...]  # "<tool>: <why it was left out>"

    def chat_name(self, name: str, namespace: str | None = None) -> str:
        """The chat name of the client's tool ``name`` (in ``namespace``), also for a tool
        no longer declared (a call in the history)."""
        known = self.chat_names.get((namespace, name))
        if known is not None:
            return known
        return name if namespace is None else flat_name(namespace, name)

    def client_name(self, chat_name: str) -> ToolName:
        """The client's tool for the chat tool ``chat_name`` (a plain function if unknown)."""
        return self.names.get(chat_name) or ToolName(chat_name)


def flat_name(namespace: str, name: str) -> str:
    """``<namespace>__<name>`` when chat takes it as a name, else a hashed form of it."""
    joined = f"{namespace}__{name}"
    return joined if _CHAT_NAME.fullmatch(joined) else hashed_name(namespace, name)


def hashed_name(namespace: str, name: str) -> str:
    """A valid chat name for ``name`` in ``namespace``: readable head, hash of both."""
    digest = hashlib.sha256(f"{namespace}\0{name}".encode()).hexdigest()[:_HASH_CHARS]
    head = _NOT_NAME_CHARS.sub("_", f"{namespace}__{name}")[: NAME_LIMIT - _HASH_CHARS - 1]
    return f"{head}_{digest}"


def convert_tools(groups: Iterable[tuple[str, Any]]) -> ChatTools:
    """The chat tools for the client's tool lists, each given with its parameter path
    (``tools``; an ``additional_tools`` item's ``input[3].tools``)."""
    declared = [
        (f"{where}[{i}]", tool) for where, tools in groups for i, tool in _listed(where, tools)
    ]
    plain = (_plain_name(where, tool) for where, tool in declared)
    builder = _Builder({name for name in plain if name is not None})
    for where, tool in declared:
        builder.add(where, tool)
    return ChatTools(
        tools=tuple(builder.tools),
        names=builder.names,
        chat_names=builder.chat_names,
        web_search=builder.web_search,
        omitted=tuple(dict.fromkeys(builder.omitted)),
    )


def _listed(where: str, tools: Any) -> Iterable[tuple[int, Any]]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise InvalidRequest(f"Invalid type for '{where}': expected an array.")
    return enumerate(tools)


def _plain_name(where: str, tool: Any) -> str | None:
    """The name of a top-level function tool, which keeps it; None for other tools."""
    if not isinstance(tool, dict):
        raise InvalidRequest(f"Invalid type for '{where}': expected an object.")
    return _name(where, tool) if tool.get("type") == "function" else None


def _name(where: str, tool: JSON) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"Missing required parameter: '{where}.name'.")
    return name


class _Builder:
    """Collects chat tools in the client's order, naming each uniquely."""

    def __init__(self, taken: set[str]) -> None:
        self.tools: list[JSON] = []
        self.names: dict[str, ToolName] = {}
        self.chat_names: dict[tuple[str | None, str], str] = {}
        self.web_search = False
        self.omitted: list[str] = []
        self._taken = taken

    def add(self, where: str, tool: JSON) -> None:
        kind = tool.get("type")
        if not isinstance(kind, str) or not kind:
            raise InvalidRequest(f"Missing required parameter: '{where}.type'.")
        if kind == "function":
            name = _name(where, tool)
            if (None, name) not in self.chat_names:  # a tool declared again is kept once
                self.chat_names[None, name] = name
                self.tools.append(function_tool(name, tool))
        elif kind == "custom":
            self._member(where, tool, None)
        elif kind == "namespace":
            self._namespace(where, tool)
        elif kind in WEB_SEARCH_TYPES:
            self._web_search(kind, tool)
        else:
            self.omitted.append(f"{kind}: a built-in tool of OpenAI's, not available here")

    def _namespace(self, where: str, tool: JSON) -> None:
        namespace = _name(where, tool)
        for index, member in _listed(f"{where}.tools", tool.get("tools")):
            place = f"{where}.tools[{index}]"
            if not isinstance(member, dict):
                raise InvalidRequest(f"Invalid type for '{place}': expected an object.")
            if member.get("type") in ("function", "custom"):
                self._member(place, member, namespace)
            else:
                self.omitted.append(f"{namespace}.{member.get('type')}: not a function tool")

    def _member(self, where: str, tool: JSON, namespace: str | None) -> None:
        name = _name(where, tool)
        if (namespace, name) in self.chat_names:  # declared again
            return
        custom = kind_of(tool) == "custom"
        chat = name if namespace is None else flat_name(namespace, name)
        if chat in self._taken:  # a top-level function already has the name
            chat = hashed_name(namespace or kind_of(tool), name)
        self._taken.add(chat)
        self.chat_names[namespace, name] = chat
        if namespace is not None or custom:
            self.names[chat] = ToolName(name, namespace, custom)
        self.tools.append(custom_tool(chat, tool) if custom else function_tool(chat, tool))

    def _web_search(self, kind: str, tool: JSON) -> None:
        if tool.get("external_web_access") is False:
            self.omitted.append(f"{kind}: external_web_access is false")
        else:
            self.web_search = True


def kind_of(tool: JSON) -> str:
    """A tool's ``type``, as text."""
    return str(tool.get("type"))


def function_tool(name: str, tool: JSON) -> JSON:
    """A chat function tool named ``name`` for a Responses function tool."""
    function: JSON = {"name": name}
    description = tool.get("description")
    if isinstance(description, str) and description:
        function["description"] = description
    if isinstance(tool.get("parameters"), dict):
        function["parameters"] = tool["parameters"]
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def custom_tool(name: str, tool: JSON) -> JSON:
    """A chat function tool named ``name`` taking a custom tool's free-form input as
    ``{"input": string}``; the input's grammar, if any, is told in the description."""
    description = tool.get("description")
    text = description if isinstance(description, str) else ""
    text += "\n\nPass the whole input as the string `input`."
    form = tool.get("format")
    if isinstance(form, dict) and form.get("type") == "grammar":
        text += (
            f" It must match this {form.get('syntax') or 'lark'} grammar:\n"
            f"{form.get('definition') or ''}"
        )
    function = {"name": name, "description": text.strip(), "parameters": _CUSTOM_SCHEMA}
    return {"type": "function", "function": function}


def convert_tool_choice(choice: Any, chat: ChatTools) -> tuple[Any, tuple[JSON, ...]]:
    """The chat ``tool_choice`` for the client's (None: leave it out) and the chat tools
    the model may use: ``allowed_tools`` narrows them, a built-in tool's choice is ``auto``."""
    if not chat.tools or choice is None:
        return None, chat.tools
    if isinstance(choice, str):
        if choice not in _CHOICES:
            raise InvalidRequest(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'."
            )
        return choice, chat.tools
    if not isinstance(choice, dict):
        raise InvalidRequest("Invalid type for 'tool_choice': expected a string or an object.")
    kind = choice.get("type")
    if kind in ("function", "custom"):
        name = _resolve(chat, choice.get("name"), choice.get("namespace"))
        return {"type": "function", "function": {"name": name}}, chat.tools
    if kind == "allowed_tools":
        return _allowed(chat, choice)
    return "auto", chat.tools


_CHOICES = ("none", "auto", "required")


def _resolve(chat: ChatTools, name: Any, namespace: Any) -> str:
    """The chat name of a tool the client names in ``tool_choice``; a bare name may also be
    a namespace member's or the flattened name itself."""
    if not isinstance(name, str) or not name:
        raise InvalidRequest("Missing required parameter: 'tool_choice.name'.")
    space = namespace if isinstance(namespace, str) and namespace else None
    found = chat.chat_names.get((space, name))
    if found is None and space is None:
        members = (c for (_, member), c in chat.chat_names.items() if member == name)
        found = next(members, name if name in chat.names else None)
    if found is None:
        raise InvalidRequest(f"Tool choice '{name}' not found in 'tools' parameter.")
    return found


def _allowed(chat: ChatTools, choice: JSON) -> tuple[Any, tuple[JSON, ...]]:
    """``allowed_tools``: the chat tools narrowed to the allowed functions, with its mode;
    when it allows only built-in tools, every tool and ``auto``."""
    mode = choice.get("mode")
    if mode not in ("auto", "required"):
        raise InvalidRequest("Invalid value for 'tool_choice.mode': expected 'auto' or 'required'.")
    allowed = choice.get("tools")
    if not isinstance(allowed, list):
        raise InvalidRequest("Missing required parameter: 'tool_choice.tools'.")
    names = {name for entry in allowed if (name := _allowed_name(chat, entry)) is not None}
    kept = tuple(tool for tool in chat.tools if tool["function"]["name"] in names)
    return (mode, kept) if kept else ("auto", chat.tools)


def _allowed_name(chat: ChatTools, entry: Any) -> str | None:
    if not isinstance(entry, dict) or entry.get("type") not in ("function", "custom"):
        return None
    return _resolve(chat, entry.get("name"), entry.get("namespace"))
