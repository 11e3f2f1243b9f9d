"""Which rate limits apply to a caller: its token's and its user's (RPM, TPM, concurrency).

Most keys have none, and those requests never touch the shared limiter state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from burncloud.errors import InvalidRequest, RateLimited
from burncloud.gateway.fleet.limits import FleetRateLimiter
from burncloud.gateway.fleet.rate_limit import Admission, Limits
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.inbound import InboundRequest


def limited_subjects(caller: Caller) -> list[tuple[str, Limits]]:
    """The (subject, limits) pairs to admit the request against; empty when unlimited."""
    subjects = []
    for name, holder in (("token", caller.token), ("user", caller.user)):
        limits = _limits(holder)
        if limits is not None:
            subjects.append((f"{name}:{holder.id}", limits))
    return subjects


def tokens_to_count(request: InboundRequest) -> int:
    """The tokens a request is counted for until its usage is known: prompt and answer."""
    return request.prompt_estimate() + request.answer_budget()


def admitted(
    limiter: FleetRateLimiter,
    caller: Caller,
    request: InboundRequest,
    tokens_used: Callable[[], int],
) -> Admitted:
    """Admit the request against its caller's limits (429 / 400 when refused); on leaving,
    release its concurrency and count ``tokens_used()`` against the token limits."""
    return Admitted(limiter, caller, request, tokens_used)


class Admitted:
    """The context of ``admitted``. A class rather than an ``asynccontextmanager``: it
    runs on every request, and a generator-based one costs a dozen extra calls each time."""

    __slots__ = ("_admission", "_limiter", "_subjects", "_tokens", "_tokens_used")

    def __init__(
        self,
        limiter: FleetRateLimiter,
        caller: Caller,
        request: InboundRequest,
        tokens_used: Callable[[], int],
    ) -> None:
        self._limiter = limiter
        self._subjects = limited_subjects(caller)
        self._tokens = tokens_to_count(request) if self._subjects else 0
        self._tokens_used = tokens_used
        self._admission: Admission | None = None

    async def __aenter__(self) -> None:
        if not self._subjects:
            return
        admission = await self._limiter.admit_all(self._subjects, self._tokens, time.time())
        if not admission.admitted:
            raise refusal(admission)
        self._admission = admission

    async def __aexit__(self, *exc: object) -> None:
        admission, self._admission = self._admission, None
        if admission is not None:
            self._limiter.release(admission)
            self._limiter.settle(admission, self._tokens_used())


def refusal(admission: Admission) -> InvalidRequest | RateLimited:
    """The client's error for a refused admission (429 with Retry-After when waiting helps)."""
    if not admission.retryable:
        return InvalidRequest(admission.message)
    return RateLimited(admission.message, headers={"Retry-After": str(admission.retry_after)})


def _limits(holder: Any) -> Limits | None:
    rpm = _limit(getattr(holder, "rpm", None))
    tpm = _limit(getattr(holder, "tpm", None))
    concurrency = _limit(getattr(holder, "max_concurrency", None))
    if rpm is None and tpm is None and concurrency is None:
        return None
    return Limits(rpm, tpm, concurrency)


def _limit(value: int | None) -> int | None:
    return value if value is not None and value >= 1 else None
