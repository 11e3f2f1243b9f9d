"""SharedRateLimiter: exact GCRA limits for RPM and TPM, concurrency, all-or-nothing admits."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from burncloud.gateway.fleet.rate_limit import (
    CONCURRENCY,
    RPM,
    TPM,
    Admission,
    Limits,
    SharedRateLimiter,
)
from burncloud.gateway.fleet.shared_state import EMPTY, LocalState, MmapState, Record, SharedState

T0 = 1_700_000_000.25  # a realistic unix time: rounding at this magnitude must not cost a request
TOKEN = "token:12"
USER = "user:3"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingState(LocalState):
    """A LocalState that counts its updates and reads."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def update(self, key: str, fn: Callable[[Record], tuple[Record, object]]) -> object:
        self.calls += 1
        return super().update(key, fn)

    def read(self, key: str) -> Record:
        self.calls += 1
        return super().read(key)


@pytest.fixture(params=["local", "mmap"])
def state(request, tmp_path: Path) -> Iterator[SharedState]:
    shared = LocalState() if request.param == "local" else MmapState.create(tmp_path / "state", 64)
    yield shared
    shared.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(state: SharedState, clock: Clock) -> SharedRateLimiter:
    return SharedRateLimiter(state, clock=clock)


def admitted_count(
    limiter: SharedRateLimiter, limits: Limits, times: int, now: float, subject: str = TOKEN
) -> int:
    return sum(limiter.admit(subject, limits, 0, now).admitted for _ in range(times))


@pytest.mark.parametrize("rpm", [60, 100, 7])
def test_a_burst_at_one_instant_admits_exactly_the_limit(
    limiter: SharedRateLimiter, rpm: int
) -> None:
    assert admitted_count(limiter, Limits(rpm=rpm), 600, T0) == rpm


def test_after_a_burst_one_more_request_per_interval(limiter: SharedRateLimiter) -> None:
    limits = Limits(rpm=60)
    assert admitted_count(limiter, limits, 600, T0) == 60
    assert admitted_count(limiter, limits, 10, T0 + 0.999) == 0
    for second in range(1, 121):
        assert admitted_count(limiter, limits, 10, T0 + second) == 1
    assert admitted_count(limiter, limits, 100, T0 + 180) == 60


def test_one_request_per_second_against_60_rpm_always_passes(limiter: SharedRateLimiter) -> None:
    limits = Limits(rpm=60)
    assert all(limiter.admit(TOKEN, limits, 0, T0 + i * 1.0).admitted for i in range(1_000))


def test_two_requests_per_second_pass_until_the_burst_allowance_is_spent(
    limiter: SharedRateLimiter,
) -> None:
    # GCRA with burst = limit: the bucket of 60 fills at 1/s net, so the first 119 requests
    # (59 s) pass, then exactly every other one: the limit's one per second.
    limits = Limits(rpm=60)
    results = [limiter.admit(TOKEN, limits, 0, T0 + i * 0.5).admitted for i in range(2_000)]
    assert results[:119] == [True] * 119
    assert results[119:] == [False, True] * 940 + [False]


def test_refusals_say_which_limit_and_when_to_retry(limiter: SharedRateLimiter) -> None:
    limits = Limits(rpm=1)
    assert limiter.admit(TOKEN, limits, 0, T0).admitted
    refused = limiter.admit(TOKEN, limits, 0, T0)
    assert (refused.admitted, refused.subject, refused.limit) == (False, TOKEN, RPM)
    assert (refused.retry_after, refused.retryable) == (60, True)
    assert refused.message == (
        "Rate limit reached for this token: 1 requests per minute. Retry after 60 s."
    )
    assert refused.charges == ()
    assert limiter.admit(TOKEN, limits, 0, T0 + 30).retry_after == 30
    assert limiter.admit(TOKEN, limits, 0, T0 + 59.5).retry_after == 1
    assert limiter.admit(TOKEN, limits, 0, T0 + 60).admitted
    fast = Limits(rpm=100)
    assert admitted_count(limiter, fast, 100, T0, "token:99") == 100
    assert limiter.admit("token:99", fast, 0, T0).retry_after == 1  # 0.6 s rounds up


def test_tpm_counts_estimates_and_waits_for_room(limiter: SharedRateLimiter) -> None:
    limits = Limits(tpm=1_000)
    assert limiter.admit(TOKEN, limits, 600, T0).admitted
    refused = limiter.admit(TOKEN, limits, 600, T0)
    assert (refused.limit, refused.retry_after) == (TPM, 12)  # 200 tokens over at 1000/60 s
    assert refused.message.endswith("1000 tokens per minute. Retry after 12 s.")
    assert limiter.admit(TOKEN, limits, 400, T0).admitted  # exactly fills the bucket
    assert not limiter.admit(TOKEN, limits, 1, T0).admitted
    assert limiter.admit(TOKEN, limits, 1, T0 + 0.06).admitted  # one token drained


def test_settle_corrects_the_estimate_both_ways(limiter: SharedRateLimiter, clock: Clock) -> None:
    limits = Limits(tpm=1_000)
    first = limiter.admit(TOKEN, limits, 600, T0)
    limiter.settle(first, 100)  # 500 tokens over-estimated come back
    second = limiter.admit(TOKEN, limits, 600, T0)
    assert second.admitted  # level 700
    refused = limiter.admit(TOKEN, limits, 600, T0)
    assert refused.retry_after == 18  # 300 over
    limiter.settle(second, 900)  # under-estimated by 300: level 1000
    assert limiter.admit(TOKEN, limits, 1, T0).retry_after == 1
    assert limiter.admit(TOKEN, limits, 300, T0).retry_after == 18


def test_settle_never_takes_the_count_below_zero(limiter: SharedRateLimiter, clock: Clock) -> None:
    limits = Limits(tpm=1_000)
    early = limiter.admit(TOKEN, limits, 600, T0)
    clock.now = T0 + 36  # the 600 tokens have drained away
    limiter.settle(early, 0)
    assert limiter.admit(TOKEN, limits, 1_000, clock.now).admitted
    assert not limiter.admit(TOKEN, limits, 1, clock.now).admitted


def test_a_request_larger_than_the_tpm_limit_is_refused_for_good(
    limiter: SharedRateLimiter,
) -> None:
    limits = Limits(tpm=1_000)
    refused = limiter.admit(TOKEN, limits, 1_001, T0)
    assert (refused.admitted, refused.limit, refused.retryable) == (False, TPM, False)
    assert refused.message == (
        "This request needs about 1001 tokens, more than this token's limit of "
        "1000 tokens per minute."
    )
    assert limiter.admit(TOKEN, limits, 1_000, T0).admitted  # the refusal counted nothing


def test_concurrency_refuses_until_a_release(limiter: SharedRateLimiter, clock: Clock) -> None:
    limits = Limits(max_concurrency=2)
    first = limiter.admit(USER, limits, 0, T0)
    second = limiter.admit(USER, limits, 0, T0)
    refused = limiter.admit(USER, limits, 0, T0)
    assert first.admitted and second.admitted
    assert (refused.admitted, refused.limit, refused.retry_after) == (False, CONCURRENCY, 1)
    assert refused.message == (
        "Rate limit reached for this user: 2 concurrent requests. Retry after 1 s."
    )
    limiter.release(refused)  # holds nothing: must not free a slot
    assert not limiter.admit(USER, limits, 0, T0).admitted
    limiter.release(first)
    third = limiter.admit(USER, limits, 0, T0)
    assert third.admitted
    assert not limiter.admit(USER, limits, 0, T0).admitted


def test_released_subjects_free_their_key(limiter: SharedRateLimiter, state: SharedState) -> None:
    admission = limiter.admit(USER, Limits(max_concurrency=1), 0, T0)
    assert state.read("rl:" + USER)[2] == 1.0
    limiter.release(admission)
    assert state.read("rl:" + USER) == EMPTY


def test_a_leaked_concurrency_count_decays_after_ten_idle_minutes(
    limiter: SharedRateLimiter,
) -> None:
    limits = Limits(max_concurrency=1)
    assert limiter.admit(USER, limits, 0, T0).admitted  # its worker dies: never released
    assert not limiter.admit(USER, limits, 0, T0 + 599.9).admitted  # refusals update nothing
    assert limiter.admit(USER, limits, 0, T0 + 600).admitted
    assert not limiter.admit(USER, limits, 0, T0 + 600).admitted


def test_a_refused_user_rolls_back_the_token(limiter: SharedRateLimiter) -> None:
    token = Limits(rpm=5, tpm=10_000, max_concurrency=3)
    both = [(TOKEN, token), (USER, Limits(rpm=2))]
    admitted = [limiter.admit_all(both, 1_000, T0) for _ in range(2)]
    assert all(admission.admitted for admission in admitted)
    assert [charge.subject for charge in admitted[0].charges] == [TOKEN, USER]
    refused = limiter.admit_all(both, 1_000, T0)
    assert (refused.admitted, refused.subject, refused.limit) == (False, USER, RPM)
    assert refused.charges == ()
    # The token holds exactly the two admitted requests: room for 8000 tokens and one slot,
    # then (releasing each) two more requests.
    last = limiter.admit(TOKEN, token, 8_000, T0)
    assert last.admitted
    assert limiter.admit(TOKEN, token, 0, T0).limit == CONCURRENCY
    limiter.release(last)
    passed = 0
    for _ in range(10):
        admission = limiter.admit(TOKEN, token, 0, T0)
        limiter.release(admission)
        passed += admission.admitted
    assert passed == 2


def test_a_refused_token_never_reaches_the_user(limiter: SharedRateLimiter) -> None:
    both = [(TOKEN, Limits(rpm=1)), (USER, Limits(rpm=10))]
    assert limiter.admit_all(both, 0, T0).admitted
    assert limiter.admit_all(both, 0, T0).subject == TOKEN
    assert admitted_count(limiter, Limits(rpm=10), 20, T0, USER) == 9


def test_release_and_settle_cover_every_subject(limiter: SharedRateLimiter) -> None:
    token, user = Limits(tpm=1_000, max_concurrency=1), Limits(tpm=500, max_concurrency=1)
    admission = limiter.admit_all([(TOKEN, token), (USER, user)], 400, T0)
    assert admission.admitted
    assert limiter.admit(USER, user, 0, T0).limit == CONCURRENCY
    limiter.release(admission)
    limiter.settle(admission, 0)
    assert limiter.admit(USER, user, 500, T0).admitted
    assert limiter.admit(TOKEN, token, 1_000, T0).admitted


def test_unlimited_subjects_never_touch_the_state(clock: Clock) -> None:
    state = CountingState()
    limiter = SharedRateLimiter(state, clock=clock)
    admission = limiter.admit_all([(TOKEN, Limits()), (USER, Limits())], 5_000, T0)
    limiter.settle(admission, 9_000)
    limiter.release(admission)
    assert admission == Admission(admitted=True)
    assert (state.calls, state.keys()) == (0, [])
    partly = limiter.admit_all([(TOKEN, Limits()), (USER, Limits(rpm=1))], 5_000, T0)
    limiter.settle(partly, 9_000)  # no TPM limit: nothing to correct
    limiter.release(partly)  # no concurrency limit: nothing to release
    assert (state.calls, state.keys()) == (1, ["rl:" + USER])


def test_a_full_state_fails_open_and_warns_once(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with MmapState.create(tmp_path / "state", slots=1) as state:
        state.update("someone else", lambda record: ((1.0, 0.0, 0.0, 0.0), None))
        limiter = SharedRateLimiter(state, clock=clock)
        with caplog.at_level(logging.WARNING, logger="burncloud.gateway.fleet.rate_limit"):
            results = [limiter.admit(TOKEN, Limits(rpm=1), 0, T0) for _ in range(3)]
        assert [(result.admitted, result.charges) for result in results] == [(True, ())] * 3
        assert [record.message for record in caplog.records] == [
            "shared state is full: rate limits of new subjects are not enforced"
        ]


def test_limits_are_unlimited_or_positive() -> None:
    assert Limits().unlimited
    assert not Limits(tpm=1).unlimited
    with pytest.raises(ValueError, match="at least 1"):
        Limits(rpm=0)


ROUNDS = 50  # subjects hammered in turn: each round's first admits race between the workers


def hammer(path: str, worker: int, attempts: int, start: Barrier) -> None:
    """A worker process: per round, ``attempts`` admits on one subject at one instant."""
    with MmapState.open(path) as state:
        limiter = SharedRateLimiter(state)
        passed = 0
        for round_ in range(ROUNDS):
            start.wait(timeout=60)
            subject = f"token:{round_}"
            for _ in range(attempts):
                passed += limiter.admit(subject, Limits(rpm=100), 0, T0).admitted
        state.update(f"result:{worker}", lambda record: ((float(passed), 0.0, 0.0, 0.0), None))


def test_two_processes_share_one_limit_exactly(tmp_path: Path) -> None:
    path = str(tmp_path / "state")
    context = multiprocessing.get_context("spawn")
    with MmapState.create(path, slots=64) as state:
        start = context.Barrier(2)
        workers = [context.Process(target=hammer, args=(path, i, 150, start)) for i in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
            worker.close()
        levels = [state.read(f"rl:token:{round_}")[0] for round_ in range(ROUNDS)]
        assert levels == [100.0] * ROUNDS
        assert sum(state.read(f"result:{i}")[0] for i in range(2)) == 100.0 * ROUNDS
