"""Circuit breakers per (channel, model) in shared state, and how upstream replies count."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from burncloud.errors import BurncloudError
from burncloud.gateway.fleet.health import (
    TRUST_CLEAN_FOR,
    BreakerPolicy,
    BreakerState,
    BreakerView,
    HealthBook,
    Outcome,
    best_state,
    breaker_key,
    classify,
)
from burncloud.gateway.fleet.shared_state import LocalState, MmapState
from burncloud.providers.anthropic.errors import error_from_response as anthropic_error
from burncloud.providers.bedrock.errors import http_error as bedrock_error
from burncloud.providers.gemini.errors import upstream_error as gemini_error
from burncloud.providers.openai.errors import map_error as openai_error

T0 = 1_700_000_000.0


class FakeClock:
    """Unix time the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state() -> LocalState:
    return LocalState()


@pytest.fixture
def book(state: LocalState, clock: FakeClock) -> HealthBook:
    return HealthBook(state, BreakerPolicy(), clock)


def fail(book: HealthBook, times: int, outcome: Outcome = Outcome.FAILURE) -> None:
    for _ in range(times):
        book.record(1, "gpt-4", outcome, key_id=1)


def open_breaker(book: HealthBook) -> None:
    fail(book, 3)
    assert book.state(1, "gpt-4", 1).state is BreakerState.OPEN


def test_a_new_breaker_is_closed_and_stores_nothing(book: HealthBook, state: LocalState) -> None:
    assert book.available(1, "gpt-4", 1) is True
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.CLOSED, 0, 0.0, 0.0)
    assert state.keys() == []


def test_the_third_consecutive_failure_opens_for_the_base_cooldown(
    book: HealthBook, state: LocalState, clock: FakeClock
) -> None:
    fail(book, 2)
    assert book.available(1, "gpt-4", 1) is True
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.CLOSED, 2, 0.0, 0.0)
    fail(book, 1)
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.OPEN, 3, 5.0, 5.0)
    assert state.read("cb:1.1:gpt-4") == (1.0, 3.0, T0 + 5.0, 5.0)
    assert book.available(1, "gpt-4", 1) is False
    clock.now += 4.5
    assert book.available(1, "gpt-4", 1) is False
    assert book.state(1, "gpt-4", 1).retry_in == 0.5


def test_after_the_cooldown_exactly_one_caller_probes(book: HealthBook, clock: FakeClock) -> None:
    open_breaker(book)
    clock.now += 5.0
    answers = [book.available(1, "gpt-4", 1) for _ in range(10)]
    assert answers == [True] + [False] * 9
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.HALF_OPEN, 3, 30.0, 5.0)


def test_a_lost_probe_lets_one_more_caller_probe_after_the_probe_timeout(
    book: HealthBook, clock: FakeClock
) -> None:
    open_breaker(book)
    clock.now += 5.0
    assert book.available(1, "gpt-4", 1) is True
    clock.now += 29.9
    assert book.available(1, "gpt-4", 1) is False
    clock.now += 0.1
    assert [book.available(1, "gpt-4", 1) for _ in range(3)] == [True, False, False]
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.HALF_OPEN, 3, 30.0, 5.0)


def test_each_failed_probe_doubles_the_cooldown_up_to_the_cap(
    book: HealthBook, clock: FakeClock
) -> None:
    open_breaker(book)
    cooldowns = []
    for _ in range(8):
        clock.now += book.state(1, "gpt-4", 1).retry_in
        assert book.available(1, "gpt-4", 1) is True
        book.record(1, "gpt-4", Outcome.FAILURE, key_id=1)
        view = book.state(1, "gpt-4", 1)
        assert view.state is BreakerState.OPEN and view.retry_in == view.cooldown
        cooldowns.append(view.cooldown)
    assert cooldowns == [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]
    assert book.state(1, "gpt-4", 1).failures == 11


def test_a_successful_probe_closes_and_resets_the_cooldown(
    book: HealthBook, state: LocalState, clock: FakeClock
) -> None:
    open_breaker(book)
    clock.now += 5.0
    assert book.available(1, "gpt-4", 1) is True
    book.record(1, "gpt-4", Outcome.FAILURE, key_id=1)  # cool-down now 10 s
    clock.now += 10.0
    assert book.available(1, "gpt-4", 1) is True
    book.record(1, "gpt-4", Outcome.SUCCESS, key_id=1)
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.CLOSED, 0, 0.0, 0.0)
    assert state.keys() == []
    assert [book.available(1, "gpt-4", 1) for _ in range(3)] == [True, True, True]
    fail(book, 3)
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.OPEN, 3, 5.0, 5.0)


def test_a_success_between_failures_restarts_the_count(book: HealthBook) -> None:
    fail(book, 2)
    book.record(1, "gpt-4", Outcome.SUCCESS, key_id=1)
    fail(book, 2)
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.CLOSED, 2, 0.0, 0.0)


def test_neutral_outcomes_change_nothing_in_any_state(
    book: HealthBook, state: LocalState, clock: FakeClock
) -> None:
    fail(book, 2)
    for _ in range(5):
        book.record(1, "gpt-4", Outcome.NEUTRAL, key_id=1)
    assert state.read("cb:1.1:gpt-4") == (0.0, 2.0, 0.0, 0.0)
    fail(book, 1)
    opened = state.read("cb:1.1:gpt-4")
    book.record(1, "gpt-4", Outcome.NEUTRAL, key_id=1)
    assert state.read("cb:1.1:gpt-4") == opened
    clock.now += 5.0
    assert book.available(1, "gpt-4", 1) is True
    probing = state.read("cb:1.1:gpt-4")
    book.record(1, "gpt-4", Outcome.NEUTRAL, key_id=1)
    assert state.read("cb:1.1:gpt-4") == probing
    assert book.available(1, "gpt-4", 1) is False


def test_definitive_failures_count_toward_the_breaker(book: HealthBook) -> None:
    fail(book, 2, Outcome.DEFINITIVE)
    fail(book, 1, Outcome.FAILURE)
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.OPEN, 3, 5.0, 5.0)


def test_a_late_failure_while_open_does_not_push_the_retry_back(
    book: HealthBook, clock: FakeClock
) -> None:
    open_breaker(book)
    clock.now += 2.0
    book.record(1, "gpt-4", Outcome.FAILURE, key_id=1)
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.OPEN, 4, 3.0, 5.0)


def test_retry_after_holds_an_opening_breaker_open_longer(
    book: HealthBook, clock: FakeClock
) -> None:
    book.record(1, "gpt-4", Outcome.FAILURE, retry_after=60.0, key_id=1)
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.CLOSED, 1, 60.0, 0.0)
    assert book.available(1, "gpt-4", 1) is False  # held back as asked, not opened
    clock.now += 60.0
    assert book.available(1, "gpt-4", 1) is True
    fail(book, 1)
    book.record(1, "gpt-4", Outcome.FAILURE, retry_after=20.0, key_id=1)
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.OPEN, 3, 20.0, 5.0)
    clock.now += 10.0
    book.record(1, "gpt-4", Outcome.FAILURE, retry_after=3600.0, key_id=1)  # capped at max_cooldown
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.OPEN, 4, 300.0, 5.0)
    clock.now += 300.0
    assert book.available(1, "gpt-4", 1) is True
    book.record(
        1, "gpt-4", Outcome.FAILURE, retry_after=1.0, key_id=1
    )  # shorter than the doubled 10 s
    assert book.state(1, "gpt-4", 1) == BreakerView(BreakerState.OPEN, 5, 10.0, 10.0)
    book.record(
        1, "gpt-4", Outcome.FAILURE, retry_after=2.0, key_id=1
    )  # never pulls the retry closer
    assert book.state(1, "gpt-4", 1).retry_in == 10.0


def test_a_breaker_state_reads_as_its_name() -> None:
    assert [f"{s}" for s in BreakerState] == ["closed", "open", "half_open"]


def test_breakers_are_per_channel_key_and_model(book: HealthBook, state: LocalState) -> None:
    open_breaker(book)
    assert book.available(1, "gpt-4", 1) is False
    assert book.available(1, "gpt-4o", 1) is True
    assert book.available(1, "gpt-4", 2) is True  # the channel's other key
    assert book.available(2, "gpt-4", 1) is True
    assert state.keys() == [breaker_key(1, "gpt-4", 1)] == ["cb:1.1:gpt-4"]


def test_a_channel_is_as_available_as_its_best_key(book: HealthBook) -> None:
    open_breaker(book)
    assert best_state(book, 1, "gpt-4", [1]).state is BreakerState.OPEN
    assert best_state(book, 1, "gpt-4", [1, 2]) == BreakerView(BreakerState.CLOSED, 0, 0.0, 0.0)
    assert best_state(book, 1, "gpt-4", []).state is BreakerState.CLOSED


def test_workers_sharing_a_state_file_share_one_breaker(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "state"
    parent = MmapState.create(path, slots=64)
    workers = [MmapState.open(path) for _ in range(2)]
    try:
        first, second = (HealthBook(w, BreakerPolicy(), clock) for w in workers)
        first.record(7, "m", Outcome.FAILURE, key_id=1)
        second.record(7, "m", Outcome.FAILURE, key_id=1)
        first.record(7, "m", Outcome.FAILURE, key_id=1)
        assert second.available(7, "m", 1) is False
        assert second.state(7, "m", 1) == BreakerView(BreakerState.OPEN, 3, 5.0, 5.0)
    finally:
        for s in (parent, *workers):
            s.close()


def test_only_one_of_many_concurrent_callers_gets_the_probe(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Sixteen threads, each with its own file descriptor (as a worker process has), ask
    at the same moment after every cool-down: one of them probes each time."""
    path = tmp_path / "state"
    states = [MmapState.create(path, slots=64)] + [MmapState.open(path) for _ in range(15)]
    books = [HealthBook(s, BreakerPolicy(), clock) for s in states]
    try:
        for _ in range(20):
            fail(books[0], 3)
            clock.now += 5.0
            winners = _ask_together(books)
            assert len(winners) == 1
            books[winners[0]].record(1, "gpt-4", Outcome.SUCCESS, key_id=1)
    finally:
        for s in states:
            s.close()


def _ask_together(books: list[HealthBook]) -> list[int]:
    """Indexes of the books whose ``available`` said yes, all asked at once."""
    start = threading.Barrier(len(books))
    answers: list[bool] = [False] * len(books)

    def ask(i: int) -> None:
        start.wait()
        answers[i] = books[i].available(1, "gpt-4", 1)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(books))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [i for i, yes in enumerate(answers) if yes]


def test_a_full_state_fails_open_and_logs_once(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    full = MmapState.create(tmp_path / "state", slots=1)
    try:
        full.update("rate:other", lambda r: ((1.0, 0.0, 0.0, 0.0), None))
        book = HealthBook(full, BreakerPolicy(), clock)
        with caplog.at_level(logging.ERROR, logger="burncloud.health"):
            fail(book, 5)
            assert book.available(1, "gpt-4", 1) is True
        assert book.state(1, "gpt-4", 1).state is BreakerState.CLOSED
        assert [r.message for r in caplog.records].count(
            "shared state is full: circuit breakers are off until a restart"
        ) == 1
    finally:
        full.close()


def test_a_custom_policy_is_followed(state: LocalState, clock: FakeClock) -> None:
    book = HealthBook(state, BreakerPolicy(1, 2.0, 3.0, 1.0), clock)
    book.record(1, "m", Outcome.FAILURE, key_id=1)
    assert book.state(1, "m", 1) == BreakerView(BreakerState.OPEN, 1, 2.0, 2.0)
    clock.now += 2.0
    assert book.available(1, "m", 1) is True
    assert book.state(1, "m", 1).retry_in == 1.0
    book.record(1, "m", Outcome.FAILURE, key_id=1)
    assert book.state(1, "m", 1) == BreakerView(BreakerState.OPEN, 2, 3.0, 3.0)


OPENAI_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more"
    " information on this error, read the docs:"
    " https://platform.openai.com/docs/guides/error-codes/api-errors."
)
GEMINI_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more"
    " information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)

F, D, N, S = Outcome.FAILURE, Outcome.DEFINITIVE, Outcome.NEUTRAL, Outcome.SUCCESS


RAW_REPLIES = [
    (None, "", "", F, "connect-error-or-timeout"),
    (200, "", "", S, "ok"),
    (201, "", "", S, "created"),
    (500, "server_error", "The server had an error while processing your request.", F,
     "openai-500"),
    (502, "", "Bad Gateway", F, "502"),
    (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", F, "gemini-503"),
    (529, "overloaded_error", "Overloaded", F, "anthropic-529-overloaded"),
    (429, "rate_limit_exceeded", "Rate limit reached for gpt-4 in organization org-abc on"
     " tokens per min (TPM): Limit 10000, Used 9000, Requested 2000. Please try again in 6s.",
     F, "openai-rate-limit"),
    (429, "insufficient_quota", OPENAI_QUOTA, D, "openai-insufficient-quota"),
    (429, "", OPENAI_QUOTA, D, "openai-quota-message-without-code"),
    (429, "RESOURCE_EXHAUSTED", GEMINI_QUOTA, F, "gemini-per-minute-quota"),
    (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", F,
     "gemini-resource-exhausted"),
    (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate"
     " limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for"
     " current usage.", F, "anthropic-rate-limit"),
    (429, "429", "Requests to the ChatCompletions_Create Operation under Azure OpenAI API"
     " version 2024-06-01 have exceeded token rate limit of your current OpenAI S0 pricing"
     " tier. Please retry after 6 seconds.", F, "azure-rate-limit"),
    (429, "ThrottlingException", "Too many requests, please wait before trying again.", F,
     "bedrock-throttling"),
    (401, "invalid_api_key", "Incorrect API key provided: sk-abc***xyz. You can find your API"
     " key at https://platform.openai.com/account/api-keys.", D, "openai-invalid-key"),
    (401, "authentication_error", "invalid x-api-key", D, "anthropic-invalid-key"),
    (401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make"
     " sure to provide a valid key for an active subscription and use a correct regional API"
     " endpoint for your resource.", D, "azure-invalid-key"),
    (403, "permission_error", "Your API key does not have permission to use the specified"
     " resource.", D, "anthropic-permission"),
    (403, "UnrecognizedClientException", "The security token included in the request is"
     " invalid.", D, "bedrock-invalid-credentials"),
    (403, "AccessDeniedException", "You don't have access to the model with the specified"
     " model ID.", F, "bedrock-model-not-enabled-is-per-model"),
    (400, "invalid_request_error", "Your credit balance is too low to access the Anthropic"
     " API. Please go to Plans & Billing to upgrade or purchase credits.", D,
     "anthropic-credit-balance-400"),
    (402, "invalid_request_error", "Insufficient Balance", D, "deepseek-402"),
    (402, "", "", D, "402-payment-required"),
    (400, "billing_hard_limit_reached", "Billing hard limit has been reached", D,
     "openai-billing-hard-limit"),
    (400, "Arrearage", "Access denied, please make sure your account is in good standing.", D,
     "qwen-arrearage"),
    (400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", D,
     "gemini-invalid-key-400"),
    (400, "FAILED_PRECONDITION", "User location is not supported for the API use.", N,
     "gemini-region-raw-is-neutral-unless-mapped"),
    (400, "context_length_exceeded", "This model's maximum context length is 8192 tokens."
     " However, your messages resulted in 9000 tokens. Please reduce the length of the"
     " messages.", N, "openai-context-length"),
    (400, "invalid_request_error", "max_tokens: 100000 > 64000, which is the maximum allowed"
     " number of output tokens for claude-sonnet-4-20250514", N, "anthropic-max-tokens"),
    (400, "ValidationException", "The provided model identifier is invalid.", N,
     "bedrock-validation"),
    (404, "model_not_found", "The model `gpt-5` does not exist or you do not have access to"
     " it.", N, "openai-model-not-found"),
    (413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", N,
     "anthropic-413"),
    (422, "", "Unprocessable Entity", N, "422"),
    (408, "", "Request Timeout", F, "408-upstream-timeout"),
    (409, "", "Conflict", F, "409-conflict"),
    (302, "", "", F, "redirect-misconfigured-base-url"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [pytest.param(*reply[:4], id=reply[4]) for reply in RAW_REPLIES],
)
def test_classify(status: int | None, code: str, message: str, expected: Outcome) -> None:
    """The provider's own status, code and words, as a raw reply carries them."""
    assert classify(status, code, message) is expected


def _json(data: object) -> bytes:
    return orjson.dumps(data)


def _openai(code: str | None, message: str, kind: str = "invalid_request_error") -> bytes:
    return _json({"error": {"message": message, "type": kind, "param": None, "code": code}})


def _anthropic(kind: str, message: str) -> bytes:
    return _json({"type": "error", "error": {"type": kind, "message": message}})


def _gemini(code: int, status: str, message: str, reason: str | None = None) -> bytes:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    error = {"code": code, "message": message, "status": status}
    return _json({"error": {**error, "details": details if reason else []}})


def _bedrock(message: str, kind: str | None = None) -> bytes:
    return _json({"message": message, **({"__type": kind} if kind else {})})


MappedError = Callable[[int, bytes, str | None], BurncloudError]


@pytest.mark.parametrize(
    ("mapper", "status", "body", "expected"),
    [
        pytest.param(openai_error, 429, _openai("insufficient_quota", OPENAI_QUOTA,
                     "insufficient_quota"), D, id="openai-insufficient-quota"),
        pytest.param(openai_error, 429, _openai("rate_limit_exceeded",
                     "Rate limit reached for gpt-4 in organization org-abc on tokens per min"
                     " (TPM): Limit 10000, Used 9000, Requested 2000.", "tokens"), F,
                     id="openai-rate-limit"),
        pytest.param(openai_error, 401, _openai("invalid_api_key",
                     "Incorrect API key provided: sk-abc***xyz."), D, id="openai-invalid-key"),
        pytest.param(openai_error, 400, _openai("context_length_exceeded",
                     "This model's maximum context length is 8192 tokens."), N,
                     id="openai-context-length"),
        pytest.param(openai_error, 409, _openai(None, "Conflict"), F, id="openai-409"),
        pytest.param(openai_error, 400, _openai("Arrearage",
                     "Access denied, please make sure your account is in good standing.",
                     "Arrearage"), D, id="qwen-arrearage"),
        pytest.param(openai_error, 402, _openai("invalid_request_error", "Insufficient Balance",
                     "unknown_error"), D, id="deepseek-402"),
        pytest.param(anthropic_error, 400, _anthropic("invalid_request_error",
                     "Your credit balance is too low to access the Anthropic API. Please go to"
                     " Plans & Billing to upgrade or purchase credits."), D,
                     id="anthropic-credit-balance"),
        pytest.param(anthropic_error, 401, _anthropic("authentication_error",
                     "invalid x-api-key"), D, id="anthropic-invalid-key"),
        pytest.param(anthropic_error, 429, _anthropic("rate_limit_error",
                     "Number of request tokens has exceeded your per-minute rate limit"), F,
                     id="anthropic-rate-limit"),
        pytest.param(anthropic_error, 529, _anthropic("overloaded_error", "Overloaded"), F,
                     id="anthropic-overloaded"),
        pytest.param(anthropic_error, 400, _anthropic("invalid_request_error",
                     "max_tokens: 100000 > 64000, which is the maximum allowed"), N,
                     id="anthropic-max-tokens"),
        pytest.param(gemini_error, 400, _gemini(400, "INVALID_ARGUMENT",
                     "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"), D,
                     id="gemini-invalid-key"),
        pytest.param(gemini_error, 400, _gemini(400, "FAILED_PRECONDITION",
                     "User location is not supported for the API use."), D,
                     id="gemini-unsupported-region"),
        pytest.param(gemini_error, 429, _gemini(429, "RESOURCE_EXHAUSTED", GEMINI_QUOTA), F,
                     id="gemini-per-minute-quota"),
        pytest.param(gemini_error, 400, _gemini(400, "INVALID_ARGUMENT",
                     "Invalid JSON payload received."), N, id="gemini-bad-request"),
        pytest.param(bedrock_error, 403, _bedrock("You don't have access to the model with the"
                     " specified model ID.", "AccessDeniedException"), F,
                     id="bedrock-model-not-enabled"),
        pytest.param(bedrock_error, 403, _bedrock("The security token included in the request"
                     " is invalid.", "UnrecognizedClientException"), D,
                     id="bedrock-invalid-credentials"),
        pytest.param(bedrock_error, 429, _bedrock("Too many requests, please wait before"
                     " trying again.", "ThrottlingException"), F, id="bedrock-throttling"),
        pytest.param(bedrock_error, 400, _bedrock("The provided model identifier is invalid.",
                     "ValidationException"), N, id="bedrock-validation"),
    ],
)  # fmt: skip
def test_classify_the_errors_the_relay_maps(
    mapper: MappedError, status: int, body: bytes, expected: Outcome
) -> None:
    """The failover classifies the burncloud error a provider adapter made of the reply."""
    error = mapper(status, body, None)
    assert classify(status, error.code, error.message) is expected


class CountingState:
    """A SharedState that counts the calls reaching it."""

    def __init__(self, inner: LocalState) -> None:
        self.inner, self.calls = inner, 0

    def update(self, key, fn):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.update(key, fn)

    def read(self, key):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.read(key)


def test_a_clean_breaker_is_trusted_briefly_without_the_shared_state(clock: FakeClock) -> None:
    shared = LocalState()
    mine, other = CountingState(shared), HealthBook(shared, BreakerPolicy(), clock)
    book = HealthBook(mine, BreakerPolicy(), clock)  # type: ignore[arg-type]
    assert book.available(1, "gpt-4", 1)
    book.record(1, "gpt-4", Outcome.SUCCESS, key_id=1)
    before = mine.calls
    for _ in range(100):  # the steady state of a healthy channel: no shared-state calls
        assert book.available(1, "gpt-4", 1)
        book.record(1, "gpt-4", Outcome.SUCCESS, key_id=1)
    assert mine.calls == before
    fail(other, 3)  # another worker opens it: seen once the trust runs out
    assert book.available(1, "gpt-4", 1)
    clock.now += TRUST_CLEAN_FOR
    assert book.available(1, "gpt-4", 1) is False


def test_a_failure_ends_the_trust_at_once(clock: FakeClock) -> None:
    book = HealthBook(LocalState(), BreakerPolicy(failure_threshold=1), clock)
    book.record(1, "gpt-4", Outcome.SUCCESS, key_id=1)
    book.record(1, "gpt-4", Outcome.FAILURE, key_id=1)
    assert book.available(1, "gpt-4", 1) is False
