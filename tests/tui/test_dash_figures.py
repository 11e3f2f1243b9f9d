"""How the dashboard writes numbers, the header's states, the tail filter, the route text."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from burncloud_tui.details import route_sentences, route_text
from burncloud_tui.figures import (
    age,
    clip,
    compact,
    margin_amount,
    margin_cell,
    millis,
    per_second,
    percent,
    usd,
)
from burncloud_tui.header import HeaderState, render_header
from burncloud_tui.tail import matches

from burncloud.services.margins import Margin
from tests.tui.memory_source import EMPTY_SUMMARY, NOW, ROUTE, SUMMARY, log_line

USD = 10**9


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (950, "950"),
        (1234, "1.2k"),
        (12_345, "12.3k"),
        (123_456, "123k"),
        (4_500_000, "4.5M"),
        (2_000_000_000, "2.0G"),
    ],
)
def test_compact_counts(value: int, shown: str) -> None:
    assert compact(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.0, "0.00"), (0.05, "0.05"), (12.5, "12.5"), (345.0, "345"), (1234.0, "1.2k")],
)
def test_rates_keep_a_trickle_visible(value: float, shown: str) -> None:
    assert per_second(value) == shown


@pytest.mark.parametrize(
    ("units", "shown"),
    [
        (0, "$0"),
        (1, "<$0.000001"),
        (123_456, "$0.000123"),
        (56_700_000, "$0.0567"),
        (43_750_000, "$0.0438"),
        (42 * 10**9, "$42.00"),
        (1_234_567_000_000, "$1,234.57"),
        (-5_000_000_000, "$-5.00"),
    ],
)
def test_money_gets_the_precision_it_needs(units: int, shown: str) -> None:
    assert usd(units) == shown


def test_durations_ages_and_fractions() -> None:
    assert [millis(None), millis(999), millis(1200)] == ["-", "999ms", "1.2s"]
    assert [age(-3), age(45), age(125), age(7300), age(200_000)] == ["0s", "45s", "2m", "2h", "2d"]
    assert [percent(None), percent(0.0123), percent(1.0)] == ["-", "1.2%", "100.0%"]
    assert [clip("gpt-4o", 6), clip("gpt-4o-mini", 6)] == ["gpt-4o", "gpt-4…"]


def header(**changes: object) -> list[str]:
    state = replace(HeaderState(location="sqlite:x.db", summary=SUMMARY, now=NOW), **changes)
    return render_header(state).plain.splitlines()


def test_header_states_in_order_of_precedence() -> None:
    assert header()[0] == "burncloud sqlite:x.db  ● live, last request 2s ago"
    assert header(now=NOW + 29)[0].endswith("router idle or down (no requests for 31s)")
    assert header(summary=EMPTY_SUMMARY)[0].endswith("empty database: no requests logged yet")
    assert header(error="OSError: gone")[0].endswith("database error, retrying: OSError: gone")
    assert header(summary=None)[0].endswith("connecting...")
    assert header(summary=None)[1] == "waiting for the first refresh..."
    assert header(paused=True, filter_text="gpt")[0].endswith("2s ago   PAUSED   filter: gpt")


@pytest.mark.parametrize(
    ("margin", "amount", "cell"),
    [
        (Margin(10 * USD, 5, 3 * USD, 0, 0), "$7.00 70.0%", "$7.00 70.0%"),
        (Margin(10 * USD, 5, 3 * USD, 2, 2 * USD), "$5.00 62.5%", "$5.00 62.5% +2?"),
        (Margin(10 * USD, 5, 0, 5, 10 * USD), "unknown", "unknown"),  # never $0
        (Margin(USD, 1, 3 * USD, 0, 0), "$-2.00 -200.0%", "$-2.00 -200.0%"),
        (Margin(0, 0, 0, 0, 0), "$0", "$0"),  # no traffic: no percentage
    ],
)
def test_margins_say_what_is_unknown(margin: Margin, amount: str, cell: str) -> None:
    assert (margin_amount(margin), margin_cell(margin)) == (amount, cell)


def test_the_header_money_line_shows_today_and_its_unknown_costs() -> None:
    assert header()[3] == (
        "today  spend $1,234.57  upstream $934.57  margin $300.00 24.3%  +12 unknown"
    )
    free = Margin(3 * USD, 4, 0, 4, 3 * USD)
    summary = replace(SUMMARY, spend_today=3 * USD, margin_today=free)
    assert header(summary=summary)[3] == "today  spend $3.00  upstream unknown  margin unknown"
    losing = replace(SUMMARY, spend_today=USD, margin_today=Margin(USD, 1, 2 * USD, 0, 0))
    line = render_header(HeaderState("x", summary=losing, now=NOW)).split("\n")[3]
    assert line.plain == "today  spend $1.00  upstream $2.00  margin $-1.00 -100.0%"
    assert any("red" in str(span.style) for span in line.spans)  # a loss stands out
    assert header(summary=EMPTY_SUMMARY)[3] == "today  spend $0  upstream $0  margin $0"


def test_filter_words_must_all_match_model_key_channel_or_status() -> None:
    line = log_line(1, model="gpt-4o", token_name="alice-key", channel_name="openai-a", status=429)
    assert matches(line, "")
    assert matches(line, "GPT 429")
    assert matches(line, "alice openai")
    assert not matches(line, "gpt 200")
    assert not matches(line, "claude")


def test_route_sentences_name_the_channels() -> None:
    assert route_sentences(ROUTE, {1: "openai-a"}) == [
        "candidates, in the order chosen: channel 2 (?), channel 1 (openai-a)",
        "skipped channel 2 (?): breaker open, retry in 4 s",
        "attempt 1: channel 1 (openai-a) -> 502 in 87 ms: upstream overloaded",
    ]
    served = {"candidates": [{"id": 1}], "attempts": [{"id": 1, "status": 200, "ms": 5}]}
    assert route_sentences(served, {})[-1] == "attempt 1: channel 1 (?) -> 200 in 5 ms: ok"


def test_route_text_without_a_trace_or_with_a_damaged_one() -> None:
    assert route_text("", {}).plain == "no routing decision was recorded (refused before routing)"
    assert route_text("{not json", {}).plain == "{not json"
    assert route_text(json.dumps(ROUTE), {}).plain.endswith(json.dumps(ROUTE, indent=2))
