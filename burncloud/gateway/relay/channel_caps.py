"""A channel's own caps (RPM, TPM, concurrent requests): the upstream account's limits,
kept by the relay so that it never sends a channel more than its account allows.

The caps are the snapshot's ``Upstream.caps`` (``services.channels.ChannelCaps``), counted
exactly as the key limits are (``fleet.limits``: the machine's shared state, or a fleet's
Redis), under the subject ``channel:{id}``. A channel at its cap is skipped, not
failed: no breaker count, no error while another channel can serve; the route trace says
why. Only when every candidate was capped does the client get a 429 (``all_capped_error``).

An attempt holds its admission until it ends: ``release`` frees its concurrency slot when
the attempt is over, ``settle`` corrects its TPM count from the estimate to the tokens the
request used (0 for an attempt that failed: the upstream counted nothing). A channel
without caps costs one attribute read (``NO_HOLD``). The gate is ``CapGate``, not
``ChannelCaps``: that name is the caps' record in ``services.channels``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from burncloud.errors import InvalidRequest, RateLimited
from burncloud.gateway.fleet.limits import FleetRateLimiter
from burncloud.gateway.fleet.rate_limit import CONCURRENCY, RPM, TPM, Admission, Limits
from burncloud.gateway.snapshot import Upstream
from burncloud.services.channels import ChannelCaps

SUBJECT = "channel:{}"


@dataclass(frozen=True, slots=True)
class CapRefusal:
    """Why a channel was skipped: its ``limit`` (rpm, tpm, concurrency) is reached and
    frees up in ``retry_after`` seconds; not ``retryable`` when the request alone is more
    than its TPM cap."""

    channel_id: int
    limit: str
    retry_after: int
    retryable: bool
    reason: str

    def trace(self) -> dict[str, Any]:
        """The route trace's entry for the skipped channel."""
        return {"id": self.channel_id, "reason": self.reason, "cap": self.limit}


class CapHold:
    """One attempt's admission against its channel's caps; release and settle it once."""

    __slots__ = ("_admission", "_limiter", "_released", "_settled")

    def __init__(self, limiter: FleetRateLimiter | None, admission: Admission | None) -> None:
        self._limiter = limiter
        self._admission = admission
        self._released = self._settled = limiter is None

    def release(self) -> None:
        """Free the attempt's concurrency slot (once; later calls do nothing)."""
        if not self._released and self._limiter is not None and self._admission is not None:
            self._released = True
            self._limiter.release(self._admission)

    def settle(self, tokens: int) -> None:
        """Count ``tokens`` instead of the estimate against the TPM cap (once)."""
        if not self._settled and self._limiter is not None and self._admission is not None:
            self._settled = True
            self._limiter.settle(self._admission, tokens)

    def end(self, tokens: int) -> None:
        """``release`` and ``settle``."""
        self.release()
        self.settle(tokens)


NO_HOLD = CapHold(None, None)  # the hold of a channel without caps: nothing to undo


class CapGate:
    """Admits attempts against their channels' caps (one per worker's relay)."""

    def __init__(self, limiter: FleetRateLimiter, clock: Callable[[], float] = time.time) -> None:
        self._limiter = limiter
        self._clock = clock
        self._limits: dict[ChannelCaps, Limits | None] = {}

    async def admit(self, upstream: Upstream, tokens: int) -> CapHold | CapRefusal:
        """A hold for an attempt of ``tokens`` (estimated) at ``upstream``, or why not."""
        caps = upstream.caps
        if caps is None:
            return NO_HOLD
        limits = self._limits.get(caps) if caps in self._limits else self._learn(caps)
        if limits is None:
            return NO_HOLD
        subject = SUBJECT.format(upstream.id)
        admission = await self._limiter.admit_all(((subject, limits),), tokens, self._clock())
        if admission.admitted:
            return CapHold(self._limiter, admission)
        return _refusal(upstream.id, limits, tokens, admission)

    def _learn(self, caps: ChannelCaps) -> Limits | None:
        """The limiter's ``Limits`` for ``caps`` (a cap below 1 is none), kept for the next
        request: the snapshot holds few distinct caps."""
        values = [
            v if v is not None and v >= 1 else None
            for v in (caps.rpm, caps.tpm, caps.max_concurrency)
        ]
        limits = None if values == [None, None, None] else Limits(*values)
        if len(self._limits) >= 4096:  # configurations come and go: never grow without end
            self._limits.clear()
        self._limits[caps] = limits
        return limits


def all_capped_error(refusals: Sequence[CapRefusal]) -> RateLimited | InvalidRequest:
    """The client's error when every channel that could serve was capped: 429 with the
    soonest Retry-After, or 400 when the request alone is more than every TPM cap."""
    waits = [refusal.retry_after for refusal in refusals if refusal.retryable]
    if not waits:
        return InvalidRequest(
            "this request needs more tokens than any channel serving it may take per minute"
        )
    retry = max(1, min(waits))
    return RateLimited(
        f"every channel serving this request is at its rate cap; retry in {retry} s",
        headers={"Retry-After": str(retry)},
    )


def _refusal(channel_id: int, limits: Limits, tokens: int, admission: Admission) -> CapRefusal:
    limit = admission.limit or RPM
    retry = admission.retry_after
    if not admission.retryable:
        reason = (
            f"request needs about {tokens} tokens, more than the channel's {limits.tpm} TPM cap"
        )
    else:
        cap = {
            RPM: f"{limits.rpm} RPM",
            TPM: f"{limits.tpm} TPM",
            CONCURRENCY: f"{limits.max_concurrency} concurrent requests",
        }[limit]
        reason = f"channel at its {cap} cap, retry in {retry} s"
    return CapRefusal(channel_id, limit, retry, admission.retryable, reason)
