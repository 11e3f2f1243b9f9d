"""OpenAI ``messages`` as Gemini ``systemInstruction`` plus ``contents``.

System and developer messages join into ``systemInstruction``. Roles become ``user`` and
``model`` only: tool results are ``functionResponse`` parts in a user turn, and consecutive
turns of one role merge, so N tool messages answering N parallel calls make one user turn
with N parts in the same order. A tool message finds its function name through the
``tool_call_id`` of the assistant call it answers; ids and thought signatures are unpacked
by ``call_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON, object_field
from burncloud.providers.gemini import call_ids
from burncloud.providers.gemini.parts import content_parts, content_text

# Google's documented placeholder for a function call whose real signature is lost (for
# example history written by another model): Gemini 3 then skips signature validation.
SKIP_SIGNATURE = "skip_thought_signature_validator"


@dataclass(slots=True)
class _Conversation:
    system: list[str] = field(default_factory=list)
    turns: list[JSON] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def add(self, role: str, parts: list[JSON]) -> None:
        if not parts:
            return
        if self.turns and self.turns[-1]["role"] == role:
            self.turns[-1]["parts"].extend(parts)
        else:
            self.turns.append({"role": role, "parts": parts})


def convert_messages(messages: object, *, fill_signatures: bool) -> tuple[JSON | None, list[JSON]]:
    """``(systemInstruction or None, contents)``; ``fill_signatures`` marks unsigned calls."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array")
    conversation = _Conversation()
    for message in messages:
        if not isinstance(message, dict):
            raise InvalidRequest("each message must be an object")
        _add_message(conversation, message)
    if not conversation.turns:
        raise InvalidRequest("Gemini needs at least one user or assistant message with content")
    if fill_signatures:
        _fill_missing_signatures(conversation.turns)
    system = "\n\n".join(text for text in conversation.system if text)
    return ({"parts": [{"text": system}]} if system else None), conversation.turns


def _add_message(conversation: _Conversation, message: JSON) -> None:
    role = message.get("role")
    if role in ("system", "developer"):
        conversation.system.append(content_text(message.get("content")))
    elif role == "user":
        conversation.add("user", content_parts(message.get("content")))
    elif role == "assistant":
        conversation.add("model", _assistant_parts(conversation, message))
    elif role == "tool":
        conversation.add("user", [_tool_result(conversation, message)])
    elif role == "function":
        name = message.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("a 'function' message needs the function's 'name'")
        conversation.add("user", [_function_response(name, None, message.get("content"))])
    else:
        raise InvalidRequest(f"message role {role!r} is not supported")


def _assistant_parts(conversation: _Conversation, message: JSON) -> list[JSON]:
    text = content_text(message.get("content"))
    parts: list[JSON] = [{"text": text}] if text else []
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise InvalidRequest("'tool_calls' must be an array")
    for call in calls:
        parts.append(_function_call(conversation, call))
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        parts.append(_function_call(conversation, {"function": legacy}))
    return parts


def _function_call(conversation: _Conversation, given: object) -> JSON:
    call: JSON = given if isinstance(given, dict) else {}
    function = object_field(call, "function")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("each tool call needs a function name")
    given_id = call.get("id")
    call_id = given_id if isinstance(given_id, str) else ""
    unpacked = call_ids.decode(call_id)
    if call_id:
        conversation.names[call_id] = name
    body: JSON = {"name": name, "args": _arguments(function.get("arguments"), name)}
    if unpacked.wire_id:
        body["id"] = unpacked.wire_id
    part: JSON = {"functionCall": body}
    signature = unpacked.signature or _extension_signature(call)
    if signature:
        part["thoughtSignature"] = signature
    return part


def _arguments(arguments: object, name: str) -> JSON:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str | bytes) else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest(f"arguments of the call to {name!r} must be a JSON object")
    return parsed


def _extension_signature(call: JSON) -> str | None:
    """A signature in Google's OpenAI-compatible extension field, if a client kept one."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def _tool_result(conversation: _Conversation, message: JSON) -> JSON:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest("a tool message needs its 'tool_call_id'")
    name = conversation.names.get(call_id) or message.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"tool message answers unknown tool_call_id {call_id!r}")
    return _function_response(name, call_ids.decode(call_id).wire_id, message.get("content"))


def _function_response(name: str, wire_id: str | None, content: object) -> JSON:
    body: JSON = {"name": name, "response": _response_object(content_text(content))}
    if wire_id:
        body["id"] = wire_id
    return {"functionResponse": body}


def _response_object(text: str) -> JSON:
    """Gemini wants an object: a JSON object as is, anything else as ``{"result": ...}``."""
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"result": text}
    return parsed if isinstance(parsed, dict) else {"result": parsed}


def _fill_missing_signatures(turns: Iterable[JSON]) -> None:
    for turn in turns:
        if turn["role"] != "model":
            continue
        calls = [part for part in turn["parts"] if "functionCall" in part]
        if calls and not any("thoughtSignature" in part for part in calls):
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE
