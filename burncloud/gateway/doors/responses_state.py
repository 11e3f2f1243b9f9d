"""``GET``/``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items``.

A response burncloud made by conversion is answered from its stored row; one an upstream
made is asked of the channel that made it, whose answer comes back as it came
(``relay.stored_response``). A response id the caller's user has none of (unknown,
another user's, expired, deleted) is OpenAI's 404, the same whichever it is. Not relayed,
so not logged when it succeeds; a failure after the key was accepted is logged like any
other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from burncloud.db import Database
from burncloud.errors import BurncloudError, InvalidRequest, ServiceUnavailable
from burncloud.gateway.asgi import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    client_ip,
    header_map,
    send_error,
    send_json,
)
from burncloud.gateway.relay.auth import Caller, authenticate, extract_key
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.inbound import Endpoint
from burncloud.gateway.relay.request_id import request_id
from burncloud.gateway.relay.stored_response import (
    LIST_PARAMS,
    RETRIEVE_PARAMS,
    forwarded,
    open_at_channel,
    relay_answer,
)
from burncloud.gateway.relay.story import Relay
from burncloud.services.response_store import (
    PAGE_LIMIT,
    ResponseNotFound,
    StoredResponse,
    delete,
    find,
    input_items_page,
)

RETRIEVE = Endpoint("responses.retrieve", "/responses", "", False, 0, "responses")
DELETE = Endpoint("responses.delete", "/responses", "", False, 0, "responses")
INPUT_ITEMS = Endpoint("responses.input_items", "/responses", "", False, 0, "responses")
ITEMS_SUFFIX = "/input_items"
_PATH = re.compile(r"/v1/responses/(?P<id>[^/]+)(?P<items>/input_items)?/?")
MAX_ID_LENGTH = 256  # far above any real id (``resp_`` and 50 hex digits): no longer lookups

Query = list[tuple[str, str]]


class Storage(Protocol):
    """Where the rows are: the worker's database (``Runtime`` is one)."""

    @property
    def db(self) -> Database: ...


@dataclass(frozen=True, slots=True)
class Target:
    """What a request asks: the call and the response id."""

    endpoint: Endpoint
    response_id: str

    @property
    def suffix(self) -> str:
        return ITEMS_SUFFIX if self.endpoint is INPUT_ITEMS else ""


def target_of(method: str, path: str) -> Target | None:
    """The call a request's method and path make, if they make one of these."""
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    if match["items"]:
        return Target(INPUT_ITEMS, match["id"]) if method == "GET" else None
    endpoint = {"GET": RETRIEVE, "DELETE": DELETE}.get(method)
    return None if endpoint is None else Target(endpoint, match["id"])


def serves(method: str, path: str) -> bool:
    """Whether ``ResponsesState`` answers this request (the server's route test)."""
    return target_of(method, path) is not None


class ResponsesState:
    """The ASGI handler of the stored-response routes (``serves`` tells which)."""

    def __init__(self, relay: Relay, storage: Storage) -> None:
        self.relay = relay
        self.storage = storage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = target_of(scope["method"], scope["path"])
        assert target is not None, "routed here only when serves() said so"
        deps = self.relay.deps
        exchange = Exchange(request_id=request_id(scope))
        try:
            key = extract_key(header_map(scope))
            caller = authenticate(deps.snapshot(), key, client_ip(scope))
            exchange.caller = caller
            await self._serve(target, caller, _query(scope), exchange, receive, send)
        except ClientDisconnected:
            return
        except BurncloudError as exc:
            exchange.status, exchange.error = exc.status, exc.message
            if not exchange.responded:
                await send_error(send, exc, exchange.headers)
        if exchange.caller is not None and exchange.status != 200:
            self.relay.record(target.endpoint, exchange)

    async def _serve(
        self,
        target: Target,
        caller: Caller,
        query: Query,
        exchange: Exchange,
        receive: Receive,
        send: Send,
    ) -> None:
        stored = await self._find(target.response_id, caller.user.id)
        exchange.channel_id = stored.channel_id
        if stored.converted:
            exchange.model = str((stored.response or {}).get("model", ""))
            answer = await self._answer(target, stored, query)
            exchange.responded = True
            await send_json(send, 200, answer, exchange.headers)
            return
        await self._at_channel(target, stored, query, exchange, receive, send)

    async def _find(self, response_id: str, user_id: int) -> StoredResponse:
        stored = None
        if len(response_id) <= MAX_ID_LENGTH:
            stored = await find(self.storage.db, response_id, user_id)
        if stored is None:
            raise ResponseNotFound(response_id)
        return stored

    async def _answer(self, target: Target, stored: StoredResponse, query: Query) -> Any:
        """A converted response's answer, from its row."""
        if target.endpoint is INPUT_ITEMS:
            return _page(stored, query)
        if target.endpoint is DELETE:
            if not await delete(self.storage.db, stored.id, stored.user_id):
                raise ResponseNotFound(stored.id)  # deleted meanwhile
            return {"id": stored.id, "object": "response.deleted", "deleted": True}
        if _flag(query, "stream"):
            raise InvalidRequest(
                "Invalid 'stream': only background responses can be streamed, and"
                " this one was not created in the background."
            )
        return stored.response

    async def _at_channel(
        self,
        target: Target,
        stored: StoredResponse,
        query: Query,
        exchange: Exchange,
        receive: Receive,
        send: Send,
    ) -> None:
        """Ask the channel that holds a passthrough response; a DELETE it answers (or
        that finds the response gone there) forgets the response here too."""
        deps = self.relay.deps
        upstream = deps.snapshot().upstreams.get(stored.channel_id or 0)
        if upstream is None:
            raise ServiceUnavailable(
                f"the channel holding response '{stored.id}' is not available now"
            )
        names = LIST_PARAMS if target.endpoint is INPUT_ITEMS else RETRIEVE_PARAMS
        method = "DELETE" if target.endpoint is DELETE else "GET"
        params = forwarded(query, names) if method == "GET" else []
        answer = await open_at_channel(deps, upstream, method, stored.id, target.suffix, params)
        if answer is None:
            if method == "DELETE":
                await delete(self.storage.db, stored.id, stored.user_id)
            raise ResponseNotFound(stored.id)
        try:
            if method == "DELETE":
                await delete(self.storage.db, stored.id, stored.user_id)
            await relay_answer(answer, upstream, exchange, receive, send)
        finally:
            answer.release()


def _query(scope: Scope) -> Query:
    raw: bytes = scope.get("query_string", b"")
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True)


def _flag(query: Query, name: str) -> bool:
    return any(key == name and value.lower() == "true" for key, value in query)


def _page(stored: StoredResponse, query: Query) -> Any:
    """The input_items page the query asks for."""
    params = dict(query)
    raw_limit = params.get("limit")
    try:
        limit = PAGE_LIMIT if raw_limit is None else int(raw_limit)
    except ValueError:
        raise InvalidRequest("Invalid 'limit': expected an integer from 1 to 100.") from None
    return input_items_page(
        stored, params.get("after"), params.get("before"), limit, params.get("order", "desc")
    )
