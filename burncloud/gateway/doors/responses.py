"""``POST /v1/responses``: the OpenAI Responses API, as a front door over the relay.

A channel that serves the API itself (OpenAI, an OpenAI-compatible server listing it,
Azure) gets the request untouched and its answer comes back as it came. Any other channel
(Anthropic, Gemini, Bedrock, Qwen, a compatible server serving only chat) gets the request's
chat conversion (``providers.openai.front``), and its chat answer is turned back into a
Response, whole or as ``response.*`` events.

State: a request naming ``previous_response_id`` continues a stored turn. A turn answered
untouched lives upstream, so only the channel that answered it may continue it (the door
remembers which); a converted turn is stored here, input and output, so any channel can
continue it (its items are put before the new input). Nothing is stored for ``store:
false``, which Codex and the Agents SDK send with the whole conversation each turn.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any, Protocol

import orjson

from burncloud.errors import InvalidRequest
from burncloud.gateway.asgi import Message, Receive, Scope, Send
from burncloud.gateway.doors.front_door import send_json, speaks
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.call import Call, NativeRequest
from burncloud.gateway.relay.inbound import (
    RESPONSES,
    InboundRequest,
    model_name,
    parse_object,
    parse_request,
    without_overrides,
)
from burncloud.gateway.relay.story import Relay
from burncloud.providers.openai.front import (
    Conversion,
    ResponsesFromChat,
    chat_to_response,
    convert_request,
)
from burncloud.providers.openai.responses_stream import standalone_error_event
from burncloud.services.response_store import PreviousResponseNotFound

log = logging.getLogger("burncloud.responses")

JSON = dict[str, Any]
FORMAT = "responses"
ID_SCAN_BYTES = 64 * 1024  # how far into an untouched answer its response id is looked for
# A request without ``input`` is whole when it names a stored prompt or conversation.
_INPUT_ELSEWHERE = frozenset({"previous_response_id", "prompt", "conversation"})
_RESPONSE_ID = re.compile(rb'"id"\s*:\s*"(resp_[A-Za-z0-9_-]{1,200})"')


class StoredTurn(Protocol):
    """A stored response as the door needs it."""

    @property
    def converted(self) -> bool: ...  # stored here (else: upstream, at ``channel_id``)
    @property
    def channel_id(self) -> int | None: ...

    def history(self) -> list[JSON]: ...  # converted: every item up to its output


class TurnState(Protocol):
    """Where the door keeps turns, and the seal its reasoning items travel under."""

    def seal(self, data: bytes) -> str: ...
    def unseal(self, token: str) -> bytes | None: ...  # None: not ours, or tampered with
    async def find(self, response_id: str, caller: Caller) -> StoredTurn | None: ...
    async def remember(self, response_id: str, caller: Caller, channel_id: int) -> None: ...
    async def save(
        self, response: JSON, items: Sequence[JSON], caller: Caller, channel_id: int
    ) -> None: ...


class ResponsesDoor:
    """The ASGI handler of ``POST /v1/responses``."""

    def __init__(self, relay: Relay, state: TurnState) -> None:
        self.relay = relay
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        turn = _Turn(self.state, send)
        await self.relay.handle(Call(RESPONSES, scope, receive, turn.answer, FORMAT, turn.parse))


class _Turn:
    """One Responses request: its parse, its conversion, and both ways of answering it."""

    def __init__(self, state: TurnState, send: Send) -> None:
        self._state = state
        self._send = send
        self._caller: Caller | None = None
        self._body: JSON = {}  # the request, a stored conversation's items put first
        self._store = True
        self._channel: int | None = None  # the channel of the latest attempt
        self._conversion: Conversion | None = None
        self._converted: InboundRequest | None = None
        self._stream: ResponsesFromChat | None = None
        self._status = 200
        self._buffer: list[bytes] = []
        self._id_scan: list[bytes] | None = None  # untouched answer bytes before its id

    async def parse(self, raw: bytes, caller: Caller) -> tuple[InboundRequest, NativeRequest]:
        """The routing view and the request as a channel serving the API gets it."""
        body, raw = without_overrides(parse_object(raw), raw)
        self._caller = caller
        model = model_name(body.get("model"))
        stream = _flag(body, "stream")
        self._store = body.get("store") is not False
        limit = _limit(body)
        if body.get("input") in (None, "", []) and body.keys().isdisjoint(_INPUT_ELSEWHERE):
            raise InvalidRequest("you must provide a non-empty 'input' parameter")
        pinned, body, raw = await self._continued(body, raw, caller)
        self._body = body
        if pinned is None and "previous_response_id" in body:  # a turn stored here
            untouched = {k: v for k, v in body.items() if k != "previous_response_id"}
            untouched["input"] = _for_an_upstream(untouched["input"])
            untouched_raw = orjson.dumps(untouched)
        else:
            untouched, untouched_raw = body, raw
        request = InboundRequest(
            endpoint=RESPONSES,
            body=untouched_raw,
            data=untouched,
            model=model,
            stream=stream,
            client_wants_usage=False,
            max_tokens=limit,
        )
        native = NativeRequest(
            speaks=partial(speaks, FORMAT),
            raw=untouched_raw,
            body=untouched,
            stream=stream,
            client_headers={},
            send=self._untouched_answer,
            stream_error=standalone_error_event,
            convert=self._convert,
            channel=pinned,
            on_route=self._routed,
            notes=self._notes,
        )
        return request, native

    async def _continued(
        self, body: JSON, raw: bytes, caller: Caller
    ) -> tuple[int | None, JSON, bytes]:
        """For a request continuing a stored turn: the channel it must go to (a turn that
        lives upstream), or the body with the stored conversation before its input."""
        previous = body.get("previous_response_id")
        if previous is None:
            return None, body, raw
        if not isinstance(previous, str) or not previous:
            raise InvalidRequest("'previous_response_id' must be a non-empty string")
        stored = await self._state.find(previous, caller)
        if stored is None:
            raise PreviousResponseNotFound(previous)
        if not stored.converted:
            return stored.channel_id, body, raw
        items = [*stored.history(), *_input_items(body.get("input"))]
        body = {**body, "input": items}
        return None, body, orjson.dumps(body)

    def _convert(self) -> InboundRequest:
        """The chat request for a channel of another kind, converted once."""
        if self._converted is None:
            conversion = convert_request(self._body, unseal=self._state.unseal)
            if self._store and not conversion.context.include_encrypted_reasoning:
                # A stored turn keeps its reasoning sealed, for the turn that continues it.
                context = replace(conversion.context, include_encrypted_reasoning=True)
                conversion = replace(conversion, context=context)
            self._conversion = conversion
            self._converted = parse_request(RESPONSES, orjson.dumps(conversion.chat))
        return self._converted

    def _routed(self, channel_id: int) -> None:
        self._channel = channel_id

    def _notes(self) -> tuple[str, ...]:
        return self._conversion.omitted if self._conversion is not None else ()

    # --- a channel serving the API answers untouched -------------------------------------

    async def _untouched_answer(self, message: Message) -> None:
        """Pass the answer on; first, when it is stored upstream, remember which channel
        holds it (before its first bytes leave: the client may continue it at once)."""
        if message["type"] == "http.response.start":
            if message["status"] == 200 and self._store:
                self._id_scan = []
            await self._send(message)
            return
        if self._id_scan is not None and message["type"] == "http.response.body":
            self._id_scan.append(message.get("body", b""))
            seen = b"".join(self._id_scan)
            found = _RESPONSE_ID.search(seen)
            if found is not None or len(seen) > ID_SCAN_BYTES or not message.get("more_body"):
                self._id_scan = None
                if found is not None:
                    await self._remember(found.group(1).decode())
        await self._send(message)

    async def _remember(self, response_id: str) -> None:
        if self._caller is None or self._channel is None:
            return
        try:
            await self._state.remember(response_id, self._caller, self._channel)
        except Exception:  # the answer matters more: it goes on, without its continuation
            log.exception("response %s: which channel holds it was not stored", response_id)

    # --- a converted answer: chat in, Responses out --------------------------------------

    async def answer(self, message: Message) -> None:
        """The relay's chat-format answer (or its error) in the Responses shape."""
        if message["type"] == "http.response.start":
            self._status = message["status"]
            if self._status == 200 and self._conversion is not None and self._body.get("stream"):
                self._stream = ResponsesFromChat(self._conversion.context, self._state.seal)
                await self._send(message)
            elif self._status != 200:
                await self._send(message)  # errors keep OpenAI's shape, which is the API's
            return
        if message["type"] != "http.response.body":
            return
        chunk, more = message.get("body", b""), message.get("more_body", False)
        if self._status != 200:
            await self._send(message)
        elif self._stream is not None:
            out = self._stream.feed(chunk)
            if not more:  # the terminal event is sent once the turn is stored
                tail = self._stream.finish()
                await self._keep(self._stream.final)
                out += tail
            await self._send({"type": "http.response.body", "body": out, "more_body": more})
        else:
            self._buffer.append(chunk)
            if not more:
                await self._whole(b"".join(self._buffer))

    async def _whole(self, raw: bytes) -> None:
        assert self._conversion is not None
        completion = orjson.loads(raw)
        response = chat_to_response(completion, self._conversion.context, seal=self._state.seal)
        await self._keep(response)
        await send_json(self._send, 200, response, {})

    async def _keep(self, response: JSON | None) -> None:
        """Store a converted turn (unless the client said ``store: false``)."""
        if response is None or not self._store or self._caller is None or self._channel is None:
            return
        assert self._conversion is not None
        # Its input only: the stored Response holds the output (``StoredTurn.history``).
        items = self._conversion.context.input_items
        try:
            await self._state.save(response, items, self._caller, self._channel)
        except Exception:  # the answer matters more: it goes on, without its continuation
            log.exception("response %s was not stored", response.get("id"))


def _flag(body: JSON, name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be a boolean")
    return value is True


def _limit(body: JSON) -> int | None:
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 16:
        raise InvalidRequest("'max_output_tokens' must be an integer of at least 16")
    return value


def _for_an_upstream(items: list[JSON]) -> list[JSON]:
    """A conversation stored here, as a channel serving the API takes it whole: without
    its reasoning items, sealed by burncloud (the upstream cannot open them)."""
    return [item for item in items if item.get("type") != "reasoning"]


def _input_items(value: object) -> list[JSON]:
    """A request's ``input`` as a list of items (a string is one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    raise InvalidRequest("'input' must be a string or an array of items")
