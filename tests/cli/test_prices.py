from __future__ import annotations

import orjson
import pytest


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
        {"model": "gpt-4", "input": "30", "output": "60", "cached": None, "alias": None},
        {"model": "mini", "input": "0.15", "output": "0.6", "cached": "0.075", "alias": None},
    ]


def test_list_table_shows_every_column(cli) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60", "--cached", "15")
    result = cli("price", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["model", "input", "output", "cached", "alias"]
    assert lines[1].split("\t") == ["gpt-4", "30", "60", "15", ""]


def test_alias_lists_with_resolved_amounts_and_its_target(cli, cli_json) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60")
    result = cli("price", "set", "gpt-4-turbo", "--alias", "gpt-4")
    assert result.exit_code == 0, result.output
    assert "alias of gpt-4" in result.stdout
    assert cli_json("price", "get", "gpt-4-turbo") == {
        "model": "gpt-4-turbo",
        "input": "30",
        "output": "60",
        "cached": None,
        "alias": "gpt-4",
    }


def test_get_prints_one_record(cli) -> None:
    cli("price", "set", "gpt-4", "--input", "30", "--output", "60")
    result = cli("price", "get", "gpt-4")
    assert result.exit_code == 0
    assert "input   30" in result.stdout


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
