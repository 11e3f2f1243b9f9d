"""The peers' options: money units, prices from ratio tables (exactly, with the peers' own
completion ratios), groups and invitation rewards, each with its report line."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest

from burncloud.services.migration.oneapi.findings import Findings
from burncloud.services.migration.oneapi.money import (
    money_total,
    to_nano,
    units_text,
    units_to_nano,
)
from burncloud.services.migration.oneapi.options import (
    PeerOptions,
    convert_groups,
    invite_settings,
    leftover_options,
    read_options,
)
from burncloud.services.migration.oneapi.prices import convert_prices
from burncloud.services.migration.oneapi.ratios import (
    BUILT_IN,
    LOCKED,
    NONE,
    OPTION,
    completion_ratio,
)
from burncloud.services.price_catalog import parse_price, price_data


def options(found: Findings | None = None, **values: object) -> PeerOptions:
    rows = [
        {"key": key, "value": value if isinstance(value, str) else json.dumps(value)}
        for key, value in values.items()
    ]
    return read_options(rows, found if found is not None else Findings())


def lines(found: Findings) -> list[str]:
    return [line.line() for line in (*found.mapped, *found.skipped)]


# --- quota units -----------------------------------------------------------------------


def test_quota_per_unit_defaults_to_500000_and_says_so() -> None:
    found = Findings()
    assert options(found).quota_per_unit == Decimal(500_000)
    assert "QuotaPerUnit is not set at the peer: 500000 units = $1 (its default)" in found.notes


def test_quota_per_unit_of_the_peer_is_used_and_reported() -> None:
    found = Findings()
    assert options(found, QuotaPerUnit="1000000").quota_per_unit == Decimal(1_000_000)
    assert "option QuotaPerUnit: 1000000 units = $1" in lines(found)


@pytest.mark.parametrize("bad", ["0", "-5", "lots", "NaN"])
def test_a_quota_per_unit_that_is_not_positive_falls_back_and_is_reported(bad: str) -> None:
    found = Findings()
    assert options(found, QuotaPerUnit=bad).quota_per_unit == Decimal(500_000)
    assert any(line.startswith("option QuotaPerUnit: ") for line in lines(found))


@pytest.mark.parametrize(
    ("units", "qpu", "nano", "exact"),
    [
        (1, 500_000, 2_000, True),
        (500_000, 500_000, 10**9, True),
        (12_500_000, 500_000, 25 * 10**9, True),
        (1, 1_000_000, 1_000, True),
        (7, Decimal("1000000.0"), 7_000, True),
        (1, 3, 333_333_333, False),
        (2, 3, 666_666_667, False),
        (1, 2 * 10**9, 0, False),  # 0.5 nano-USD: half-even rounds to 0
        (3, 2 * 10**9, 2, False),  # 1.5 -> 2
        (5, 2 * 10**9, 2, False),  # 2.5 -> 2
        (0, 500_000, 0, True),
    ],
)
def test_units_convert_to_nano_usd_exactly_or_half_even(
    units: int, qpu: int | Decimal, nano: int, exact: bool
) -> None:
    converted = units_to_nano(units, Decimal(qpu))
    assert (converted.nano, converted.exact) == (nano, exact)
    assert converted.value == Fraction(units * 10**9) / Fraction(Decimal(qpu))


def test_money_totals_sum_the_stored_amounts_and_say_the_units() -> None:
    total = money_total("user balances", [12_500_000, 500_000, 1], Decimal(500_000))
    assert total.before == "13000001 units ($26.000002)"
    assert total.after == 26_000_002_000 and total.exact
    odd = money_total("user balances", [1, 1, 1], Decimal(3))
    assert odd.after == 3 * 333_333_333 and not odd.exact
    assert odd.before == "3 units ($1)"
    assert units_text(1, Decimal(3)) == "1 units (≈$0.333333333)"


# --- option tables -----------------------------------------------------------------------


def test_a_table_that_does_not_parse_is_reported_and_read_as_unset() -> None:
    found = Findings()
    read = options(found, ModelRatio="{not json", CompletionRatio="[1, 2]")
    assert read.model_ratio is None and read.completion_ratio is None
    assert "option ModelRatio: not valid JSON: the peer could not load it either" in lines(found)
    assert "option CompletionRatio: not a JSON object: the peer could not load it either" in (
        lines(found)
    )


def test_entries_that_are_not_numbers_are_dropped_and_reported() -> None:
    found = Findings()
    read = options(found, ModelRatio={"good": 1.5, "text": "2", "neg": -1, "flag": True})
    assert read.model_ratio == {"good": Decimal("1.5")}
    assert 'option ModelRatio[text]: "2" is not a number >= 0' in lines(found)
    assert "option ModelRatio[neg]: -1 is not a number >= 0" in lines(found)
    assert "option ModelRatio[flag]: true is not a number >= 0" in lines(found)


def test_ratios_are_read_as_the_exact_decimals_written() -> None:
    read = options(ModelRatio='{"gpt-3.5-turbo-0301": 0.75, "x": 1.3333333333333333}')
    assert read.model_ratio == {
        "gpt-3.5-turbo-0301": Decimal("0.75"),
        "x": Decimal("1.3333333333333333"),
    }


# --- prices ----------------------------------------------------------------------------


def price_of(flavor: str, model: str, **values: object) -> tuple[dict[str, int], list[str]]:
    found = Findings()
    prices = convert_prices(options(found, **values), flavor, found)
    return prices[model].rates.named(), lines(found)


def test_ratio_one_is_two_dollars_per_million_input_tokens() -> None:
    rates, said = price_of("oneapi", "m", ModelRatio={"m": 1}, CompletionRatio={"m": 1})
    assert rates == {"input": 2 * 10**9, "output": 2 * 10**9}
    assert "price m: input $2 (ModelRatio 1), output $2 (x1: CompletionRatio) per 1M tokens" in said


def test_output_is_input_times_the_completion_ratio_option() -> None:
    rates, said = price_of(
        "oneapi", "gpt-4o", ModelRatio={"gpt-4o": 1.25}, CompletionRatio={"gpt-4o": 4}
    )
    assert rates == {"input": 2_500_000_000, "output": 10_000_000_000}
    assert (
        "price gpt-4o: input $2.5 (ModelRatio 1.25), output $10 (x4: CompletionRatio)"
        " per 1M tokens" in said
    )


@pytest.mark.parametrize(
    ("model", "ratio", "output"),
    [
        ("gpt-4o-mini", "0.075", 600_000_000),  # x4
        ("gpt-4o-2024-05-13", "2.5", 15_000_000_000),  # x3
        ("gpt-4-turbo", "5", 30_000_000_000),  # x3
        ("gpt-4", "15", 60_000_000_000),  # x2
        ("claude-3-haiku-20240307", "0.125", 1_250_000_000),  # x5
        ("claude-2.1", "4", 24_000_000_000),  # x3
        ("gemini-1.5-pro", "0.625", 3_750_000_000),  # x3
        ("deepseek-chat", "0.135", 540_000_000),  # x0.28/0.14 = 2
        ("gpt-3.5-turbo", "0.25", 1_500_000_000),  # x3
        ("gpt-3.5-turbo-1106", "0.5", 2_000_000_000),  # x2
        ("whisper-1", "15", 0),  # only input is billed
    ],
)
def test_one_api_fills_completion_ratios_from_its_own_rules(
    model: str, ratio: str, output: int
) -> None:
    rates, said = price_of(
        "oneapi", model, ModelRatio=f'{{"{model}": {ratio}}}', CompletionRatio={}
    )
    assert rates["output"] == output
    assert any(
        f"price {model}: " in line and "the peer's built-in completion ratio" in line
        for line in said
    )


def test_a_ratio_that_is_not_whole_in_nano_usd_is_rounded_half_even_and_said() -> None:
    # gpt-3.5 (not turbo): output x4/3; 0.1 x $2 x 4/3 = $0.2666... = 800000000/3 nano-USD
    rates, said = price_of("oneapi", "gpt-3.5-x", ModelRatio={"gpt-3.5-x": 0.1}, CompletionRatio={})
    assert rates == {"input": 200_000_000, "output": 266_666_667}
    assert (
        "price gpt-3.5-x: input $0.2 (ModelRatio 0.1), output $0.266666667 (rounded half-even"
        " from 800000000/3 nano-USD) (x4/3: the peer's built-in completion ratio for this"
        " model) per 1M tokens" in said
    )


def test_a_ratio_with_more_than_nine_decimals_of_a_dollar_is_rounded() -> None:
    rates, said = price_of("oneapi", "m", ModelRatio='{"m": 0.0000000001}', CompletionRatio={})
    assert rates == {"input": 0, "output": 0}
    assert any("rounded half-even from 0.2 nano-USD" in line for line in said)


def test_a_model_no_rule_names_has_output_at_the_input_price() -> None:
    rates, said = price_of("oneapi", "my-model", ModelRatio={"my-model": 3}, CompletionRatio={})
    assert rates == {"input": 6 * 10**9, "output": 6 * 10**9}
    assert any("x1: no completion ratio names this model" in line for line in said)


def test_new_api_locked_ratios_win_over_its_option_as_there() -> None:
    rates, said = price_of(
        "newapi",
        "claude-3-5-sonnet-20241022",
        ModelRatio={"claude-3-5-sonnet-20241022": 1.5},
        CompletionRatio={"claude-3-5-sonnet-20241022": 2},
    )
    assert rates == {"input": 3 * 10**9, "output": 15 * 10**9}
    assert any(
        "x5: New API's built-in ratio, which overrides its CompletionRatio" in x for x in said
    )


def test_new_api_cache_ratio_prices_cached_tokens() -> None:
    rates, said = price_of(
        "newapi", "gpt-4o", ModelRatio={"gpt-4o": 1.25}, CompletionRatio={"gpt-4o": 4},
        CacheRatio={"gpt-4o": 0.5},
    )  # fmt: skip
    assert rates == {"input": 2_500_000_000, "output": 10_000_000_000, "cached": 1_250_000_000}
    assert any("cached $1.25 (CacheRatio 0.5)" in line for line in said)


def test_new_api_model_price_is_a_flat_price_per_request_the_catalog_accepts() -> None:
    found = Findings()
    read = options(found, ModelRatio={"dall-e-3": 20}, ModelPrice={"dall-e-3": 0.04})
    price = convert_prices(read, "newapi", found)["dall-e-3"]
    assert price.rates.named() == {"input": 0, "output": 0, "request": 40_000_000}
    assert parse_price("dall-e-3", price_data(price), "prices.dall-e-3") == price
    assert (
        "price dall-e-3: $0.04 per request (ModelPrice 0.04); its ModelRatio 20 is ignored,"
        " as at the peer" in lines(found)
    )


def test_names_with_no_equivalent_are_skipped_with_the_reason() -> None:
    found = Findings()
    read = options(found, ModelRatio={"llama3-8b-8192(33)": 0.15, "gpt-4-gizmo-*": 15, "ok": 1})
    assert set(convert_prices(read, "oneapi", found)) == {"ok"}
    said = lines(found)
    assert (
        "price llama3-8b-8192(33): ModelRatio: a ratio for one channel type only"
        " (no equivalent)" in said
    )
    assert "price gpt-4-gizmo-*: ModelRatio: a wildcard name (burncloud prices exact names)" in said


def test_an_unset_model_ratio_imports_no_prices_and_says_why() -> None:
    found = Findings()
    assert convert_prices(options(found), "oneapi", found) == {}
    assert any(note.startswith("ModelRatio is not set at the peer") for note in found.notes)


@pytest.mark.parametrize(
    ("flavor", "model", "configured", "ratio", "source"),
    [
        ("oneapi", "gpt-4o", {"gpt-4o": "3"}, Fraction(3), OPTION),
        ("oneapi", "gpt-4o", None, Fraction(4), BUILT_IN),
        ("oneapi", "gpt-3.5-turbo-0613", None, Fraction(4, 3), BUILT_IN),
        ("oneapi", "deepseek-reasoner", {}, Fraction(219, 55), BUILT_IN),
        ("oneapi", "qwen-max-internet", {"qwen-max": "2"}, Fraction(2), OPTION),
        ("oneapi", "o1-mini", {}, Fraction(4), BUILT_IN),
        ("oneapi", "command-r-plus", {}, Fraction(5), BUILT_IN),
        ("oneapi", "llama3-70b-8192", {}, Fraction(79, 59), BUILT_IN),
        ("oneapi", "qwen-turbo", {}, Fraction(1), NONE),
        ("newapi", "gpt-4o", {"gpt-4o": "6"}, Fraction(6), OPTION),  # not locked
        ("newapi", "gpt-4o", {}, Fraction(4), BUILT_IN),
        ("newapi", "gpt-4o-2024-05-13", {"gpt-4o-2024-05-13": "9"}, Fraction(3), LOCKED),
        ("newapi", "gpt-5-mini", {"gpt-5-mini": "2"}, Fraction(8), LOCKED),
        ("newapi", "gpt-3.5-turbo", {}, Fraction(2), BUILT_IN),  # its gpt- rule comes first
        ("newapi", "o3-mini", {}, Fraction(4), LOCKED),
        ("newapi", "gemini-2.5-flash", {}, Fraction(25, 3), BUILT_IN),
        ("newapi", "gemini-2.5-flash-thinking-512", {}, Fraction(25, 3), BUILT_IN),
        ("newapi", "gpt-4-gizmo-g-abc", None, Fraction(2), OPTION),  # the default table
        ("newapi", "vendor/model", {"vendor/model": "7"}, Fraction(7), OPTION),
        ("newapi", "qwen-turbo", {}, Fraction(1), NONE),
    ],
)
def test_completion_ratios_follow_each_peer(
    flavor: str,
    model: str,
    configured: dict[str, str] | None,
    ratio: Fraction,
    source: str,
) -> None:
    table = None if configured is None else {k: Decimal(v) for k, v in configured.items()}
    found = completion_ratio(flavor, model, table)
    assert (found.ratio, found.source) == (ratio, source)


def test_to_nano_keeps_the_exact_amount() -> None:
    converted = to_nano(Fraction(1, 3))
    assert converted.nano == 333_333_333 and converted.value == Fraction(10**9, 3)


# --- groups, settings, leftovers -----------------------------------------------------------


def test_group_ratios_and_every_used_group_become_groups() -> None:
    found = Findings()
    read = options(found, GroupRatio={"default": 1, "vip": 0.8, "bad group": 2, "x": 5000})
    groups = convert_groups(read, {"default", "vip", "partners"}, found)
    assert groups == {"default": Decimal(1), "vip": Decimal("0.8"), "partners": Decimal(1)}
    said = lines(found)
    assert "group vip: ratio 0.8 (GroupRatio)" in said
    assert "group partners: ratio 1: used by users or channels, not named in GroupRatio" in said
    assert "group bad group: a group name cannot hold spaces or commas" in said
    assert "group x: ratio must be at most 1000: '5000'" in said


def test_an_unset_group_ratio_is_the_peers_default_table() -> None:
    found = Findings()
    groups = convert_groups(options(found), set(), found)
    assert groups == {"default": Decimal(1), "svip": Decimal(1), "vip": Decimal(1)}
    assert any(note.startswith("GroupRatio is not set at the peer") for note in found.notes)


def test_invitation_rewards_become_settings_in_nano_usd() -> None:
    found = Findings()
    read = options(found, QuotaForInviter="500000", QuotaForInvitee="250000")
    assert invite_settings(read, found) == {
        "invite_reward_inviter": "1000000000",
        "invite_reward_invitee": "500000000",
    }
    assert "setting QuotaForInviter: 500000 units ($1) -> invite_reward_inviter $1" in lines(found)


def test_other_options_are_named_without_their_values() -> None:
    found = Findings()
    read = options(found, SMTPToken="secret-value", SystemName="Gate", ModelRatio={})
    leftover_options(read, found)
    assert lines(found)[-1] == (
        "option 2 other options: no burncloud equivalent: SMTPToken, SystemName"
    )
    assert not any("secret-value" in line for line in lines(found))
