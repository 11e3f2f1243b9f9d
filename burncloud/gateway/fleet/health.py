"""Per (channel key, model) circuit breakers shared by every router worker, and how a reply
counts.

Each key of a channel has its own breakers (one key's rate limit or refusal holds back that
key, not its siblings); a channel is available while any key's breaker is (``best_state``).
A breaker lives in one ``SharedState`` record, key ``cb:{channel_id}.{key_id}:{model}``, packed as
(state code, consecutive failures, until, cool-down): ``until`` is when an open breaker lets
a probe through, or when a half-open breaker's probe counts as lost. Every method is one
atomic ``update`` or ``read`` with no awaits, so all workers see one breaker and exactly one
of them gets the half-open probe.

``classify`` turns an upstream reply into an ``Outcome``: FAILURE counts toward the breaker,
DEFINITIVE also means the channel itself is unusable (the caller auto-disables it), NEUTRAL
is the request's own fault and changes nothing.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from burncloud.gateway.fleet.shared_state import EMPTY, Record, SharedState, StateFull

log = logging.getLogger("burncloud.health")


class Outcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    DEFINITIVE = "definitive"
    NEUTRAL = "neutral"


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_CLOSED, _OPEN, _HALF_OPEN = 0.0, 1.0, 2.0  # state codes in the record
_STATES = (BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and how long it stays open (seconds)."""

    failure_threshold: int = 3
    base_cooldown: float = 5.0
    max_cooldown: float = 300.0
    probe_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class BreakerView:
    """A breaker as route explain and the dashboard show it."""

    state: BreakerState
    failures: int
    retry_in: float  # seconds until a caller is let through again; 0 when closed
    cooldown: float


# A breaker this worker saw closed with no failures counts as such for this long without
# the shared state (two file-locked updates per request saved): another worker's failures
# are seen at most this late, and a success within it does not reset their count.
TRUST_CLEAN_FOR = 0.1


def breaker_key(channel_id: int, model: str, key_id: int) -> str:
    """The shared-state key of one (channel key, model) breaker."""
    return f"cb:{channel_id}.{key_id}:{model}"


class HealthBook:
    """The circuit breakers of every (channel, model), shared through ``state``.

    When the shared state is full, breakers fail open: every channel counts as available.
    """

    def __init__(
        self,
        state: SharedState,
        policy: BreakerPolicy | None = None,
        clock: Callable[[], float] = time.time,
        trust_clean_for: float = TRUST_CLEAN_FOR,
        on_open: Callable[[str, Record], None] | None = None,
    ) -> None:
        self._state = state
        self._on_open = on_open  # told of every breaker this worker opens (fleet notices)
        self._policy = policy or BreakerPolicy()
        self._clock = clock
        self._warned_full = False
        self._trust_clean_for = trust_clean_for
        self._clean_until: dict[str, float] = {}  # breaker key -> trusted clean until

    def available(self, channel_id: int, model: str, key_id: int) -> bool:
        """Whether to send this request to the channel's key; past a cool-down, True for one
        caller."""
        key = breaker_key(channel_id, model, key_id)
        if self._trusted_clean(key):
            return True
        now = self._clock()
        try:
            admitted = self._state.update(key, lambda r: self._admit(r, now))
        except StateFull:
            self._warn_full()
            return True
        if admitted and self._trust_clean_for:
            code, failures, until, _ = self._state.read(key)
            if code == _CLOSED and failures == 0 and until <= now:
                self._trust(key)
        return admitted

    def record(
        self,
        channel_id: int,
        model: str,
        outcome: Outcome,
        retry_after: float | None = None,
        *,
        key_id: int,
    ) -> None:
        """Count one reply of the channel's key for ``model`` toward its breaker.

        ``retry_after`` (the upstream's Retry-After, seconds, capped at the policy's longest
        cool-down) is honoured: a closed breaker holds the channel back that long without
        opening (one 429 is not an outage), and an open one stays open at least that long.
        """
        if outcome is Outcome.NEUTRAL:
            return
        key = breaker_key(channel_id, model, key_id)
        if outcome is Outcome.SUCCESS and not retry_after and self._trusted_clean(key):
            return  # it is clean already: a success changes nothing
        self._clean_until.pop(key, None)
        now = self._clock()
        wait = min(retry_after or 0.0, self._policy.max_cooldown)
        try:
            opened = self._state.update(key, lambda r: self._recorded(r, outcome, now, wait))
        except StateFull:
            self._warn_full()
            return
        if opened is not None and self._on_open is not None:
            self._on_open(key, opened)
        if outcome is Outcome.SUCCESS and self._trust_clean_for:
            self._trust(key)

    def adopt(self, key: str, opened: Record) -> None:
        """Take over a breaker another router opened, unless this one is open for longer."""
        if opened[0] != _OPEN:
            return
        self._clean_until.pop(key, None)
        try:
            self._state.update(key, lambda r: (_later_opening(r, opened), None))
        except StateFull:
            self._warn_full()

    def _trusted_clean(self, key: str) -> bool:
        until = self._clean_until.get(key)
        if until is None:
            return False
        left = until - self._clock()
        return 0 < left <= self._trust_clean_for  # beyond it: the clock went back

    def _trust(self, key: str) -> None:
        self._clean_until[key] = self._clock() + self._trust_clean_for

    def state(self, channel_id: int, model: str, key_id: int) -> BreakerView:
        """The breaker of (channel key, model) as it stands now."""
        code, failures, until, cooldown = self._state.read(breaker_key(channel_id, model, key_id))
        retry_in = max(0.0, until - self._clock())  # a closed one may be held (Retry-After)
        return BreakerView(_STATES[int(code)], int(failures), retry_in, cooldown)

    def _admit(self, record: Record, now: float) -> tuple[Record, bool]:
        code, failures, until, cooldown = record
        if code == _CLOSED:
            return record, now >= until  # until is 0 unless the upstream asked to wait
        if now < until:
            return record, False
        # the cool-down is over, or the last probe never reported: this caller probes
        return (_HALF_OPEN, failures, now + self._policy.probe_timeout, cooldown), True

    def _recorded(
        self, record: Record, outcome: Outcome, now: float, wait: float
    ) -> tuple[Record, Record | None]:
        """The record after ``outcome``, and that record again when it just opened."""
        after = self._after(record, outcome, now, wait)
        opened = after[0] == _OPEN and (record[0] != _OPEN or after[2] > record[2])
        return after, after if opened else None

    def _after(self, record: Record, outcome: Outcome, now: float, wait: float) -> Record:
        if outcome is Outcome.SUCCESS:
            return EMPTY
        code, failures, until, cooldown = record
        failures += 1
        if code == _HALF_OPEN:
            cooldown = min(cooldown * 2, self._policy.max_cooldown)
            return (_OPEN, failures, now + max(cooldown, wait), cooldown)
        if code == _OPEN:  # a late reply: the retry time moves only when the upstream asks
            return (_OPEN, failures, max(until, now + wait), cooldown)
        if failures >= self._policy.failure_threshold:
            cooldown = self._policy.base_cooldown
            return (_OPEN, failures, now + max(cooldown, wait), cooldown)
        return (_CLOSED, failures, now + wait if wait else 0.0, 0.0)

    def _warn_full(self) -> None:
        if not self._warned_full:
            self._warned_full = True
            log.error("shared state is full: circuit breakers are off until a restart")


def _later_opening(current: Record, opened: Record) -> Record:
    """The breaker record that keeps the channel out longer (a fleet notice may be late)."""
    if current[0] == _OPEN and current[2] >= opened[2]:
        return current
    return opened


# What says the account behind the channel cannot pay or has no access, in the providers'
# own words and codes (the relay may pass either the raw reply or its mapped error).
_ACCOUNT = (
    "insufficient_quota",  # OpenAI's code, sent with status 429
    "exceeded your current quota",  # OpenAI's message for it
    "credit balance is too low",  # Anthropic, sent with status 400
    "billing",
    "insufficient balance",  # DeepSeek, with 402
    "arrearage",  # Alibaba DashScope (Qwen), with 400 ...
    "account is in good standing",  # ... and its message
    "api key not valid",  # Gemini answers a bad key with 400
    "api_key_invalid",
)
# Google's per-minute limits also say "exceeded your current quota ... billing details".
_RATE_LIMIT_CODES = ("resource_exhausted", "throttlingexception")
_RATE_LIMIT_PAGES = ("gemini-api/docs/rate-limits",)
# Bedrock answers 403 for a model the account has not enabled: a (channel, model) matter.
_MODEL_ACCESS = ("don't have access to the model", "accessdeniedexception")
_TRANSIENT_4XX = (408, 409, 424)  # timeout, conflict, failed dependency: try again later


def classify(status: int | None, error_code: str = "", message: str = "") -> Outcome:
    """How an upstream reply counts; ``status`` None means no reply (connect error, timeout).

    ``error_code`` is the provider's code or type (OpenAI ``error.code``, Anthropic
    ``error.type``, Google ``error.status``) or the code of the burncloud error it was mapped
    to; ``message`` the text. A 4xx already mapped to ``upstream_error`` is one the provider
    adapter judged the channel's fault (Gemini's bad key is a 400), so it is DEFINITIVE.
    """
    if status is None or status >= 500:  # 529 is Anthropic's "overloaded"
        return Outcome.FAILURE
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if not 400 <= status < 500:
        return Outcome.FAILURE  # redirects and the like: a misconfigured channel
    code = error_code.lower()
    text = f"{code} {message}".lower()
    if _mentions(text, _MODEL_ACCESS) or status in _TRANSIENT_4XX:
        return Outcome.FAILURE
    if status == 429:
        return _classify_429(code, text)
    if status in (401, 402, 403) or code == "upstream_error" or _mentions(text, _ACCOUNT):
        return Outcome.DEFINITIVE
    return Outcome.NEUTRAL


def _classify_429(code: str, text: str) -> Outcome:
    """A rate limit, unless it is OpenAI's way of saying the account ran out of credit."""
    if code in _RATE_LIMIT_CODES or _mentions(text, _RATE_LIMIT_PAGES):
        return Outcome.FAILURE
    return Outcome.DEFINITIVE if _mentions(text, _ACCOUNT) else Outcome.FAILURE


def _mentions(text: str, phrases: tuple[str, ...]) -> bool:
    return any(phrase in text for phrase in phrases)


def best_state(
    health: HealthBook, channel_id: int, model: str, key_ids: Iterable[int]
) -> BreakerView:
    """The channel's breaker as a whole: its most available key's (a channel is up while
    any key is); closed when it has no key."""
    views = [health.state(channel_id, model, key_id) for key_id in key_ids]
    if not views:
        return BreakerView(BreakerState.CLOSED, 0, 0.0, 0.0)
    return min(views, key=lambda view: (_RANK[view.state], view.retry_in))


_RANK = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


def why_unavailable(health: HealthBook, channel_id: int, model: str, key_id: int) -> str:
    """Why the breaker holds this key back, for the route trace and dry-run."""
    return held_back(health.state(channel_id, model, key_id))


def held_back(view: BreakerView) -> str:
    """Why a breaker in this state holds its key back."""
    wait = math.ceil(view.retry_in)
    if view.state is BreakerState.CLOSED:
        return f"upstream asked to retry in {wait} s"
    return f"breaker {view.state.name.lower()}, retry in {wait} s"
