"""Trying a request's channels in order until one answers, and the trace of what happened.

A channel is skipped while its breaker is open; an attempt that fails before any byte
reached the client (unreachable, no answer in time, 429, 5xx, or a channel-level refusal
such as an invalid key) moves on to the next channel, never the same one twice, within an
attempt count and a total deadline. A failure caused by the request itself (a 400) is the
client's answer at once and does not count against the channel. Every decision is kept in
a ``RouteTrace`` that goes into the request's log row for ``burncloud route explain``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from burncloud.crypto import public_error_text
from burncloud.errors import ServiceUnavailable
from burncloud.gateway.egress.upstream import UpstreamFailure
from burncloud.gateway.fleet.health import HealthBook, Outcome, classify, why_unavailable
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.snapshot import Candidate

Attempt = Callable[[Candidate], Awaitable[None]]
TRACE_ERROR_LIMIT = 300  # characters of an attempt's error kept in the route trace


@dataclass(frozen=True, slots=True)
class FailoverPolicy:
    """At most ``attempts`` channels per request, none started after ``deadline`` seconds."""

    attempts: int = 3
    deadline: float = 60.0


async def try_channels(
    ordered: Sequence[Candidate],
    attempt: Attempt,
    health: HealthBook,
    model: str,
    exchange: Exchange,
    policy: FailoverPolicy,
    report_unusable: Callable[[int, str], None],
) -> None:
    """Run ``attempt`` on each candidate in turn until one serves the request.

    ``report_unusable(channel_id, reason)`` is told about channels the upstream declared
    unusable (invalid key, no credit), to be disabled until a probe finds them working."""
    trace = exchange.trace
    trace.candidates = [
        {"id": c.upstream.id, "priority": c.priority, "weight": c.weight} for c in ordered
    ]
    deadline = exchange.started + policy.deadline
    last: UpstreamFailure | None = None
    tried = 0
    for candidate in ordered:
        channel_id = candidate.upstream.id
        if tried >= policy.attempts:
            break
        if time.monotonic() >= deadline:
            trace.skipped.append({"id": channel_id, "reason": "failover deadline passed"})
            break
        if not health.available(channel_id, model):
            trace.skipped.append(
                {"id": channel_id, "reason": why_unavailable(health, channel_id, model)}
            )
            continue
        tried += 1
        exchange.channel_id = channel_id
        started = time.monotonic()
        try:
            await attempt(candidate)
        except UpstreamFailure as failure:
            outcome = outcome_of_failure(failure)
            health.record(channel_id, model, outcome, retry_after=failure.retry_after)
            trace.attempts.append(
                _attempt(candidate, failure.status, started, failure.error.message)
            )
            if outcome is Outcome.DEFINITIVE:
                report_unusable(channel_id, failure.error.message)
            if outcome is Outcome.NEUTRAL:
                raise failure.error from None
            last = failure
            continue
        health.record(channel_id, model, outcome_of_answer(exchange.status))
        trace.attempts.append(_attempt(candidate, exchange.status, started, exchange.error))
        return
    if last is not None:
        raise last.error
    raise _nothing_healthy(health, ordered, model)


def outcome_of_failure(failure: UpstreamFailure) -> Outcome:
    """How an upstream failure counts for its channel's health."""
    if failure.status == 404:  # the channel cannot serve this model (e.g. no deployment)
        return Outcome.FAILURE
    return classify(failure.status, failure.error.code, failure.error.message)


def outcome_of_answer(status: int) -> Outcome:
    """How a request the channel answered counts: a stream that broke off mid-way or
    reported an upstream error in-band is a failure; a client that left is nobody's."""
    if status == 200:
        return Outcome.SUCCESS
    if status == 429 or status >= 500:
        return Outcome.FAILURE
    return Outcome.NEUTRAL


def _attempt(
    candidate: Candidate, status: int | None, started: float, error: str
) -> dict[str, Any]:
    """One attempt for the trace; its error masked of the channel's key, then cut."""
    attempt: dict[str, Any] = {
        "id": candidate.upstream.id,
        "status": status,
        "ms": int((time.monotonic() - started) * 1000),
    }
    if error:
        attempt["error"] = public_error_text(error, candidate.upstream.key, TRACE_ERROR_LIMIT)
    return attempt


def _nothing_healthy(
    health: HealthBook, ordered: Sequence[Candidate], model: str
) -> ServiceUnavailable:
    waits = [health.state(c.upstream.id, model).retry_in for c in ordered]
    retry = max(1, math.ceil(min(waits))) if waits else 1
    return ServiceUnavailable(
        f"no healthy channel serves model {model!r} right now; retry in {retry} s",
        headers={"Retry-After": str(retry)},
    )
