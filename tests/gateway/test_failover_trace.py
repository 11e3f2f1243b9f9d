"""failover: an attempt's error goes into the route trace masked of its channel's key, then
cut, whatever the error text that reached it holds."""

from __future__ import annotations

import contextlib

from burncloud.errors import InvalidRequest
from burncloud.gateway.egress.upstream import UpstreamFailure
from burncloud.gateway.fleet.health import BreakerPolicy, HealthBook
from burncloud.gateway.fleet.shared_state import LocalState
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.relay.failover import TRACE_ERROR_LIMIT, FailoverPolicy, try_channels
from burncloud.gateway.snapshot import Candidate, Upstream
from tests.key_fragments import fragments_in

KEY = "sk-canary-trace-9a8b7c6d5e4f30211203f4e5d6c7b8a9"


def _candidate(channel_id: int) -> Candidate:
    upstream = Upstream(channel_id, "openai", f"c{channel_id}", "http://127.0.0.1:9", KEY, {}, {})
    return Candidate(upstream, priority=0, weight=1)


async def _attempts(attempt, exchange: Exchange) -> list[dict]:
    book = HealthBook(LocalState(), BreakerPolicy())
    policy = FailoverPolicy()
    with contextlib.suppress(InvalidRequest):  # a 400 is the client's answer, once traced
        await try_channels([_candidate(1)], attempt, book, "m", exchange, policy, lambda *_: None)
    return exchange.trace.attempts


async def test_an_answered_requests_error_is_masked_then_cut_in_the_trace() -> None:
    for start in range(TRACE_ERROR_LIMIT - 30, TRACE_ERROR_LIMIT + 1):
        exchange = Exchange(request_id="r1")

        async def attempt(
            _: Candidate, __: Upstream, exchange: Exchange = exchange, start: int = start
        ) -> None:
            exchange.status, exchange.error = 502, "x" * start + KEY + " and more"

        (recorded,) = await _attempts(attempt, exchange)
        assert len(recorded["error"]) <= TRACE_ERROR_LIMIT, start
        assert KEY[:4] not in recorded["error"], start  # masked whole before the cut


async def test_a_failed_attempts_error_is_masked_then_cut_in_the_trace() -> None:
    async def attempt(_: Candidate, __: Upstream) -> None:
        raise UpstreamFailure(InvalidRequest("x" * 280 + KEY[2:]), 400, False)

    (recorded,) = await _attempts(attempt, Exchange(request_id="r1"))
    assert fragments_in(recorded["error"], KEY) == [] and recorded["status"] == 400
