"""`burncloud export`, `apply` and `diff` through the CLI: the round trip (export, apply
on an empty database, export again gives the same file) with plans, budgets and a channel
of several keys and every channel option, apply twice is a no-op, diff finds a CLI change
(a plan's budget, a user moved to another plan, a channel's cap or keys) and exits 1, and
0 again once the file is re-applied; a key's status is health, never drift."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from typer.testing import CliRunner, Result

from burncloud.cli.app import app
from tests.conftest import ON_POSTGRES, Invoke

SEED = (
    ("group", "set", "vip", "--ratio", "0.8"),
    ("price", "set", "gpt-4o", "--input", "2.5", "--output", "10", "--cached", "1.25"),
    ("price", "set", "sonnet", "--input", "3", "--output", "15", "--cache-write", "3.75"),
    ("price", "tier", "sonnet", "--above", "200000", "--input", "6", "--output", "22.5"),
    ("price", "unit", "sonnet", "--per", "call", "--tool", "web_search", "--usd", "10"),
    ("price", "set", "sonnet-latest", "--alias", "sonnet"),
    ("channel", "add", "--type", "openai", "--name", "openai-main", "--key", "sk-test-openai-1",
     "--models", "gpt-4o", "--group", "default,vip", "--weight", "3", "--priority", "2",
     "--map", "gpt-4o=gpt-4o-2024-08-06", "--cost-ratio", "0.8"),
    ("channel", "add", "--type", "anthropic", "--name", "claude", "--key", "sk-ant-test-2",
     "--models", "sonnet", "--config", "timeout_connect=4"),
    ("channel", "add", "--type", "bedrock", "--name", "bedrock-east", "--key",
     "AKIDEXAMPLE:secretexample", "--models", "sonnet", "--config", "region=us-east-1"),
    ("price", "set", "gpt-4o", "--channel", "1", "--input", "2", "--output", "8"),
    ("channel", "disable", "3"),
    ("channel", "add", "--type", "openai", "--name", "pool", "--key", "sk-pool-1", "--key",
     "sk-pool-2", "--key", "sk-pool-3", "--models", "gpt-4o", "--key-selection", "round-robin",
     "--tag", "team-a,batch", "--rpm", "100", "--max-concurrency", "8", "--auto-sync", "24h",
     "--balance-api", "openai-billing", "--balance-every", "30m", "--balance-alert-below", "5"),
    ("user", "add", "alice", "--group", "vip"),
    ("user", "update", "alice", "--rpm", "60"),
    ("quota", "add", "alice", "25", "--user"),
    ("token", "create", "--name", "laptop", "--user", "alice", "--quota", "10",
     "--models", "gpt-4o,sonnet", "--ips", "10.0.0.0/8", "--expires", "2031-01-31"),
    ("token", "create", "--name", "ci", "--user", "alice"),
    ("plan", "create", "pro", "--budget", "20/month", "--budget", "5/5h", "--model-budget",
     "gpt-4o=10/day", "--models", "gpt-4o,sonnet", "--rpm", "60", "--group", "vip"),
    ("plan", "create", "free", "--budget", "1/day"),
    ("plan", "default", "pro"),
    ("plan", "assign", "alice", "pro"),
    ("user", "update", "alice", "--budget", "2/week"),
    ("token", "update", "2", "--budget", "3/day", "--model-budget", "gpt-4o=1", "--per", "5h"),
    ("redeem", "create", "--quota", "5", "--count", "2"),
    ("invite", "reward", "--inviter", "1", "--invitee", "0.5"),
)  # fmt: skip


def seed(cli: Invoke) -> None:
    assert cli("init").exit_code == 0
    for args in SEED:
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)


@pytest.fixture
def other(tmp_path: Path) -> Iterator[Invoke]:
    """A CLI on a second, empty database of the same engine as ``cli``'s."""
    if ON_POSTGRES:
        from tests.gateway.quota_db import _drop_schema, _new_schema

        url, secret = asyncio.run(_new_schema()), "test-secret"
    else:
        url, secret = f"sqlite:///{tmp_path}/other.db", None
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        env = {"DATABASE_URL": url, "BURNCLOUD_SECRET": secret}
        return runner.invoke(app, list(args), env=env, input=input)

    try:
        yield invoke
    finally:
        if ON_POSTGRES:
            asyncio.run(_drop_schema(url))


@pytest.mark.parametrize("name", ["burncloud.yaml", "burncloud.json"])
def test_export_apply_on_an_empty_database_export_gives_the_same_file(
    cli: Invoke, other: Invoke, tmp_path: Path, name: str
) -> None:
    seed(cli)
    first = tmp_path / name
    result = cli("export", "-o", str(first), "--secrets", "plain", "--confirm-plain-secrets")
    assert result.exit_code == 0, result.output

    result = other("apply", "-f", str(first))
    assert result.exit_code == 0, result.output
    assert "+ channel openai-main" in result.stdout
    assert "+ user alice" in result.stdout
    assert "+ plan pro" in result.stdout

    second = tmp_path / f"again-{name}"
    result = other("export", "-o", str(second), "--secrets", "plain", "--confirm-plain-secrets")
    assert result.exit_code == 0, result.output
    assert second.read_text() == first.read_text()


def test_the_export_holds_every_part_of_the_configuration(cli: Invoke) -> None:
    seed(cli)
    result = cli("export", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "burncloud/1"
    assert data["groups"] == {"default": "1", "vip": "0.8"}
    channels = {channel["name"]: channel for channel in data["channels"]}
    assert "key" not in channels["openai-main"]  # omitted by default
    assert channels["openai-main"]["weight"] == 3
    assert channels["openai-main"]["model_map"] == {"gpt-4o": "gpt-4o-2024-08-06"}
    assert channels["bedrock-east"]["enabled"] is False
    assert channels["bedrock-east"]["config"]["region"] == "us-east-1"
    pool = channels["pool"]
    assert "key" not in pool and "keys" not in pool
    assert (pool["key_selection"], pool["tags"], pool["rpm"]) == (
        "round-robin",
        ["team-a", "batch"],
        100,
    )
    assert (pool["auto_sync"], pool["balance_every"], pool["balance_api"]) == (
        "1d",
        "30m",
        "openai-billing",
    )
    assert (pool["max_concurrency"], pool["balance_alert_below"]) == (8, "5")
    assert "tpm" not in pool and pool["overrides"] == {}
    assert data["prices"]["sonnet-latest"] == {"alias": "sonnet"}
    assert data["channel_prices"] == {"openai-main": {"gpt-4o": {"input": "2", "output": "8"}}}
    alice = next(user for user in data["users"] if user["name"] == "alice")
    assert (alice["group"], alice["balance"], alice["rpm"]) == ("vip", "25", 60)
    laptop = next(t for t in data["tokens"] if t["name"] == "laptop")
    assert laptop["quota"] == "10" and laptop["ips"] == ["10.0.0.0/8"]
    assert len(laptop["key_sha256"]) == 64
    assert len(data["redemptions"]) == 2
    assert data["settings"] == {"invite_reward_invitee": "0.5", "invite_reward_inviter": "1"}
    assert data["plans"] == [
        {"name": "free", "models": [], "budgets": ["1/day"], "default": False},
        {
            "name": "pro",
            "models": ["gpt-4o", "sonnet"],
            "rpm": 60,
            "group": "vip",
            "budgets": ["5/5h", "20/month", "gpt-4o=10/day"],
            "default": True,
        },
    ]
    assert (alice["plan"], alice["budgets"]) == ("pro", ["2/week"])
    assert laptop["budgets"] == ["3/day", "gpt-4o=1/5h"]


def test_secrets_env_writes_references_and_apply_reads_them(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(cli)
    path = tmp_path / "burncloud.yaml"
    result = cli("export", "-o", str(path), "--secrets", "env")
    assert result.exit_code == 0, result.output
    assert "BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY" in result.stderr
    channels = {c["name"]: c for c in yaml.safe_load(path.read_text())["channels"]}
    assert channels["openai-main"]["key"] == "${BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY}"

    result = cli("apply", "-f", str(path))  # the variables are not set
    assert result.exit_code == 1
    assert "BURNCLOUD_CHANNEL" in result.stderr and "is not set" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    monkeypatch.setenv("BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY", "sk-test-openai-1")
    monkeypatch.setenv("BURNCLOUD_CHANNEL_CLAUDE_KEY", "sk-ant-test-2")
    monkeypatch.setenv("BURNCLOUD_CHANNEL_BEDROCK_EAST_KEY", "AKIDEXAMPLE:other")
    # one variable holds a channel's keys, one per line, in any order
    monkeypatch.setenv("BURNCLOUD_CHANNEL_POOL_KEY", "sk-pool-3\nsk-pool-1\nsk-pool-2\n")
    result = cli("apply", "-f", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:-1] == ["~ channel bedrock-east: key: changed"]
    monkeypatch.setenv("BURNCLOUD_CHANNEL_POOL_KEY", "sk-pool-1\nsk-pool-4")
    result = cli("apply", "-f", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "~ channel pool: keys 3 -> 2 (1 added, 2 removed)" in result.stdout.splitlines()


def test_plain_secrets_need_the_confirmation_flag(cli: Invoke) -> None:
    seed(cli)
    result = cli("export", "--secrets", "plain")
    assert result.exit_code == 1
    assert "--confirm-plain-secrets" in result.stderr
    assert "sk-test-openai-1" not in result.stdout


def test_apply_twice_changes_nothing_and_says_so(cli: Invoke, tmp_path: Path) -> None:
    seed(cli)
    path = tmp_path / "burncloud.yaml"
    assert cli("export", "-o", str(path)).exit_code == 0
    data = yaml.safe_load(path.read_text())
    data["prices"]["gpt-4o"]["output"] = "12"
    data["channels"][0]["weight"] = 7
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    result = cli("apply", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert "~ price gpt-4o: output 10 -> 12" in result.stdout
    result = cli("apply", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"no changes: the database already matches {path}"


def test_diff_exits_1_after_a_cli_change_and_0_after_reapplying(
    cli: Invoke, tmp_path: Path
) -> None:
    seed(cli)
    path = tmp_path / "burncloud.yaml"
    assert cli("export", "-o", str(path)).exit_code == 0
    result = cli("diff", "-f", str(path))
    assert (result.exit_code, result.stdout.strip()) == (
        0,
        f"no drift: the database matches {path}",
    )

    assert cli("channel", "update", "1", "--weight", "9").exit_code == 0
    assert cli("token", "create", "--name", "extra", "--user", "alice").exit_code == 0
    result = cli("diff", "-f", str(path))
    assert result.exit_code == 1
    assert "~ channel openai-main: weight 9 -> 3" in result.stdout
    assert "- token alice/extra" in result.stdout

    result = cli("apply", "-f", str(path), "--prune")
    assert result.exit_code == 0, result.output
    assert cli("diff", "-f", str(path)).exit_code == 0


def test_a_bad_field_is_one_line_naming_its_path(cli: Invoke, tmp_path: Path) -> None:
    seed(cli)
    path = tmp_path / "burncloud.yaml"
    path.write_text(
        "format: burncloud/1\nchannels:\n  - name: x\n    type: openai\n    models: [a]\n"
        "    weight: heavy\n"
    )
    result = cli("apply", "-f", str(path))
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith(f"error: {path}: channels[0].weight:")


def test_diff_finds_a_changed_plan_budget_and_a_moved_user_and_apply_puts_them_back(
    cli: Invoke, tmp_path: Path
) -> None:
    seed(cli)
    path = tmp_path / "burncloud.yaml"
    assert cli("export", "-o", str(path)).exit_code == 0
    assert cli("plan", "update", "pro", "--budget", "30/month").exit_code == 0
    assert cli("plan", "assign", "alice", "free").exit_code == 0
    assert cli("plan", "create", "team").exit_code == 0
    result = cli("diff", "-f", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "~ plan pro: budgets 5/5h,30/month,gpt-4o=10/day -> 5/5h,20/month,gpt-4o=10/day",
        "~ user alice: plan free -> pro",
        "- plan team",
        f"3 changes between {path} and the database",
    ]
    result = cli("apply", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert "- plan team" not in result.stdout  # without --prune the extra plan stays
    result = cli("apply", "-f", str(path), "--prune")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["- plan team", "1 change (applied)"]
    assert cli("diff", "-f", str(path)).exit_code == 0
    shown = json.loads(cli("plan", "show", "pro", "--json").stdout)
    assert sorted(budget["amount"] for budget in shown["budgets"]) == ["10", "20", "5"]


def test_a_bad_budget_is_one_line_naming_its_path(cli: Invoke, tmp_path: Path) -> None:
    seed(cli)
    path = tmp_path / "burncloud.yaml"
    path.write_text(
        "format: burncloud/1\nplans:\n  - name: pro\n    budgets: [20/month, 5/fortnight]\n"
    )
    result = cli("apply", "-f", str(path))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: {path}: plans[0].budgets[1]: unknown budget period 'fortnight': use day,"
        " week, month or a number of hours such as 5h"
    )


def test_a_keys_status_is_not_drift_and_its_channels_options_and_keys_are(
    cli: Invoke, tmp_path: Path
) -> None:
    seed(cli)
    path = tmp_path / "burncloud.yaml"
    assert (
        cli("export", "-o", str(path), "--secrets", "plain", "--confirm-plain-secrets").exit_code
        == 0
    )
    keys = json.loads(cli("channel", "keys", "list", "4", "--json").stdout)
    assert cli("channel", "keys", "disable", "4", str(keys[1]["id"])).exit_code == 0
    assert cli("channel", "keys", "weight", "4", str(keys[2]["id"]), "5").exit_code == 0
    result = cli("diff", "-f", str(path))
    assert (result.exit_code, result.stdout.strip()) == (
        0,
        f"no drift: the database matches {path}",
    )

    assert cli("channel", "update", "4", "--rpm", "200", "--tag", "").exit_code == 0
    assert cli("channel", "keys", "add", "4", "sk-pool-4").exit_code == 0
    result = cli("diff", "-f", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:-1] == [
        "~ channel pool: tags - -> team-a,batch, rpm 200 -> 100, keys 4 -> 3 (1 removed)"
    ]
    assert cli("apply", "-f", str(path)).exit_code == 0
    assert cli("diff", "-f", str(path)).exit_code == 0
    listed = json.loads(cli("channel", "keys", "list", "4", "--json").stdout)
    assert sorted(key["key_hint"] for key in listed) == sorted(key["key_hint"] for key in keys)
