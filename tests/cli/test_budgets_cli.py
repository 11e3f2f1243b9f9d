"""`token update --budget`, `user update --budget`, where budgets show, and `burncloud plan`."""

from __future__ import annotations

import orjson
import pytest

from tests.cli.checks import fails_with_one_line

pytestmark = pytest.mark.usefixtures("bootstrapped")


def _token(cli, *args: str) -> str:
    result = cli("token", "create", "--name", "ci", "--user", "alice", "--json", *args)
    assert result.exit_code == 0, result.output
    return str(orjson.loads(result.stdout)["id"])


@pytest.fixture
def alice(cli) -> None:
    assert cli("user", "add", "alice").exit_code == 0


@pytest.mark.usefixtures("alice")
def test_budgets_are_set_per_period_and_model_and_shown(cli, cli_json) -> None:
    token = _token(cli)
    result = cli("token", "update", token, "--budget", "20", "--per", "month")
    assert result.exit_code == 0, result.output
    assert "monthly budget of 20 USD" in result.stdout
    result = cli("token", "update", token, "--budget", "5/5h", "--model-budget", "gpt-4o=2/day")
    assert result.exit_code == 0, result.output
    shown = cli_json("token", "show", token)["budgets"]
    assert sorted((b["period"], b["model"], b["amount"], b["used"]) for b in shown) == [
        ("5h", None, "5", "0"),
        ("day", "gpt-4o", "2", "0"),
        ("month", None, "20", "0"),
    ]
    text = cli("token", "show", token).stdout
    assert "monthly budget" in text and "0 of 20 USD used; resets" in text
    assert "5-hour budget" in text and "a window opens with the next request" in text
    assert "daily budget (gpt-4o)" in text
    quota = cli_json("quota", "show", token)
    assert [b["period"] for b in quota["budgets"]] == [b["period"] for b in shown]
    assert cli("token", "update", token, "--remove-budget", "gpt-4o=day").exit_code == 0
    assert cli("token", "update", token, "--budget", "30/month").exit_code == 0
    after = cli_json("token", "show", token)["budgets"]
    assert sorted((b["period"], b["amount"]) for b in after) == [("5h", "5"), ("month", "30")]


@pytest.mark.usefixtures("alice")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "3"], "has no period"),
        (["--budget", "3", "--per", "year"], "unknown budget period"),
        (["--per", "day"], "--per gives the period"),
        (["--model-budget", "3/day"], "names no model"),
        (["--remove-budget", "week"], "no weekly budget to remove"),
        (["--budget", "-1/day"], "must not be negative"),
        ([], "nothing to update"),
    ],
)
def test_budget_mistakes_are_one_line_errors(cli, args: list[str], message: str) -> None:
    token = _token(cli)
    fails_with_one_line(cli("token", "update", token, *args), message)


@pytest.mark.usefixtures("alice")
def test_a_users_budgets_and_plan_show_on_the_user_and_its_keys(cli, cli_json) -> None:
    token = _token(cli)
    assert cli("user", "update", "alice", "--budget", "5/day").exit_code == 0
    created = cli("plan", "create", "coding", "--budget", "20/month", "--budget", "5/5h",
                  "--models", "gpt-4o,o3", "--rpm", "60")  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "5/5h (5-hour), 20/month (monthly)" in created.stdout
    assert cli("plan", "assign", "alice", "coding").stdout.strip() == "user alice: plan coding"
    user = cli_json("user", "show", "alice")
    assert user["plan"] == "coding"
    assert sorted((b["scope"], b["period"]) for b in user["budgets"]) == [
        ("plan", "5h"),
        ("plan", "month"),
        ("user", "day"),
    ]
    token_budgets = cli_json("token", "show", token)["budgets"]
    assert len(token_budgets) == 3
    text = cli("quota", "show", "alice", "--user").stdout
    assert "plan monthly budget" in text and "user daily budget" in text


@pytest.mark.usefixtures("alice")
def test_plan_lifecycle(cli, cli_json) -> None:
    assert cli("plan", "create", "free", "--budget", "1/day").exit_code == 0
    assert cli("plan", "assign", "alice", "free").exit_code == 0
    listed = cli_json("plan", "list")
    assert [(p["name"], p["users"]) for p in listed] == [("free", 1)]
    updated = cli("plan", "update", "free", "--budget", "2/day", "--tpm", "1000", "--json")
    assert updated.exit_code == 0, updated.output
    plan = orjson.loads(updated.stdout)
    assert plan["tpm"] == 1000 and [b["amount"] for b in plan["budgets"]] == ["2"]
    assert cli("plan", "default", "free").stdout.strip() == "default plan: free"
    assert cli("plan", "default").stdout.strip() == "default plan: free"
    assert cli("plan", "update", "free", "--name", "starter").exit_code == 0
    assert cli("plan", "default").stdout.strip() == "default plan: starter"
    assert cli_json("user", "show", "alice")["plan"] == "starter"
    assert cli("plan", "update", "starter", "--name", "free").exit_code == 0
    assert cli_json("plan", "show", "free")["name"] == "free"
    deleted = cli("plan", "delete", "free")
    assert deleted.stdout.strip() == "deleted plan free (1 user moved off it)"
    assert cli("plan", "default").stdout.strip() == "default plan: none"
    assert cli_json("user", "show", "alice")["plan"] is None
    fails_with_one_line(cli("plan", "show", "free"), "no plan 'free'")
    fails_with_one_line(cli("plan", "update", "free"), "nothing to update")
    fails_with_one_line(cli("plan", "create", "x", "--group", "nope"), "unknown group")
    fails_with_one_line(cli("plan", "assign", "nobody", "x"), "no user 'nobody'")


def test_new_users_get_the_default_plan_from_the_database_or_the_environment(
    cli, cli_json, db_url
) -> None:
    assert cli("plan", "create", "starter", "--budget", "1/day").exit_code == 0
    assert cli_json("user", "add", "ann")["plan"] is None
    runner_env = {"BURNCLOUD_DEFAULT_PLAN": "starter"}
    from typer.testing import CliRunner

    from burncloud.cli.app import app

    secret = None if db_url.startswith("sqlite") else "test-secret"
    env = {"DATABASE_URL": db_url, "BURNCLOUD_SECRET": secret, **runner_env}
    by_env = CliRunner().invoke(app, ["user", "add", "ben", "--json"], env=env)
    assert orjson.loads(by_env.stdout)["plan"] == "starter"
    assert cli("plan", "create", "pro").exit_code == 0
    assert cli("plan", "default", "pro").exit_code == 0  # the database's wins over the env
    by_setting = CliRunner().invoke(app, ["user", "add", "cat", "--json"], env=env)
    assert orjson.loads(by_setting.stdout)["plan"] == "pro"
    invited = cli_json(
        "user", "add", "dan", "--invite", cli_json("user", "show", "ann")["invite_code"]
    )
    assert invited["plan"] == "pro"
    gone = CliRunner().invoke(
        app, ["user", "add", "eve"], env={**env, "BURNCLOUD_DEFAULT_PLAN": "nope"}
    )
    assert gone.exit_code == 0  # the database's default still wins
    assert cli("plan", "default", "none").exit_code == 0
    fails_with_one_line(
        CliRunner().invoke(
            app, ["user", "add", "fay"], env={**env, "BURNCLOUD_DEFAULT_PLAN": "nope"}
        ),
        "the default plan 'nope' does not exist",
    )


@pytest.mark.usefixtures("alice")
def test_deleting_a_token_removes_its_budgets(cli, cli_json) -> None:
    token = _token(cli)
    assert cli("token", "update", token, "--budget", "1/day").exit_code == 0
    assert cli("token", "delete", token).exit_code == 0
    changes = cli_json("audit", "list", "--object", "budget")
    assert sorted(c["action"] for c in changes) == ["create", "delete"]


def test_a_group_a_plan_uses_cannot_be_deleted(cli) -> None:
    assert cli("group", "set", "pro", "--ratio", "2").exit_code == 0
    assert cli("plan", "create", "coding", "--group", "pro").exit_code == 0
    fails_with_one_line(cli("group", "delete", "pro"), "still the group of plan(s) coding")
