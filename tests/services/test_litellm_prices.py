"""LiteLLM's price file as burncloud prices: exact, tiers, cache and unit prices mapped,
the rest reported. The fixture is a verbatim cut of the file in the litellm wheel (see its
.src)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services.litellm_prices import convert_entry, import_litellm, read_litellm
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice

FIXTURE = (
    Path(__file__).resolve().parents[1] / "fixtures/litellm/model_prices_and_context_window.json"
)
TEXT = FIXTURE.read_text()
FILE: dict[str, Any] = json.loads(TEXT, parse_float=Decimal)
PER_1M_NANO = Decimal(10) ** 15  # USD per token -> nano-USD per 1M tokens

# LiteLLM field -> burncloud kind, for the hand check below (written out, not imported)
KINDS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cached",
    "cache_creation_input_token_cost": "cache_write",
    "cache_creation_input_token_cost_above_1hr": "cache_write_1h",
    "input_cost_per_audio_token": "audio_input",
    "output_cost_per_audio_token": "audio_output",
    "input_cost_per_image_token": "image_input",
    "output_cost_per_image_token": "image_output",
}
NAMED = [
    "gpt-4o",
    "gpt-4o-mini",
    "azure/gpt-4o",
    "gpt-4.1",
    "o3",
    "gpt-5",
    "gpt-5.4",
    "gpt-4o-audio-preview-2024-12-17",
    "gpt-4o-mini-transcribe",
    "gpt-image-1",
    "text-embedding-3-small",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "claude-opus-4-5",
    "anthropic.claude-sonnet-4-20250514-v1:0",
    "global.anthropic.claude-fable-5-1",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "deepseek/deepseek-chat",
    "dashscope/qwen-turbo",
    "perplexity/sonar-medium-online",
]


def nano(value: Decimal, scale: Decimal = PER_1M_NANO) -> int:
    exact = value * scale
    assert exact == int(exact), "these models' prices are whole nano-USD"
    return int(exact)


def expected_rates(entry: dict[str, Any], suffix: str = "") -> dict[str, int]:
    return {
        kind: nano(entry[field + suffix])
        for field, kind in KINDS.items()
        if field + suffix in entry
    }


@pytest.fixture(scope="module")
def imported() -> dict[str, Price]:
    return import_litellm(TEXT).prices


@pytest.mark.parametrize("model", NAMED)
def test_named_models_price_what_the_file_says(imported: dict[str, Price], model: str) -> None:
    entry, price = FILE[model], imported[model]
    own = {kind: amount for kind, amount in price.rates.named().items() if kind != "request"}
    assert own == {"input": 0, "output": 0, **expected_rates(entry)}  # unnamed: 0
    thresholds = {
        int(key.rsplit("_above_", 1)[1].removesuffix("k_tokens")) * 1_000
        for key in entry
        if key.endswith("k_tokens") and key.rsplit("_above_", 1)[0] in KINDS
    }
    assert [tier.above for tier in price.tiers] == sorted(thresholds)
    for tier in price.tiers:
        assert tier.rates.named() == expected_rates(entry, f"_above_{tier.above // 1000}k_tokens")
    searches = entry.get("search_context_cost_per_query")
    web_search = price.unit_price("call", "web_search")
    if searches is None:
        assert web_search is None
    else:  # per query -> per 1,000 calls
        assert web_search is not None
        assert web_search.amount == nano(searches["search_context_size_medium"], Decimal(10**12))


def test_published_prices_come_through_to_the_nano_dollar(imported: dict[str, Price]) -> None:
    sonnet = imported["claude-sonnet-4-5"]  # Anthropic: $3 / $15, cache write 1.25x and 2x
    assert (sonnet.input, sonnet.output, sonnet.cached) == (3 * 10**9, 15 * 10**9, 3 * 10**8)
    assert (sonnet.cache_write, sonnet.cache_write_1h) == (parse_usd("3.75"), parse_usd("6"))
    assert sonnet.unit_price("call", "web_search") == UnitPrice("call", 10 * 10**9, "web_search")
    gemini = imported["gemini-2.5-pro"]  # Gemini 2.5 Pro: $1.25 / $10, above 200k $2.5 / $15
    assert (gemini.input, gemini.output) == (parse_usd("1.25"), parse_usd("10"))
    assert gemini.tiers == (
        Tier(
            200_000,
            Rates(
                input=parse_usd("2.5"),
                output=parse_usd("15"),
                cached=parse_usd("0.25"),
                cache_write=parse_usd("0.25"),
            ),
        ),
    )
    gpt54 = imported["gpt-5.4"]  # GPT-5.x: a tier above 272k
    assert [t.above for t in gpt54.tiers] == [272_000]
    assert gpt54.tiers[0].rates.input == parse_usd("5")


def test_units_are_scaled_to_their_blocks(imported: dict[str, Price]) -> None:
    assert imported["whisper-1"].units == (UnitPrice("minute", parse_usd("0.006")),)  # /second
    assert imported["tts-1"].units == (UnitPrice("characters", parse_usd("15")),)  # /1M chars
    assert imported["cohere.rerank-v3-5:0"].units == (UnitPrice("search", parse_usd("2")),)
    assert imported["amazon.titan-image-generator-v1"].units == (
        UnitPrice("image", parse_usd("0.008")),
    )
    generated = imported["standard/1024-x-1024/gpt-image-1.5"]  # input_cost_per_image, generation
    assert generated.units == (
        UnitPrice("image", nano(FILE[generated.model]["input_cost_per_image"], Decimal(10**9))),
    )
    assert imported["perplexity/sonar-medium-online"].request == parse_usd("0.005")


def test_tiered_pricing_ranges_are_tiers_above_their_start(imported: dict[str, Price]) -> None:
    flash = imported["dashscope/qwen-flash"]
    assert (flash.input, flash.output) == (parse_usd("0.05"), parse_usd("0.4"))
    assert flash.tiers == (Tier(256_000, Rates(input=parse_usd("0.25"), output=parse_usd("2"))),)


def test_aliases_follow_their_target() -> None:
    found = import_litellm(TEXT, ["bedrock/claude-fable-latest"])
    assert set(found.prices) == {"bedrock/claude-fable-latest", "global.anthropic.claude-fable-5-1"}
    assert found.prices["bedrock/claude-fable-latest"].alias_of == (
        "global.anthropic.claude-fable-5-1"
    )


def test_what_cannot_be_billed_is_reported() -> None:
    found = import_litellm(TEXT)
    assert found.skipped == ("azure/high/1024-x-1024/gpt-image-1",)  # priced per pixel only
    assert "sample_spec" not in found.prices
    assert found.ignored["input_cost_per_token_batches"] == sum(
        1 for entry in FILE.values() if "input_cost_per_token_batches" in entry
    )
    assert found.ignored["output_cost_per_reasoning_token"] == 1  # qwen-turbo's differs
    assert "input_cost_per_token_cache_hit" not in found.ignored  # deepseek's equals cached
    assert "max_input_tokens" not in found.ignored and "mode" not in found.ignored
    assert found.rounded == 2  # databricks' float noise in its input and output prices
    report = found.report()
    assert report.startswith(f"LiteLLM: {len(found.prices) - 1} prices, 1 aliases;")
    assert f"ignored {len(found.ignored)} unknown fields: " in report
    assert "\n" not in report


def test_float_noise_is_rounded_half_up_to_a_nano_dollar() -> None:
    noisy = convert_entry(
        "m",
        {
            "input_cost_per_token": Decimal("0.0000029999900000000002"),
            "output_cost_per_token": Decimal("1.5E-15"),
        },
    )
    assert noisy.price is not None and noisy.rounded == 2
    assert (noisy.price.input, noisy.price.output) == (2_999_990_000, 2)


def test_an_entry_without_input_or_output_prices_them_at_zero() -> None:
    found = convert_entry("embed", {"input_cost_per_token": Decimal("2E-8"), "mode": "embedding"})
    assert found.price == Price("embed", input=20_000_000, output=0)


def test_top_level_prices_win_over_a_tiered_range_from_zero() -> None:
    entry = {
        "input_cost_per_token": Decimal("1E-6"),
        "tiered_pricing": [
            {
                "input_cost_per_token": Decimal("9E-6"),
                "output_cost_per_token": Decimal("2E-6"),
                "range": [0, Decimal("1000.0")],
            },
            {"input_cost_per_token": Decimal("3E-6"), "range": [Decimal("1000.0"), 5000]},
        ],
    }
    price = convert_entry("m", entry).price
    assert price is not None
    assert (price.input, price.output) == (10**9, 2 * 10**9)
    assert price.tiers == (Tier(1_000, Rates(input=3 * 10**9)),)


def test_unusable_values_are_ignored_not_guessed() -> None:
    found = convert_entry(
        "m",
        {
            "input_cost_per_token": Decimal("1E-6"),
            "output_cost_per_token": "0.0",  # a string
            "cache_read_input_token_cost": Decimal("-1E-7"),
            "input_cost_per_image": Decimal("0.01"),  # a chat model's input images
            "tiered_pricing": [
                {"range": [0, 10], "output_cost_per_token": Decimal("5E-6")},
                {"range": "10-20", "input_cost_per_token": Decimal("5E-6")},  # malformed
            ],
        },
    )
    assert found.price == Price("m", input=10**9, output=0)
    assert set(found.ignored) == {
        "output_cost_per_token",
        "cache_read_input_token_cost",
        "input_cost_per_image",
        "tiered_pricing",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "not LiteLLM's price file"),
        ('{"m": 1}', "not LiteLLM's price file"),
    ],
)
def test_a_file_that_is_not_litellms_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        read_litellm(text)


def test_only_names_models_of_the_file() -> None:
    with pytest.raises(InvalidRequest, match="not in the LiteLLM file: nope"):
        import_litellm(TEXT, ["gpt-4o", "nope"])
    assert set(import_litellm(TEXT, ["gpt-4o"]).prices) == {"gpt-4o"}
