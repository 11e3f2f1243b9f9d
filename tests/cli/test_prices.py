from __future__ import annotations

import orjson
import pytest

from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.pricing import Price
from tests.price_json import priced


@pytest.fixture
def cli(cli):
    """The CLI on a database that already exists, so stderr holds only errors."""
    assert cli("init").exit_code == 0
    return cli


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr


def test_list_json_has_money_as_decimal_strings(cli, cli_json) -> None:
    assert cli("price", "set", "gpt-4", "--input", "30", "--output", "60").exit_code == 0
    result = cli("price", "set", "mini", "--input", "0.15", "--output", "0.6", "--cached", "0.075")
    assert result.exit_code == 0, result.output
    assert cli_json("price", "list") == [
        priced("gpt-4", "30", "60", version=1, incomplete=[]),
        priced("mini", "0.15", "0.6", cached="0.075", version=2, incomplete=[]),
    ]


def test_list_table_shows_every_column(cli) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60", "--cached", "15")
    result = cli("price", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == [
        "model", "input", "output", "cached", "cache_write", "cache_write_1h", "request",
        "tiers", "units", "alias", "incomplete",
    ]  # fmt: skip
    assert lines[1].split("\t") == ["gpt-4", "30", "60", "15", "", "", "", "", "", "", ""]


def test_alias_lists_with_resolved_amounts_and_its_target(cli, cli_json) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60")
    result = cli("price", "set", "gpt-4-turbo", "--alias", "gpt-4")
    assert result.exit_code == 0, result.output
    assert "alias of gpt-4" in result.stdout
    assert cli_json("price", "get", "gpt-4-turbo") == priced(
        "gpt-4-turbo", "30", "60", alias="gpt-4", version=1
    )


def test_get_prints_one_record(cli) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60")
    result = cli("price", "get", "gpt-4")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["model", "gpt-4"]
    assert lines[1].split() == ["input", "30"]
    assert ["cache_write", "as", "input"] in [line.split() for line in lines]


def test_get_unknown_model_exits_1_with_one_line(cli) -> None:
    assert_one_line_error(cli("price", "get", "gpt-9"), "gpt-9")


def test_set_replaces_the_price(cli, cli_json) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60")
    cli("price", "set", "gpt-4", "--input", "10", "--output", "20")
    assert cli_json("price", "get", "gpt-4")["input"] == "10"


def test_alias_with_amounts_is_a_clear_error(cli) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60")
    result = cli("price", "set", "x", "--alias", "gpt-4", "--input", "1")
    assert_one_line_error(result, "--alias cannot be combined")


def test_set_without_output_is_a_clear_error(cli) -> None:
    assert_one_line_error(cli("price", "set", "x", "--input", "1"), "--input and --output")


@pytest.mark.parametrize("amount", ["-1", "abc", "0.0000000001", "nan"])
def test_bad_amount_names_the_option(cli, amount: str) -> None:
    result = cli("price", "set", "x", "--input", "1", "--output", amount)
    assert_one_line_error(result, "--output")


def test_alias_to_unknown_model_exits_1(cli) -> None:
    assert_one_line_error(cli("price", "set", "x", "--alias", "gpt-9"), "gpt-9")


def test_alias_cycle_exits_1(cli) -> None:
    cli("price", "set", "a", "--input", "1", "--output", "1")
    cli("price", "set", "b", "--alias", "a")
    assert_one_line_error(cli("price", "set", "a", "--alias", "b"), "cycle")


def test_delete_removes_the_price(cli, cli_json) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60")
    result = cli("price", "delete", "gpt-4")
    assert result.exit_code == 0
    assert cli_json("price", "list") == []


def test_delete_unknown_model_exits_1(cli) -> None:
    assert_one_line_error(cli("price", "delete", "gpt-9"), "gpt-9")


def test_delete_aliased_model_is_refused(cli, cli_json) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60")
    cli("price", "set", "gpt-4-turbo", "--alias", "gpt-4")
    assert_one_line_error(cli("price", "delete", "gpt-4"), "gpt-4-turbo")
    assert len(cli_json("price", "list")) == 2


def test_db_option_selects_another_database(cli, cli_json, tmp_path) -> None:
    other = f"sqlite:///{tmp_path}/other.db"
    result = cli("price", "set", "gpt-4", "--input", "30", "--output", "60", "--db", other)
    assert result.exit_code == 0, result.output
    assert cli_json("price", "list") == []
    listed = cli("price", "list", "--json", "--db", other)
    assert [row["model"] for row in orjson.loads(listed.stdout)] == ["gpt-4"]


EVERY_KIND = (
    "--input", "3", "--output", "15", "--cached", "0.3", "--cache-write", "3.75",
    "--cache-write-1h", "6", "--request", "0.001", "--audio-input", "40", "--audio-output",
    "80", "--image-input", "5", "--image-output", "30",
)  # fmt: skip


def test_set_names_every_kind_and_get_shows_them(cli, cli_json) -> None:
    result = cli("price", "set", "claude", *EVERY_KIND)
    assert result.exit_code == 0, result.output
    assert "cache write 3.75" in result.stdout and "0.001 USD per request" in result.stdout
    assert cli_json("price", "get", "claude") == priced(
        "claude",
        "3",
        "15",
        cached="0.3",
        cache_write="3.75",
        cache_write_1h="6",
        request="0.001",
        audio_input="40",
        audio_output="80",
        image_input="5",
        image_output="30",
        version=1,
    )


def test_set_keeps_tiers_and_units_and_replaces_the_base_prices(cli, cli_json) -> None:
    cli("price", "set", "m", "--input", "1", "--output", "2", "--cache-write", "1.25")
    assert cli("price", "tier", "m", "--above", "200000", "--input", "2").exit_code == 0
    assert cli("price", "unit", "m", "--per", "search", "--usd", "2").exit_code == 0
    cli("price", "set", "m", "--input", "3", "--output", "4")
    shown = cli_json("price", "get", "m")
    assert (shown["input"], shown["cache_write"]) == ("3", None)
    assert shown["tiers"] == [{"above": 200000, "input": "2"}]
    assert shown["units"] == [{"per": "search", "variant": "", "usd": "2"}]


def test_tier_is_added_replaced_and_deleted(cli, cli_json) -> None:
    cli("price", "set", "gemini", "--input", "1.25", "--output", "10")
    result = cli("price", "tier", "gemini", "--above", "200000", "--input", "2.5", "--output", "15")
    assert result.exit_code == 0, result.output
    assert "tiers above 200000" in result.stdout
    cli("price", "tier", "gemini", "--above", "200000", "--cached", "0.625")
    assert cli_json("price", "get", "gemini")["tiers"] == [{"above": 200000, "cached": "0.625"}]
    assert cli("price", "tier", "gemini", "--above", "200000", "--delete").exit_code == 0
    assert cli_json("price", "get", "gemini")["tiers"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--above", "5", "--delete", "--input", "1"), "--delete takes no prices"),
        (("--above", "5"), "price tier needs the prices it sets"),
        (("--above", "5", "--delete"), "no tier above 5"),
        (("--above", "-1", "--input", "1"), "threshold must not be negative"),
        (("--above", "5", "--cache-write", "x"), "--cache-write"),
    ],
)
def test_bad_tier_commands_are_one_line_errors(cli, args, message) -> None:
    cli("price", "set", "m", "--input", "1", "--output", "2")
    assert_one_line_error(cli("price", "tier", "m", *args), message)


def test_a_tier_of_an_unpriced_model_is_refused(cli) -> None:
    result = cli("price", "tier", "nope", "--above", "5", "--input", "1")
    assert_one_line_error(result, "set its input and output prices first")


def test_units_by_size_quality_and_tool(cli, cli_json) -> None:
    cli("price", "set", "dall-e-3", "--input", "0", "--output", "0")
    image = ("--per", "image", "--size", "1024x1024", "--quality", "standard", "--usd", "0.04")
    assert cli("price", "unit", "dall-e-3", *image).exit_code == 0
    search = ("--per", "call", "--tool", "web_search", "--usd", "10")
    result = cli("price", "unit", "dall-e-3", *search)
    assert result.exit_code == 0, result.output
    assert "per call web_search, image 1024x1024/standard" in result.stdout
    assert cli_json("price", "get", "dall-e-3")["units"] == [
        {"per": "call", "variant": "web_search", "usd": "10"},
        {"per": "image", "variant": "1024x1024/standard", "usd": "0.04"},
    ]
    shown = cli("price", "get", "dall-e-3").stdout
    assert "0.04 per image" in shown and "10 per 1,000 calls" in shown
    delete = ("--per", "image", "--size", "1024x1024", "--quality", "standard", "--delete")
    assert cli("price", "unit", "dall-e-3", *delete).exit_code == 0
    assert len(cli_json("price", "get", "dall-e-3")["units"]) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--per", "image", "--size", "1024x1024", "--usd", "1"), "needs its quality"),
        (("--per", "minute", "--tool", "x", "--usd", "1"), "takes no tool"),
        (("--per", "hour", "--usd", "1"), "unknown unit 'hour'"),
        (("--per", "minute"), "needs --usd"),
        (("--per", "minute", "--usd", "1", "--delete"), "--delete takes no --usd"),
        (("--per", "minute", "--delete"), "no price per minute"),
        (("--per", "minute", "--usd", "-2"), "--usd"),
    ],
)
def test_bad_unit_commands_are_one_line_errors(cli, args, message) -> None:
    cli("price", "set", "m", "--input", "1", "--output", "2")
    assert_one_line_error(cli("price", "unit", "m", *args), message)


def test_list_marks_kinds_reported_but_left_unpriced(cli, cli_json) -> None:
    cli("price", "set", "claude", "--input", "3", "--output", "15", "--cached", "0.3")
    key = ("--name", "a", "--key", "sk-ant-0001", "--models", "claude")
    assert cli("channel", "add", "--type", "anthropic", *key).exit_code == 0
    reported = CHANNEL_KINDS["anthropic"].reports
    assert {"cache_write", "cache_write_1h"} <= reported  # Anthropic reports its cache writes
    unpriced = Price("claude", 1, 1, cached=1).unpriced_kinds()
    expected = [kind for kind in unpriced if kind in reported]
    assert cli_json("price", "list")[0]["incomplete"] == expected
    header, row = (line.split("\t") for line in cli("price", "list").stdout.splitlines())
    assert row[header.index("incomplete")] == ",".join(expected)
    cli("price", "set", "claude", "--input", "3", "--output", "15", "--cached", "0.3",
        "--cache-write", "3.75", "--cache-write-1h", "6")  # fmt: skip
    left = [kind for kind in expected if kind not in ("cache_write", "cache_write_1h")]
    assert cli_json("price", "list")[0]["incomplete"] == left


def test_a_channels_cost_price_is_set_shown_and_deleted(cli, cli_json) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60")
    key = ("--name", "r", "--key", "sk-reseller-0001", "--models", "gpt-4")
    assert cli("channel", "add", "--type", "openai", *key).exit_code == 0
    result = cli("price", "set", "gpt-4", "--input", "9", "--output", "18", "--channel", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("channel 1's cost of gpt-4: input 9, output 18")
    tier = ("--above", "5", "--input", "20", "--channel", "1")
    assert cli("price", "tier", "gpt-4", *tier).exit_code == 0
    assert cli_json("price", "get", "gpt-4")["input"] == "30"
    cost = cli_json("price", "get", "gpt-4", "--channel", "1")
    assert (cost["input"], cost["tiers"]) == ("9", [{"above": 5, "input": "20"}])
    assert [p["model"] for p in cli_json("price", "list", "--channel", "1")] == ["gpt-4"]
    deleted = cli("price", "delete", "gpt-4", "--channel", "1")
    assert deleted.stdout == "deleted channel 1's cost price of gpt-4\n"
    assert cli_json("price", "list", "--channel", "1") == []
    assert cli_json("price", "get", "gpt-4")["input"] == "30"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set", "gpt-4", "--input", "1", "--output", "1", "--channel", "7"), "no channel"),
        (("set", "gpt-5", "--input", "1", "--output", "1", "--channel", "1"), "does not serve"),
        (("set", "gpt-4", "--alias", "x", "--channel", "1"), "--alias cannot be combined"),
        (("get", "gpt-4", "--channel", "1"), "channel 1 has no cost price"),
        (("delete", "gpt-4", "--channel", "1"), "channel 1 has no cost price"),
        (("list", "--channel", "7"), "no channel with id 7"),
    ],
)
def test_bad_channel_price_commands_are_one_line_errors(cli, args, message) -> None:
    key = ("--name", "r", "--key", "sk-reseller-0001", "--models", "gpt-4")
    assert cli("channel", "add", "--type", "openai", *key).exit_code == 0
    assert_one_line_error(cli("price", *args), message)
