from __future__ import annotations

import orjson
import pytest

from tests.cli.checks import fails_with_one_line


def _token(cli, *args: str) -> str:
    result = cli("token", "create", "--name", "ci", "--json", *args)
    assert result.exit_code == 0, result.output
    return str(orjson.loads(result.stdout)["id"])


pytestmark = pytest.mark.usefixtures("bootstrapped")


def test_show_add_and_set_a_token_quota(cli, cli_json) -> None:
    token = _token(cli, "--quota", "5")
    assert cli_json("quota", "show", token) == {
        "id": int(token),
        "name": "ci",
        "quota": "5",
        "held_by_routers": "0",
        "used": "0",
        "spend_per_hour": "0",  # no spend yet: no forecast (tests/cli/test_forecast_cli.py)
        "runs_out_in": None,
    }
    assert cli_json("quota", "add", token, "0.015")["quota"] == "5.015"
    assert cli_json("quota", "set", token, "2")["quota"] == "2"
    assert cli_json("token", "show", token)["quota"] == "2"


def test_negative_amounts_work_as_positionals(cli, cli_json) -> None:
    token = _token(cli, "--quota", "1")
    assert cli("quota", "add", token, "-0.5").exit_code == 0
    assert cli_json("quota", "show", token)["quota"] == "0.5"
    assert cli("quota", "set", token, "-1").exit_code == 0
    assert cli_json("quota", "show", token)["quota"] == "-1"
    assert "unlimited" in cli("quota", "show", token).stdout


def test_going_below_zero_is_refused_and_changes_nothing(cli, cli_json) -> None:
    token = _token(cli, "--quota", "0.25")
    fails_with_one_line(cli("quota", "add", token, "-0.5"), "would go below zero")
    assert cli_json("quota", "show", token)["quota"] == "0.25"


def test_adding_to_an_unlimited_token_is_refused(cli) -> None:
    token = _token(cli)
    fails_with_one_line(cli("quota", "add", token, "5"), "unlimited")


def test_set_refuses_negative_amounts_other_than_minus_one(cli) -> None:
    token = _token(cli, "--quota", "1")
    fails_with_one_line(cli("quota", "set", token, "-2"), "negative")


def test_amounts_with_more_than_nine_decimals_are_refused(cli) -> None:
    token = _token(cli, "--quota", "1")
    fails_with_one_line(cli("quota", "add", token, "0.0000000001"), "9 decimal places")


def test_unknown_options_are_still_refused(cli) -> None:
    token = _token(cli, "--quota", "1")
    fails_with_one_line(cli("quota", "add", token, "--bogus"), "--bogus")


def test_unknown_tokenfails_with_one_line(cli) -> None:
    for args in (("show", "404"), ("add", "404", "1"), ("set", "404", "-1")):
        fails_with_one_line(cli("quota", *args), "no token with id 404")


def test_a_name_without_user_flag_is_refused(cli) -> None:
    fails_with_one_line(cli("quota", "show", "alice"), "--user")


def test_user_balance_show_add_and_set_by_name(cli, cli_json) -> None:
    assert cli("user", "add", "alice").exit_code == 0
    assert cli_json("quota", "show", "--user", "alice")["balance"] == "0"
    assert cli("quota", "add", "--user", "alice", "5").exit_code == 0
    assert cli_json("quota", "add", "--user", "alice", "-0.5")["balance"] == "4.5"
    fails_with_one_line(cli("quota", "add", "--user", "alice", "-5"), "below zero")
    assert cli("quota", "set", "--user", "alice", "-1").exit_code == 0
    shown = cli_json("quota", "show", "--user", "alice")
    assert shown["balance"] == "-1" and shown["name"] == "alice"


def test_user_flag_accepts_an_id_and_refuses_unknown_users(cli, cli_json) -> None:
    assert cli_json("quota", "show", "--user", "1")["name"] == "admin"
    fails_with_one_line(cli("quota", "show", "--user", "ghost"), "ghost")
    fails_with_one_line(cli("quota", "add", "--user", "1", "2"), "unlimited")
