"""``GET /metrics``: the router's Prometheus text, for anyone or for the bearer of a token."""

from __future__ import annotations

import asyncio
import hmac

from prometheus_client import CONTENT_TYPE_LATEST

from burncloud.errors import InvalidToken
from burncloud.gateway.asgi import Receive, Scope, Send, send_bytes, send_error
from burncloud.gateway.metrics import RouterMetrics


class MetricsEndpoint:
    """``GET /metrics`` as a bare ASGI handler; with a token, only for its bearer."""

    def __init__(self, metrics: RouterMetrics, token: str | None = None) -> None:
        self._metrics = metrics
        self._expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._expected is not None and not self._authorized(scope):
            await send_error(send, InvalidToken("a valid metrics token is required"), [])
            return
        # Merging the workers' files reads the disk: keep it off the event loop.
        body = await asyncio.to_thread(self._metrics.render)
        await send_bytes(send, 200, body, [], CONTENT_TYPE_LATEST.encode())

    def _authorized(self, scope: Scope) -> bool:
        assert self._expected is not None
        for name, value in scope["headers"]:
            if name == b"authorization":
                return hmac.compare_digest(value, self._expected)
        return False
