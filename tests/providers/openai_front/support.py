"""Helpers for the Responses conversion tests: a real Fernet seal, a strict check of chat
bodies against the openai SDK's chat request types, and SDK validation of Responses events."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import orjson
from cryptography.fernet import Fernet
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionContentPartParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.chat.completion_create_params import CompletionCreateParamsBase
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.shared_params import FunctionDefinition
from pydantic import TypeAdapter

from burncloud.protocols.sse import SSEFramer, parse_event
from burncloud.providers.openai.front import Conversion, convert_request

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CLIENTS = FIXTURES / "clients"
CHAT_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
EVENT = TypeAdapter(ResponseStreamEvent)
# LiteLLM's reasoning fields on assistant messages: the canonical chat extension here.
EXTENSIONS = frozenset({"reasoning_content", "thinking_blocks"})


def _keys(typed_dict: Any) -> frozenset[str]:
    return frozenset(typing.get_type_hints(typed_dict))


def _literal_values(annotation: Any) -> frozenset[str]:
    if get_origin(annotation) is Literal:
        return frozenset(get_args(annotation))
    return frozenset().union(*(_literal_values(arg) for arg in get_args(annotation)))


CHAT_PARAMS = _keys(CompletionCreateParamsBase) | {"stream"}
MESSAGE_KEYS = {
    "system": _keys(ChatCompletionSystemMessageParam),
    "user": _keys(ChatCompletionUserMessageParam),
    "assistant": _keys(ChatCompletionAssistantMessageParam) | EXTENSIONS,
    "tool": _keys(ChatCompletionToolMessageParam),
}
PART_TYPES = frozenset().union(
    *(
        _literal_values(typing.get_type_hints(p)["type"])
        for p in get_args(ChatCompletionContentPartParam)
    )
)
FUNCTION_KEYS = _keys(FunctionDefinition)


class Sealer:
    """The router's seal and unseal, as a real Fernet key makes them."""

    def __init__(self) -> None:
        self.fernet = Fernet(Fernet.generate_key())

    def seal(self, data: bytes) -> str:
        return self.fernet.encrypt(data).decode()

    def unseal(self, token: str) -> bytes:
        return self.fernet.decrypt(token)


def client_body(name: str) -> dict[str, Any]:
    """The body of a recorded client request (``tests/fixtures/clients``)."""
    recorded = orjson.loads((CLIENTS / name).read_bytes())
    body: dict[str, Any] = recorded["body"]
    return body


def convert(body: dict[str, Any], sealer: Sealer | None = None, **options: Any) -> Conversion:
    """``convert_request`` checked: its chat body is one OpenAI's chat API would take."""
    conversion = convert_request(body, unseal=(sealer or Sealer()).unseal, **options)
    check_chat_body(conversion.chat)
    return conversion


def check_chat_body(chat: dict[str, Any]) -> None:
    """Every field, message, content part and tool is of the SDK's chat request types."""
    assert set(chat) <= CHAT_PARAMS, set(chat) - CHAT_PARAMS
    assert isinstance(chat["model"], str) and chat["messages"]
    for message in chat["messages"]:
        assert set(message) <= MESSAGE_KEYS[message["role"]], message
        content = message.get("content")
        assert content is None or isinstance(content, str | list), message
        for part in content if isinstance(content, list) else ():
            assert part["type"] in PART_TYPES, part
    for tool in chat.get("tools", ()):
        assert set(tool) <= _keys(ChatCompletionFunctionToolParam) and tool["type"] == "function"
        assert set(tool["function"]) <= FUNCTION_KEYS
        assert CHAT_NAME.fullmatch(tool["function"]["name"]), tool["function"]["name"]
    if "stream_options" in chat:
        assert chat.get("stream") is True


def valid_response(response: dict[str, Any]) -> Response:
    """``response`` read by the openai SDK (which raises if it is not a Response)."""
    return Response.model_validate(response)


def sse_events(sse: bytes) -> list[dict[str, Any]]:
    """The events of a Responses stream, each checked: ``event:`` names its data's type,
    the SDK reads it, and sequence numbers count up from 0."""
    framer = SSEFramer()
    events = []
    for raw in framer.feed(sse):
        event = parse_event(raw)
        assert event is not None
        payload = orjson.loads(event.data)
        assert payload["type"] == event.event
        EVENT.validate_python(payload)
        events.append(payload)
    assert framer.flush() == b""
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


_IDS = re.compile(rb"\b(?:resp|msg|rs|fc|ctc|call)_[0-9a-f]{48}\b")
_TIMES = re.compile(rb'"(created_at|completed_at)":\d+')


def normalised(sse: bytes) -> bytes:
    """``sse`` with its random ids numbered by first appearance and its times blanked, so
    two runs over the same input (maybe a second apart) compare equal."""
    seen: dict[bytes, bytes] = {}

    def number(match: re.Match[bytes]) -> bytes:
        return seen.setdefault(match.group(0), b"id%d" % len(seen))

    return _TIMES.sub(rb'"\1":0', _IDS.sub(number, sse))
