"""Reservation sizing: cap the answer to the balance only when the whole one cannot fit."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import orjson
import pytest

from burncloud.errors import InsufficientQuota
from burncloud.gateway.relay.budget import affordable_answer, reserve_budget
from burncloud.gateway.relay.inbound import CHAT, parse_request
from burncloud.services.pricing import Price

OUTPUT_ONLY = Price("m", input=0, output=60_000_000_000)  # 60 USD / 1M answer tokens
PER_TOKEN = 60_000


class FlakyLedger:
    """Refuses the first reservation (a stale refusal), then has ``affordable`` left."""

    def __init__(self, affordable: int) -> None:
        self.left = affordable
        self.calls: list[int] = []
        self.budgets = NoBudgets()

    async def reserve(self, token, user, amount: int, windows=()):
        self.calls.append(amount)
        if len(self.calls) == 1 or amount > self.left:
            raise InsufficientQuota("short")
        self.left -= amount
        return SimpleNamespace(amount=amount)

    async def affordable(self, token, user, windows=()) -> int:
        return self.left


class NoBudgets:
    """A budget book for callers without budgets."""

    async def windows(self, budgets) -> list:
        assert list(budgets) == []
        return []


def _request(max_tokens: int):
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": max_tokens}
    return parse_request(CHAT, orjson.dumps(body))


CALLER = SimpleNamespace(token=None, user=None, budgets=())


async def test_whole_answer_is_not_capped_when_it_fits_on_a_second_look() -> None:
    ledger = FlakyLedger(affordable=100 * PER_TOKEN)
    budget = await reserve_budget(ledger, CALLER, _request(100), OUTPUT_ONLY, Decimal(1))
    assert budget.max_tokens_cap is None
    assert ledger.calls == [100 * PER_TOKEN, 100 * PER_TOKEN]


async def test_answer_is_capped_to_what_the_balance_affords() -> None:
    ledger = FlakyLedger(affordable=37 * PER_TOKEN + 5)
    budget = await reserve_budget(ledger, CALLER, _request(100), OUTPUT_ONLY, Decimal(1))
    assert budget.max_tokens_cap == 37


async def test_nothing_affordable_is_still_402() -> None:
    ledger = FlakyLedger(affordable=PER_TOKEN - 1)
    with pytest.raises(InsufficientQuota):
        await reserve_budget(ledger, CALLER, _request(100), OUTPUT_ONLY, Decimal(1))


def test_affordable_answer_is_the_largest_that_fits() -> None:
    assert affordable_answer(10 * PER_TOKEN, 0, 100, OUTPUT_ONLY, Decimal(1)) == 10
    assert affordable_answer(None, 0, 100, OUTPUT_ONLY, Decimal(1)) == 100
    assert affordable_answer(0, 0, 100, OUTPUT_ONLY, Decimal(1)) == 0


def _answers_request(max_tokens: int, n: int):
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": max_tokens,
        "n": n,
    }
    return parse_request(CHAT, orjson.dumps(body))


async def test_every_answer_of_n_is_reserved_for() -> None:
    """n=4 answers of up to 100 tokens each: 400 tokens' worth, not 100 (the upstream
    generates and bills all four)."""
    ledger = FlakyLedger(affordable=1_000 * PER_TOKEN)
    budget = await reserve_budget(ledger, CALLER, _answers_request(100, 4), OUTPUT_ONLY, Decimal(1))
    assert budget.max_tokens_cap is None
    assert ledger.calls[-1] == 400 * PER_TOKEN


async def test_a_short_balance_caps_each_of_n_answers() -> None:
    ledger = FlakyLedger(affordable=203 * PER_TOKEN)
    budget = await reserve_budget(ledger, CALLER, _answers_request(100, 4), OUTPUT_ONLY, Decimal(1))
    assert budget.max_tokens_cap == 50  # 4 x 50 = 200 fits, 4 x 51 does not
    assert ledger.calls[-1] == 200 * PER_TOKEN


async def test_n_answers_of_one_token_that_do_not_fit_are_402() -> None:
    ledger = FlakyLedger(affordable=3 * PER_TOKEN)
    with pytest.raises(InsufficientQuota):
        await reserve_budget(ledger, CALLER, _answers_request(100, 4), OUTPUT_ONLY, Decimal(1))
