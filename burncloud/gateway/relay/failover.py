"""Trying a request's channels in order until one answers, and the trace of what happened.

A channel's key is skipped while its breaker is open; an attempt that fails before any byte
reached the client (unreachable, no answer in time, 429, 5xx, or a refusal such as an
invalid key) moves on: to the channel's next key when the key was to blame (401, 402, 403,
429), else to the next channel; never the same key twice, within an attempt count and a
total deadline. A failure caused by the request itself (a 400) is the
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
from burncloud.gateway.relay.affinity import SessionTurn
from burncloud.gateway.relay.channel_caps import (
    NO_HOLD,
    CapGate,
    CapHold,
    CapRefusal,
    all_capped_error,
)
from burncloud.gateway.relay.exchange import Exchange
from burncloud.gateway.snapshot import Candidate, Upstream

Attempt = Callable[[Candidate, Upstream], Awaitable[None]]  # (channel, the key's upstream)
KeyOrder = Callable[[Candidate], Sequence[Upstream]]  # a channel's keys in the order to try
TRACE_ERROR_LIMIT = 300  # characters of an attempt's error kept in the route trace
KEY_FAULTS = (401, 402, 403, 429)  # statuses that blame the key rather than the channel


@dataclass(frozen=True, slots=True)
class FailoverPolicy:
    """At most ``attempts`` tries per request, none started after ``deadline`` seconds."""

    attempts: int = 3
    deadline: float = 60.0


class _OutOfTries(Exception):
    """The attempt count or the deadline is spent: no more channels or keys."""


async def try_channels(
    ordered: Sequence[Candidate],
    attempt: Attempt,
    health: HealthBook,
    model: str,
    exchange: Exchange,
    policy: FailoverPolicy,
    report_unusable: Callable[[int, int, str], None],
    key_order: KeyOrder = lambda candidate: candidate.keys,
    turn: SessionTurn | None = None,
    caps: CapGate | None = None,
    tokens: Callable[[], int] = lambda: 0,
) -> None:
    """Run ``attempt`` on each candidate's keys in turn until one serves the request.

    A failure that blames the key (invalid, no credit, rate limited: ``KEY_FAULTS``) tries
    the channel's next key before the next channel; any other moves on to the next channel.
    ``report_unusable(channel_id, key_id, reason)`` is told about keys the upstream declared
    unusable (invalid, no credit), to be disabled until a probe finds them working; ``turn``
    (a request of a conversation: ``affinity``) is told each attempt's outcome."""
    trace = exchange.trace
    trace.candidates = [
        {"id": c.upstream.id, "priority": c.priority, "weight": c.weight} for c in ordered
    ]
    trial = _Trial(attempt, health, model, exchange, policy, report_unusable, turn, caps, tokens)
    try:
        for candidate in ordered:
            if await trial.channel(candidate, key_order(candidate)):
                return
    except _OutOfTries:
        pass
    if trial.last is not None:
        raise trial.last.error
    if trial.capped:
        raise all_capped_error(trial.capped)
    raise _nothing_healthy(health, ordered, model)


class _Trial:
    """One request's way through its candidates: what was tried, and the last failure."""

    def __init__(
        self,
        attempt: Attempt,
        health: HealthBook,
        model: str,
        exchange: Exchange,
        policy: FailoverPolicy,
        report_unusable: Callable[[int, int, str], None],
        turn: SessionTurn | None,
        caps: CapGate | None = None,
        tokens: Callable[[], int] = lambda: 0,
    ) -> None:
        self._attempt = attempt
        self._caps, self._tokens = caps, tokens
        self.capped: list[CapRefusal] = []  # the channels skipped at their caps
        self._turn = turn
        self._health = health
        self._model = model
        self._exchange = exchange
        self._policy = policy
        self._report_unusable = report_unusable
        self._deadline = exchange.started + policy.deadline
        self._tried = 0
        self.last: UpstreamFailure | None = None

    async def channel(self, candidate: Candidate, keys: Sequence[Upstream]) -> bool:
        """Try the channel's keys until one answers (True), one fails for the channel's own
        reason, or none is left (False)."""
        health, model, trace = self._health, self._model, self._exchange.trace
        channel_id = candidate.upstream.id
        for upstream in keys:
            if self._tried >= self._policy.attempts:
                raise _OutOfTries
            if time.monotonic() >= self._deadline:
                trace.skipped.append({"id": channel_id, "reason": "failover deadline passed"})
                raise _OutOfTries
            if not health.available(channel_id, model, upstream.key_id):
                reason = why_unavailable(health, channel_id, model, upstream.key_id)
                trace.skipped.append({"id": channel_id, "key": upstream.key_id, "reason": reason})
                continue
            hold = await self._admit(upstream)
            if hold is None:
                return False  # the channel is at its cap: so is every key of it
            self._tried += 1
            try:
                await self._try(candidate, upstream, hold)
            except UpstreamFailure as failure:
                if not self._keys_fault(failure):
                    return False
                continue
            return True
        return False

    async def _admit(self, upstream: Upstream) -> CapHold | None:
        """The attempt's hold on its channel's caps; None, the skip traced, when capped."""
        if upstream.caps is None or self._caps is None:
            return NO_HOLD
        verdict = await self._caps.admit(upstream, self._tokens())
        if isinstance(verdict, CapRefusal):
            self._exchange.trace.skipped.append(verdict.trace() | {"key": upstream.key_id})
            self.capped.append(verdict)
            return None
        return verdict

    async def _try(self, candidate: Candidate, upstream: Upstream, hold: CapHold) -> None:
        """One attempt; its outcome recorded against the key, its trace entry added; its
        cap hold released when it ends (settled by the story once the usage is known)."""
        exchange, model = self._exchange, self._model
        channel_id, key_id = upstream.id, upstream.key_id
        exchange.channel_id, exchange.key_id = channel_id, key_id
        exchange.cap_hold = hold
        started = time.monotonic()
        try:
            await self._attempt(candidate, upstream)
        except UpstreamFailure as failure:
            hold.settle(0)  # refused: the upstream counted no tokens
            outcome = outcome_of_failure(failure)
            self._health.record(
                channel_id, model, outcome, retry_after=failure.retry_after, key_id=key_id
            )
            if self._turn is not None:
                self._turn.attempted(channel_id, key_id, outcome)
            exchange.trace.attempts.append(
                _attempt(upstream, failure.status, started, failure.error.message)
            )
            if outcome is Outcome.DEFINITIVE:
                self._report_unusable(channel_id, key_id, failure.error.message)
            if outcome is Outcome.NEUTRAL:
                raise failure.error from None
            self.last = failure
            raise
        finally:
            hold.release()
        outcome = outcome_of_answer(exchange.status)
        self._health.record(channel_id, model, outcome, key_id=key_id)
        if self._turn is not None:
            self._turn.attempted(channel_id, key_id, outcome)
        exchange.trace.attempts.append(_attempt(upstream, exchange.status, started, exchange.error))

    @staticmethod
    def _keys_fault(failure: UpstreamFailure) -> bool:
        """Whether another key of the same channel may do better."""
        return failure.status in KEY_FAULTS or outcome_of_failure(failure) is Outcome.DEFINITIVE


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


def _attempt(upstream: Upstream, status: int | None, started: float, error: str) -> dict[str, Any]:
    """One attempt for the trace (the key by id, never the key); its error masked of the
    key, then cut."""
    attempt: dict[str, Any] = {
        "id": upstream.id,
        "key": upstream.key_id,
        "status": status,
        "ms": int((time.monotonic() - started) * 1000),
    }
    if error:
        attempt["error"] = public_error_text(error, upstream.key, TRACE_ERROR_LIMIT)
    return attempt


def _nothing_healthy(
    health: HealthBook, ordered: Sequence[Candidate], model: str
) -> ServiceUnavailable:
    waits = [health.state(k.id, model, k.key_id).retry_in for c in ordered for k in c.keys]
    retry = max(1, math.ceil(min(waits))) if waits else 1
    return ServiceUnavailable(
        f"no healthy channel serves model {model!r} right now; retry in {retry} s",
        headers={"Retry-After": str(retry)},
    )
