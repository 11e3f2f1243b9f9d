"""The router's composition root: ``create_app(settings)``, a worker's ASGI app.

The OpenAI relay endpoints are bare ASGI handlers dispatched ahead of a Quart app that
serves everything else (account endpoints, health, later the admin API). One lifespan
starts and stops the worker's Runtime. Importing this module must not import typer, rich
or textual (a test checks).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, cast

from quart import Quart, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from burncloud.admin.blueprint import admin_blueprint
from burncloud.config import Settings
from burncloud.errors import BurncloudError, NotFound
from burncloud.gateway.asgi import ASGIApp, Receive, Scope, Send, host_guard
from burncloud.gateway.doors.account import account_blueprint
from burncloud.gateway.doors.anthropic import AnthropicDialect, count_tokens
from burncloud.gateway.doors.front_door import FrontDoor
from burncloud.gateway.doors.gemini import PREFIXES as GEMINI_PREFIXES
from burncloud.gateway.doors.gemini import GeminiDialect, is_gemini_path
from burncloud.gateway.doors.metrics import MetricsEndpoint
from burncloud.gateway.doors.responses import ResponsesDoor
from burncloud.gateway.doors.responses_count import count_input_tokens
from burncloud.gateway.doors.responses_state import ResponsesState
from burncloud.gateway.doors.responses_state import serves as serves_stored_response
from burncloud.gateway.doors.responses_turns import StoredTurns
from burncloud.gateway.relay.call import Call
from burncloud.gateway.relay.inbound import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    MODERATIONS,
    RERANK,
    Endpoint,
)
from burncloud.gateway.relay.media_request import (
    IMAGE_EDITS,
    IMAGE_GENERATIONS,
    IMAGE_VARIATIONS,
    SPEECH,
    TRANSCRIPTIONS,
    TRANSLATIONS,
)
from burncloud.gateway.relay.story import Relay
from burncloud.gateway.runtime import Runtime
from burncloud.services.logs import MAX_BIGINT
from burncloud.serving.log_setup import configure_logging

log = logging.getLogger("burncloud.server")

RELAY_ROUTES: dict[tuple[str, str], Endpoint] = {
    ("POST", "/v1/chat/completions"): CHAT,
    ("POST", "/v1/completions"): COMPLETIONS,
    ("POST", "/v1/embeddings"): EMBEDDINGS,
    ("POST", "/v1/moderations"): MODERATIONS,
    ("POST", "/v1/rerank"): RERANK,
    ("POST", "/v1/images/generations"): IMAGE_GENERATIONS,
    ("POST", "/v1/images/edits"): IMAGE_EDITS,
    ("POST", "/v1/images/variations"): IMAGE_VARIATIONS,
    ("POST", "/v1/audio/speech"): SPEECH,
    ("POST", "/v1/audio/transcriptions"): TRANSCRIPTIONS,
    ("POST", "/v1/audio/translations"): TRANSLATIONS,
}
GEMINI_CALLS = ("generateContent", "streamGenerateContent")
STORED_RESPONSE_ROUTES = (  # answered by ``ResponsesState`` (``serves_stored_response``)
    ("GET", "/v1/responses/{response_id}"),
    ("DELETE", "/v1/responses/{response_id}"),
    ("GET", "/v1/responses/{response_id}/input_items"),
)  # what the Gemini door answers


class BurncloudApp:
    """The ASGI application one router worker runs."""

    def __init__(self, settings: Settings) -> None:
        self.runtime = Runtime(settings)
        self.relay = Relay(self.runtime)
        turns = StoredTurns(self.runtime)
        self._front_doors: dict[tuple[str, str], ASGIApp] = {
            ("POST", "/v1/responses"): ResponsesDoor(self.relay, turns),
            ("POST", "/v1/responses/input_tokens"): partial(count_input_tokens, self.relay, turns),
            ("POST", "/v1/messages"): FrontDoor(self.relay, AnthropicDialect()),
            ("POST", "/v1/messages/count_tokens"): partial(count_tokens, self.relay),
            ("GET", "/metrics"): MetricsEndpoint(self.runtime.metrics, settings.metrics_token),
        }
        self._gemini_door = FrontDoor(self.relay, GeminiDialect())
        self._stored_responses = ResponsesState(self.relay, self.runtime)
        self.control = _control_app(self.runtime)
        # Quart types its ASGI arguments with its own event TypedDicts; the app is an ASGI app.
        self._control_asgi = host_guard(cast(ASGIApp, self.control))  # unroutable Host: 400

    def routes(self) -> list[tuple[str, str]]:
        """Every (method, path pattern) this app serves, for access audits; HEAD and OPTIONS,
        which Quart adds to each of its rules, are left out."""
        served = [*RELAY_ROUTES, *self._front_doors]
        served += [*STORED_RESPONSE_ROUTES]
        served += [
            ("POST", f"{prefix}{{model}}:{call}")
            for prefix in GEMINI_PREFIXES
            for call in GEMINI_CALLS
        ]
        served += [
            (method, rule.rule)
            for rule in self.control.url_map.iter_rules()
            for method in sorted(rule.methods or ())
            if method not in ("HEAD", "OPTIONS")
        ]
        return served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = RELAY_ROUTES.get((scope["method"], scope["path"].rstrip("/")))
            if endpoint is not None:
                await self.relay.handle(Call(endpoint, scope, receive, send))
                return
            door = self._front_doors.get((scope["method"], scope["path"].rstrip("/")))
            if door is None and scope["method"] == "POST" and is_gemini_path(scope["path"]):
                door = self._gemini_door
            elif door is None and serves_stored_response(scope["method"], scope["path"]):
                door = self._stored_responses
            if door is not None:
                await door(scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self._control_asgi(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.runtime.start()
                    await self.control.startup()
                except BurncloudError as exc:
                    await self.runtime.stop()
                    await send({"type": "lifespan.startup.failed", "message": exc.message})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.control.shutdown()
                try:
                    await self.runtime.stop()
                except BurncloudError as exc:  # log rows lost: the server must not exit 0
                    await send({"type": "lifespan.shutdown.failed", "message": exc.message})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


class _BigintConverter(IntegerConverter):
    """``<int:...>`` ids beyond the databases' 64-bit integers match no route (404), rather
    than reaching a query that cannot bind them (a 500)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_BIGINT)
        super().__init__(map, *args, **kwargs)


def _control_app(runtime: Runtime) -> Quart:
    app = Quart("burncloud", static_folder=None)
    app.url_map.converters["int"] = _BigintConverter
    # No redirects, which werkzeug answers before any handler (so before authentication)
    # and aims at the request's own Host: a path is served as written or is a 404. Set
    # before the blueprints, whose rules take the map's defaults when they are added.
    app.url_map.merge_slashes = False  # "/api//tokens" is not "/api/tokens"
    app.url_map.strict_slashes = False  # "/api/tokens/" is served, not redirected
    app.url_map.redirect_defaults = False
    app.register_blueprint(account_blueprint(runtime))
    app.register_blueprint(admin_blueprint(runtime))

    @app.before_request
    async def no_empty_segments() -> None:
        """werkzeug strips a path's leading slashes before matching ("//healthz" would be
        served as "/healthz"): a path with an empty segment names no endpoint. App-level,
        so it runs before the admin blueprint's authentication."""
        if "//" in request.scope["path"]:  # request.path has its leading slashes merged
            raise NotFound("no such endpoint")

    @app.errorhandler(BurncloudError)
    async def burncloud_error(error: BurncloudError):  # type: ignore[no-untyped-def]
        return error.to_body(), error.status, error.headers

    @app.errorhandler(Exception)
    async def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        if isinstance(error, HTTPException):
            return error
        log.exception("control request failed")
        return BurncloudError("internal error").to_body(), 500

    @app.errorhandler(404)
    async def not_found(_error: Exception):  # type: ignore[no-untyped-def]
        return NotFound("no such endpoint").to_body(), 404

    @app.errorhandler(405)
    async def not_allowed(_error: Exception):  # type: ignore[no-untyped-def]
        return NotFound("method not allowed on this endpoint").to_body(), 405

    return app


def create_app(settings: Settings | None = None) -> BurncloudApp:
    """A router worker's ASGI app; settings from the environment unless given."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    return BurncloudApp(settings)
