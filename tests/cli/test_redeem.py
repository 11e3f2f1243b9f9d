from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_redeem_create_prints_codes_once_and_list_shows_only_hints(cli, cli_json) -> None:
    created = cli_json("redeem", "create", "--quota", "2.5", "--count", "3")
    assert created["quota"] == "2.5"
    assert len(set(created["codes"])) == 3
    listed = cli_json("redeem", "list")
    assert [(r["quota"], r["status"]) for r in listed] == [("2.5", "unused")] * 3
    table = cli("redeem", "list").stdout
    for code in created["codes"]:
        assert code not in str(listed)
        assert code not in table


def test_redeem_create_without_json_prints_one_code_a_line(cli) -> None:
    result = cli("redeem", "create", "--quota", "1", "--count", "2")
    assert result.exit_code == 0
    codes = result.stdout.split()
    assert len(codes) == 2
    assert all(len(code) == 32 and code.isalnum() for code in codes)


def test_redeem_use_credits_the_user_and_a_second_use_fails(cli, cli_json) -> None:
    cli_json("user", "add", "alice", "--balance", "1")
    [code] = cli_json("redeem", "create", "--quota", "2.5")["codes"]
    used = cli("redeem", "use", code, "--user", "alice")
    assert used.exit_code == 0, used.output
    assert "Credited 2.5 USD to alice; balance now 3.5 USD." in used.stdout
    again = cli("redeem", "use", code, "--user", "alice")
    assert again.exit_code == 1
    assert again.stderr == "error: this redemption code has already been used\n"
    assert cli_json("user", "show", "alice")["balance"] == "3.5"
    assert [r["status"] for r in cli_json("redeem", "list", "--status", "used")] == ["used"]


def test_redeem_use_for_an_unlimited_user_says_the_balance_is_unchanged(cli, cli_json) -> None:
    [code] = cli_json("redeem", "create", "--quota", "1")["codes"]
    result = cli_json("redeem", "use", code, "--user", "admin")
    assert result == {"user": "admin", "credited": "1", "balance": "-1"}


def test_redeem_use_of_an_unknown_code_exits_1_with_one_line(cli) -> None:
    cli("init")  # the first run announces the admin on stderr
    result = cli("redeem", "use", "nope", "--user", "admin")
    assert result.exit_code == 1
    assert result.stderr == "error: unknown redemption code\n"


def test_redeem_create_refuses_a_bad_quota(cli) -> None:
    cli("init")
    for quota in ("0", "-1", "abc"):
        result = cli("redeem", "create", "--quota", quota)
        assert result.exit_code == 1, quota
        assert result.stderr.count("\n") == 1, quota


@pytest.mark.slow
def test_two_processes_redeeming_one_code_succeed_once(cli_json, db_url) -> None:
    cli_json("user", "add", "alice")
    [code] = cli_json("redeem", "create", "--quota", "4")["codes"]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BURNCLOUD_SECRET")}
    command = [sys.executable, "-m", "burncloud", "redeem", "use", code, "--user", "alice"]
    procs = [
        subprocess.Popen(
            [*command, "--db", db_url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    outcomes = sorted(zip((p.returncode for p in procs), errors, strict=True))
    assert [rc for rc, _ in outcomes] == [0, 1]
    assert outcomes[1][1] == "error: this redemption code has already been used\n"
    assert cli_json("user", "show", "alice")["balance"] == "4"
