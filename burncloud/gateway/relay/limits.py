"""Which rate limits apply to a caller: its token's and its user's (RPM, TPM, concurrency).

Most keys have none, and those requests never touch the shared limiter state.
"""

from __future__ import annotations

from typing import Any

from burncloud.errors import InvalidRequest, RateLimited
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
