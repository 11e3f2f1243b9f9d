"""The router's composition root: ``create_app(settings)`` and ``serve(settings)``.

The OpenAI relay endpoints are bare ASGI handlers dispatched ahead of a Quart app that
serves everything else (account endpoints, health, later the admin API). One lifespan
starts and stops the worker's Runtime. Importing this module must not import typer, rich
or textual (a test checks).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import signal
from functools import partial
from typing import Any

from quart import Quart
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from burncloud.admin.blueprint import admin_blueprint
from burncloud.config import Settings
from burncloud.errors import BurncloudError, ConfigError, NotFound
from burncloud.gateway.account import account_blueprint
from burncloud.gateway.anthropic_door import AnthropicDialect, count_tokens
from burncloud.gateway.asgi import Receive, Scope, Send, host_guard
from burncloud.gateway.front_door import FrontDoor
from burncloud.gateway.gemini_door import PREFIX as GEMINI_PREFIX
from burncloud.gateway.gemini_door import GeminiDialect, is_gemini_path
from burncloud.gateway.inbound import CHAT, COMPLETIONS, EMBEDDINGS, Endpoint
from burncloud.gateway.metrics import MetricsEndpoint, multiprocess_dir
from burncloud.gateway.relay import Relay
from burncloud.gateway.runtime import Runtime
from burncloud.gateway.shared_state import STATE_FILE_ENV
from burncloud.gateway.state_file import attach_state, state_file_path
from burncloud.services.logs import MAX_BIGINT

log = logging.getLogger("burncloud.server")

BACKLOG = 4096  # bursts of thousands of connects must queue, not be reset
KEEP_ALIVE_SECONDS = 75.0

RELAY_ROUTES: dict[tuple[str, str], Endpoint] = {
    ("POST", "/v1/chat/completions"): CHAT,
    ("POST", "/v1/completions"): COMPLETIONS,
    ("POST", "/v1/embeddings"): EMBEDDINGS,
}
GEMINI_CALLS = ("generateContent", "streamGenerateContent")  # what the Gemini door answers


class BurncloudApp:
    """The ASGI application one router worker runs."""

    def __init__(self, settings: Settings) -> None:
        self.runtime = Runtime(settings)
        self.relay = Relay(self.runtime)
        self._front_doors = {
            ("POST", "/v1/messages"): FrontDoor(self.relay, AnthropicDialect()),
            ("POST", "/v1/messages/count_tokens"): partial(count_tokens, self.runtime),
            ("GET", "/metrics"): MetricsEndpoint(self.runtime.metrics, settings.metrics_token),
        }
        self._gemini_door = FrontDoor(self.relay, GeminiDialect())
        self.control = _control_app(self.runtime)
        self._control_asgi = host_guard(self.control)  # a Host werkzeug cannot route: 400

    def routes(self) -> list[tuple[str, str]]:
        """Every (method, path pattern) this app serves, for access audits; HEAD and OPTIONS,
        which Quart adds to each of its rules, are left out."""
        served = [*RELAY_ROUTES, *self._front_doors]
        served += [("POST", f"{GEMINI_PREFIX}{{model}}:{call}") for call in GEMINI_CALLS]
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
                await self.relay.handle(endpoint, scope, receive, send)
                return
            door = self._front_doors.get((scope["method"], scope["path"].rstrip("/")))
            if door is None and scope["method"] == "POST" and is_gemini_path(scope["path"]):
                door = self._gemini_door
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
                await self.runtime.stop()
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
    app.register_blueprint(account_blueprint(runtime))
    app.register_blueprint(admin_blueprint(runtime))

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
    _configure_logging(settings.log_level)
    return BurncloudApp(settings)


def serve(settings: Settings) -> int:
    """Run the router until SIGINT/SIGTERM on the configured server; the exit code."""
    _configure_logging(settings.log_level)
    _export(settings)
    # Breakers, round-robin turns and rate limits, shared by the workers (and by other
    # routers of this database on this machine); the workers attach through the env var.
    state_path = state_file_path(settings.database_url)
    state = attach_state(state_path)
    os.environ[STATE_FILE_ENV] = str(state_path)
    try:
        # Before the workers start: they read PROMETHEUS_MULTIPROC_DIR on importing it.
        with multiprocess_dir(settings.workers):
            if settings.server == "uvicorn":
                return _run_uvicorn(settings)
            return _run_hypercorn(settings)
    finally:
        state.close()


def _run_hypercorn(settings: Settings) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.application_path = "burncloud.server:create_app()"
    config.workers = settings.workers if settings.workers > 1 else 0
    config.graceful_timeout = settings.grace_period
    config.backlog = BACKLOG
    # Hypercorn's 5 s default also runs before a new connection's first request is read:
    # an overloaded worker would drop connections whose request had already arrived.
    config.keep_alive_timeout = KEEP_ALIVE_SECONDS
    config.worker_class = "uvloop" if _has("uvloop") else "asyncio"
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # ours: one handler, one format
    config.loglevel = settings.log_level.upper()
    return run(config)


def _run_uvicorn(settings: Settings) -> int:
    try:
        import uvicorn
    except ImportError:
        raise ConfigError(
            "the uvicorn server needs the uvicorn extra: pip install 'burncloud[uvicorn]'"
        ) from None
    # uvicorn re-raises SIGTERM / SIGINT once it has shut down gracefully, to end the
    # process with the signal; with these handlers in place it returns, and we exit 0.
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: None)
    try:
        uvicorn.run(
            "burncloud.server:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop="uvloop" if _has("uvloop") else "asyncio",
            http="httptools" if _has("httptools") else "h11",
            lifespan="on",
            access_log=False,
            log_config=None,  # ours: one handler, one format
            log_level=settings.log_level,
            backlog=BACKLOG,
            timeout_keep_alive=int(KEEP_ALIVE_SECONDS),
            timeout_graceful_shutdown=math.ceil(settings.grace_period),
        )
    except SystemExit as exc:  # uvicorn exits 3 when the app fails to start
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def _configure_logging(level: str) -> None:
    """One stderr handler for the process (a no-op when one is already configured)."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )


def _export(settings: Settings) -> None:
    """Hand the effective settings to worker processes through their environment."""
    os.environ.update(
        {
            "HOST": settings.host,
            "PORT": str(settings.port),
            "DATABASE_URL": settings.database_url,
            "LOG_LEVEL": settings.log_level,
            "BURNCLOUD_GRACE_PERIOD": str(settings.grace_period),
            "BURNCLOUD_MAX_BODY_BYTES": str(settings.max_body_bytes),
            "BURNCLOUD_ALLOW_FREE_MODELS": "true" if settings.allow_free_models else "false",
        }
    )


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
