"""`burncloud price export` and `price import`: the catalog file, its diff, and one-line
errors that apply nothing."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests.cli.test_prices import assert_one_line_error

LITELLM = (
    Path(__file__).resolve().parents[1] / "fixtures/litellm/model_prices_and_context_window.json"
)


@pytest.fixture
def cli(cli):
    """The CLI on a database with a few prices, an alias, a channel and its cost price."""
    assert cli("init").exit_code == 0
    for args in (
        ("price", "set", "sonnet", "--input", "3", "--output", "15", "--cache-write", "3.75"),
        ("price", "tier", "sonnet", "--above", "200000", "--input", "6", "--output", "22.5"),
        ("price", "unit", "sonnet", "--per", "call", "--tool", "web_search", "--usd", "10"),
        ("price", "set", "sonnet-latest", "--alias", "sonnet"),
        ("price", "set", "gpt-4o", "--input", "2.5", "--output", "10", "--cached", "1.25"),
        ("channel", "add", "--type", "openai", "--name", "resell", "--key", "sk-test-00001",
         "--models", "gpt-4o"),
        ("price", "set", "gpt-4o", "--channel", "1", "--input", "0.75", "--output", "3"),
    ):  # fmt: skip
        result = cli(*args)
        assert result.exit_code == 0, result.output
    return cli


def test_export_writes_every_price_tier_unit_alias_and_channel_price(cli) -> None:
    result = cli("price", "export", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "format": "burncloud-prices/1",
        "prices": {
            "gpt-4o": {"input": "2.5", "output": "10", "cached": "1.25"},
            "sonnet": {
                "input": "3",
                "output": "15",
                "cache_write": "3.75",
                "tiers": [{"above": 200000, "input": "6", "output": "22.5"}],
                "units": [{"per": "call", "variant": "web_search", "usd": "10"}],
            },
            "sonnet-latest": {"alias": "sonnet"},
        },
        "channels": {"resell": {"gpt-4o": {"input": "0.75", "output": "3"}}},
    }


@pytest.mark.parametrize("name", ["prices.yaml", "prices.json", "prices.txt"])
def test_export_then_import_is_a_no_op(cli, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    exported = cli("price", "export", "-o", str(path))
    assert exported.exit_code == 0, exported.output
    assert exported.stdout == f"wrote 2 prices, 1 aliases and 1 channel cost prices to {path}\n"
    first = path.read_text()
    assert first.startswith("{") == name.endswith(".json")  # the extension picks the format
    dry = cli("price", "import", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout == "no changes\n"
    assert cli("price", "import", str(path), "--prune").stdout == "no changes\n"
    cli("price", "export", "-o", str(path))
    assert path.read_text() == first  # stable


def test_import_prints_the_diff_and_applies_it(cli, cli_json, tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    path.write_text(
        "prices:\n"
        "  sonnet: {input: 3, output: 15, cache_write: 3.75, cache_write_1h: 6}\n"
        "  haiku: {input: 1, output: 5}\n"
        "channels:\n"
        "  '#1': {gpt-4o: {input: 0.5, output: 2}}\n"
    )
    dry = cli("price", "import", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        "+ haiku: input 1, output 5",
        "~ sonnet: cache_write_1h - -> 6, above 200000 input 6 -> -,"
        " above 200000 output 22.5 -> -, unit call web_search 10 -> -",
        "~ gpt-4o (channel resell): input 0.75 -> 0.5, output 3 -> 2",
        "1 added, 2 changed, 0 removed; 2 stored prices not in the file kept"
        " (--prune deletes them) (dry run, nothing applied)",
    ]
    assert "haiku" not in [p["model"] for p in cli_json("price", "list")]
    applied = cli("price", "import", str(path))
    assert applied.exit_code == 0, applied.output
    assert applied.stdout.splitlines()[-1].endswith("(applied)")
    assert cli_json("price", "get", "sonnet")["tiers"] == []
    assert cli_json("price", "get", "haiku")["input"] == "1"
    pruned = cli("price", "import", str(path), "--prune")
    assert pruned.stdout.splitlines() == [
        "- gpt-4o",
        "- sonnet-latest",
        "0 added, 0 changed, 2 removed (applied)",
    ]


NEW = '"new": {"input": "1", "output": "1"}'  # a good entry beside the bad one


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('{"prices": {NEW, "m": {"input": "1"}}}', ["prices.m: output is required"]),
        ('{"prices": {NEW, "m": {"input": 1, "output": 2, "cahced": 1}}}', ["'cahced'"]),
        ('{"prices": {NEW, "m": {"input": 0.1, "output": ', ["not valid JSON"]),
        ('{"gpt-4o": {"input_cost_per_token": 1e-6}}', ["use --format litellm"]),
        ('{"prices": {NEW}, "channels": {"nope": {}}}', ["no channel 'nope'"]),
        ('{"prices": {NEW, "x": {"alias": "missing"}}}', ["'missing' has no price"]),
    ],
)
def test_a_malformed_file_is_one_line_and_applies_nothing(
    cli, cli_json, tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text.replace("NEW", NEW))
    before = cli_json("price", "list")
    assert_one_line_error(cli("price", "import", str(path)), *fragments)
    assert cli_json("price", "list") == before


def test_an_unreadable_file_or_a_bad_option_is_one_line(cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("price", "import", str(tmp_path / "nope.yaml")), "cannot read")
    binary = tmp_path / "x.yaml"
    binary.write_bytes(b"\xff\xfe")
    assert_one_line_error(cli("price", "import", str(binary)), "not UTF-8")
    assert_one_line_error(cli("price", "export", "--format", "xml"), "--format must be one of")
    catalog = tmp_path / "prices.yaml"
    catalog.write_text("prices: {}\n")
    assert_one_line_error(
        cli("price", "import", str(catalog), "--only", "gpt-4o"), "only selects models"
    )


def test_import_of_litellms_file_reports_what_it_left(cli, cli_json) -> None:
    result = cli(
        "price", "import", str(LITELLM), "--format", "litellm", "--only",
        "claude-sonnet-4-5,bedrock/claude-fable-latest",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report, *diff, summary = result.stdout.splitlines()
    assert report.startswith("LiteLLM: 2 prices, 1 aliases; ignored 4 unknown fields: ")
    assert diff[0] == "+ bedrock/claude-fable-latest: alias global.anthropic.claude-fable-5-1"
    assert summary.startswith("3 added, 0 changed, 0 removed;")
    sonnet = cli_json("price", "get", "claude-sonnet-4-5")
    assert (sonnet["cache_write"], sonnet["cache_write_1h"]) == ("3.75", "6")
    assert cli_json("price", "get", "bedrock/claude-fable-latest")["input"] == "10"
    assert_one_line_error(
        cli("price", "import", str(LITELLM), "--format", "litellm", "--only", "nope"),
        "not in the LiteLLM file: nope",
    )


def test_a_litellm_import_without_only_takes_every_priced_entry(cli) -> None:
    result = cli("price", "import", str(LITELLM), "--format", "litellm", "--dry-run")
    assert result.exit_code == 0, result.output
    entries = orjson.loads(LITELLM.read_bytes())
    assert result.stdout.count("\n+ ") == len(entries) - 2 - 1  # sample_spec, skipped; gpt-4o
    assert "skipped 1 entries without a price burncloud bills" in result.stdout
