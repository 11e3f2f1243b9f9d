"""What one relayed request did, gathered as it goes, for its response and its log row."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from burncloud.gateway.billing.reservations import Settlement
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.route_trace import RouteTrace
from burncloud.services.pricing import Usage


@dataclass(slots=True)
class Exchange:
    """What one request did, gathered as it goes, for its response headers and log row."""

    request_id: str
    started: float = field(default_factory=time.monotonic)
    caller: Caller | None = None
    model: str = ""
    channel_id: int | None = None
    stream: bool = False
    status: int = 200
    error: str = ""
    ttft_ms: int | None = None
    usage: Usage | None = None
    estimated: bool = False
    cost: int = 0
    responded: bool = False
    refine: Callable[[], Awaitable[Usage]] | None = None  # a better estimate than the rough one
    settlement: Settlement | None = None
    trace: RouteTrace = field(default_factory=RouteTrace)

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", self.request_id.encode())]
