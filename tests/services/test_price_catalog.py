"""The catalog file: every price, tier, unit and alias as USD strings, read back exactly,
and every malformed entry refused with where it is wrong."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services.price_catalog import (
    AMOUNT_KINDS,
    FORMAT,
    Catalog,
    catalog_data,
    dump_catalog,
    load_catalog,
    parse_catalog,
)
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice

SONNET = Price(
    model="claude-sonnet",
    input=parse_usd("3"),
    output=parse_usd("15"),
    cached=parse_usd("0.3"),
    cache_write=parse_usd("3.75"),
    cache_write_1h=parse_usd("6"),
    tiers=(Tier(200_000, Rates(input=parse_usd("6"), output=parse_usd("22.5"))),),
    units=(
        UnitPrice("image", parse_usd("0.04"), "1024x1024/standard"),
        UnitPrice("call", parse_usd("10"), "web_search"),
    ),
    version=7,
)
WHISPER = Price(
    model="whisper",
    input=0,
    output=0,
    request=parse_usd("0.000000001"),
    audio_input=parse_usd("0.000000001"),
    units=(UnitPrice("minute", parse_usd("0.006")),),
)
CATALOG = Catalog(
    prices={
        "claude-sonnet": SONNET,
        "whisper": WHISPER,
        "claude-latest": Price(model="claude-latest", input=0, output=0, alias_of="claude-sonnet"),
    },
    channels={
        "reseller": {"claude-sonnet": Price("claude-sonnet", parse_usd("0.9"), parse_usd("4"))}
    },
)


def test_the_catalog_names_every_amount_a_price_has() -> None:
    assert set(AMOUNT_KINDS) == {f.name for f in fields(Rates)}


def test_data_is_sorted_usd_strings_naming_only_what_is_set() -> None:
    data = catalog_data(CATALOG)
    assert data["format"] == FORMAT
    assert list(data["prices"]) == ["claude-latest", "claude-sonnet", "whisper"]
    assert data["prices"]["claude-latest"] == {"alias": "claude-sonnet"}
    assert data["prices"]["claude-sonnet"] == {
        "input": "3",
        "output": "15",
        "cached": "0.3",
        "cache_write": "3.75",
        "cache_write_1h": "6",
        "tiers": [{"above": 200000, "input": "6", "output": "22.5"}],
        "units": [
            {"per": "call", "variant": "web_search", "usd": "10"},
            {"per": "image", "variant": "1024x1024/standard", "usd": "0.04"},
        ],
    }
    assert data["prices"]["whisper"] == {
        "input": "0",
        "output": "0",
        "audio_input": "0.000000001",
        "request": "0.000000001",
        "units": [{"per": "minute", "usd": "0.006"}],
    }
    assert data["channels"] == {"reseller": {"claude-sonnet": {"input": "0.9", "output": "4"}}}


@pytest.mark.parametrize("file_format", ["json", "yaml"])
def test_a_dumped_catalog_reads_back_as_the_same_prices(file_format: str) -> None:
    text = dump_catalog(CATALOG, file_format)
    again = load_catalog(text, file_format)
    assert catalog_data(again) == catalog_data(CATALOG)
    assert again.prices["claude-sonnet"].units == tuple(
        sorted(SONNET.units, key=lambda u: (u.per, u.variant))
    )
    assert again.prices["claude-sonnet"].version is None  # importing writes new versions
    assert dump_catalog(again, file_format) == text  # stable: the same text every time


def test_yaml_is_readable_with_amounts_kept_as_strings() -> None:
    text = dump_catalog(CATALOG, "yaml")
    assert "claude-latest:\n    alias: claude-sonnet\n" in text
    assert "cache_write: '3.75'" in text


def test_numbers_are_exact_decimals_in_json_and_yaml() -> None:
    as_json = '{"prices": {"m": {"input": 0.1, "output": 3, "cached": 1e-9}}}'
    as_yaml = "prices:\n  m: {input: 0.1, output: 3, cached: 1.0e-9}\n"
    for text, file_format in ((as_json, "json"), (as_yaml, "yaml")):
        price = load_catalog(text, file_format).prices["m"]
        assert (price.input, price.output, price.cached) == (100_000_000, 3 * 10**9, 1)


def test_a_channel_table_and_no_format_line_are_optional() -> None:
    catalog = parse_catalog({"prices": {"m": {"input": "1", "output": "2"}}})
    assert catalog.channels == {}
    assert catalog.prices["m"] == Price("m", 10**9, 2 * 10**9)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not a burncloud price catalog"),
        ({"gpt-4o": {"input_cost_per_token": 1e-6}}, "use --format litellm"),
        ({"prices": {}, "extra": 1}, "the catalog: unknown field 'extra'"),
        ({"format": "v2", "prices": {}}, "unknown catalog format 'v2'"),
        ({"prices": []}, "prices: must be an object"),
        ({"prices": {"m": {"input": "1"}}}, "prices.m: output is required"),
        ({"prices": {"m": {"input": "1", "outptu": "2"}}}, "prices.m: unknown field 'outptu'"),
        ({"prices": {"m": {"input": "-1", "output": "2"}}}, "prices.m.input: amount must not"),
        ({"prices": {"m": {"input": "1.0000000001", "output": "2"}}}, "more than 9 decimal"),
        ({"prices": {"m": {"input": True, "output": "2"}}}, "prices.m.input: must be a USD"),
        ({"prices": {"m": {"input": 0.5, "output": "2"}}}, "prices.m.input: must be a USD"),
        ({"prices": {"m": {"alias": "x", "input": "1"}}}, "prices.m: unknown field 'input'"),
        ({"prices": {"m": {"alias": ""}}}, "prices.m.alias: must be a model name"),
        ({"prices": {"m": {"input": 1, "output": 2, "tiers": {}}}}, "tiers: must be a list"),
        (
            {"prices": {"m": {"input": 1, "output": 2, "tiers": [{"above": "5", "input": 1}]}}},
            "prices.m.tiers[0].above: must be a whole number",
        ),
        (
            {"prices": {"m": {"input": 1, "output": 2, "tiers": [{"above": 5}]}}},
            "prices.m: the tier above 5 tokens names no price",
        ),
        (
            {"prices": {"m": {"input": 1, "output": 2, "units": [{"per": "hour", "usd": 1}]}}},
            "prices.m: unknown unit 'hour'",
        ),
        (
            {"prices": {"m": {"input": 1, "output": 2, "units": [{"per": "image"}]}}},
            "prices.m.units[0].usd is required",
        ),
        (
            {"prices": {}, "channels": {"c": {"m": {"alias": "x"}}}},
            "channels.c.m: a channel's cost price cannot be an alias",
        ),
    ],
)
def test_a_malformed_catalog_is_refused_saying_where(data: object, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_catalog(data)
    assert message in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("text", "file_format", "message"),
    [
        ('{"prices": {"m": ', "json", "not valid JSON"),
        ('{"prices": {"m": {"input": NaN, "output": 1}}}', "json", "not valid JSON"),
        ('{"prices": {"m": {}, "m": {}}}', "json", "the key 'm' appears twice"),
        ("prices:\n  m: {input: 1\n", "yaml", "not valid YAML"),
        ("prices:\n  m: {input: 1, output: 2}\n  m: {input: 1, output: 3}\n", "yaml", "twice"),
        (
            "prices:\n  m: {input: .inf, output: 2}\n",
            "yaml",
            "prices.m.input: not a decimal amount",
        ),
        ("prices:\n  yes: {input: 1, output: 2}\n", "yaml", "must be a string (quote it)"),
        ("prices:\n  a: &x {input: 1, output: 2}\n  b: *x\n", "yaml", "aliases are not allowed"),
        ("prices: {}\n", "toml", "unknown file format 'toml'"),
    ],
)
def test_malformed_text_is_one_line_error(text: str, file_format: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        load_catalog(text, file_format)
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_untrusted_characters_in_names_are_escaped_in_both_formats() -> None:
    odd = Catalog(prices={"m\x1b[31m\u202e": Price("m\x1b[31m\u202e", 1, 2)}, channels={})
    for file_format in ("json", "yaml"):
        text = dump_catalog(odd, file_format)
        assert text.isascii() and "\x1b" not in text
        assert set(load_catalog(text, file_format).prices) == {"m\x1b[31m\u202e"}


def test_json_text_is_indented_and_ends_with_a_newline() -> None:
    text = dump_catalog(CATALOG, "json")
    assert text.endswith("}\n") and '\n  "prices": {' in text
    assert json.loads(text)["prices"]["whisper"]["units"] == [{"per": "minute", "usd": "0.006"}]
