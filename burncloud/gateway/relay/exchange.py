"""What one relayed request did, gathered as it goes, for its response and its log row."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from burncloud.gateway.billing.logwriter import LogRecord
from burncloud.gateway.billing.reservations import Settlement
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.channel_caps import NO_HOLD, CapHold
from burncloud.gateway.relay.metering import Metered, rough_usage
from burncloud.gateway.route_trace import RouteTrace
from burncloud.services.logged_usage import encode_units
from burncloud.services.pricing import Usage


@dataclass(slots=True)
class Exchange:
    """What one request did, gathered as it goes, for its response headers and log row."""

    request_id: str
    started: float = field(default_factory=time.monotonic)
    caller: Caller | None = None
    model: str = ""
    channel_id: int | None = None
    key_id: int | None = None  # which of the channel's keys the last attempt used
    stream: bool = False
    status: int = 200
    error: str = ""
    ttft_ms: int | None = None
    metered: Metered | None = None  # what the forwarding mode learned of the answer
    usage: Usage | None = None  # what is billed: set once the answer is over
    estimated: bool = False
    cost: int = 0
    upstream_cost: int | None = None  # what the answering channel charges us; None: unknown
    price_version: int | None = None  # the version of the price billed; None: not priced
    group_ratio: str = ""  # the caller's group ratio the cost was computed with
    responded: bool = False
    settlement: Settlement | None = None
    trace: RouteTrace = field(default_factory=RouteTrace)
    cap_hold: CapHold = NO_HOLD  # the last attempt's hold on its channel's caps

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-request-id", self.request_id.encode())]

    def usage_now(self) -> Usage | None:
        """The usage to bill without waiting: the measured one, else the rough estimate
        (marked estimated) of what was metered, else None (nothing reached an upstream)."""
        if self.usage is None and self.metered is not None:
            self.usage = rough_usage(self.metered)
            self.estimated = self.metered.usage is None or self.metered.estimated
        return self.usage

    def tokens_used(self) -> int:
        """Tokens to count against per-minute token limits: the billed usage's."""
        usage = self.usage
        return usage.prompt_tokens + usage.completion_tokens if usage else 0

    def log_record(self, endpoint: str) -> LogRecord:
        """The request's log row (it lives here, not in billing, which never imports the
        relay)."""
        caller = self.caller
        assert caller is not None
        usage = self.usage or Usage(0, 0)
        return LogRecord(
            created_at=int(time.time()),
            request_id=self.request_id,
            user_id=caller.user.id,
            token_id=caller.token.id,
            channel_id=self.channel_id,
            model=self.model,
            endpoint=endpoint,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost=self.cost,
            latency_ms=self.elapsed_ms(),
            ttft_ms=self.ttft_ms,
            status=self.status,
            stream=self.stream,
            estimated=self.estimated,
            settlement=self.settlement,
            error=self.error,
            route=self.trace,
            upstream_cost=self.upstream_cost,
            cache_write_tokens=usage.cache_write_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            audio_input_tokens=usage.audio_input_tokens,
            audio_output_tokens=usage.audio_output_tokens,
            image_input_tokens=usage.image_input_tokens,
            image_output_tokens=usage.image_output_tokens,
            units=encode_units(usage.units),
            price_version=self.price_version,
            group_ratio=self.group_ratio,
        )

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)
