from __future__ import annotations


def test_invite_rewards_default_to_zero(cli_json, bootstrapped) -> None:
    assert cli_json("invite", "reward") == {"inviter": "0", "invitee": "0"}


def test_invite_reward_sets_only_the_given_rewards(cli, cli_json) -> None:
    assert cli("invite", "reward", "--inviter", "1.25").exit_code == 0
    assert cli_json("invite", "reward") == {"inviter": "1.25", "invitee": "0"}
    assert cli_json("invite", "reward", "--invitee", "0.5") == {"inviter": "1.25", "invitee": "0.5"}


def test_signing_up_with_an_invite_code_credits_both_rewards_exactly(cli, cli_json) -> None:
    cli_json("user", "add", "alice", "--balance", "2")
    cli("invite", "reward", "--inviter", "1.000000001", "--invitee", "0.25")
    code = cli_json("invite", "show", "alice")["invite_code"]
    bob = cli_json("user", "add", "bob", "--invite", code, "--balance", "1")
    assert bob["balance"] == "1.25"
    assert bob["inviter_id"] == cli_json("user", "show", "alice")["id"]
    assert cli_json("user", "show", "alice")["balance"] == "3.000000001"


def test_an_unknown_invite_code_exits_1_and_creates_nobody(cli, cli_json) -> None:
    cli("init")  # the first run announces the admin on stderr
    result = cli("user", "add", "bob", "--invite", "nope")
    assert result.exit_code == 1
    assert result.stderr == "error: unknown invite code\n"
    assert [u["name"] for u in cli_json("user", "list")] == ["admin"]


def test_invite_show_lists_the_inviter_and_invitees(cli, cli_json) -> None:
    code = cli_json("user", "add", "alice")["invite_code"]
    cli("user", "add", "bob", "--invite", code)
    alice = cli_json("invite", "show", "alice")
    assert (alice["user"], alice["invite_code"], alice["inviter"]) == ("alice", code, None)
    assert [entry["name"] for entry in alice["invited"]] == ["bob"]
    assert cli_json("invite", "show", "bob")["inviter"] == "alice"
    plain = cli("invite", "show", "alice")
    assert plain.exit_code == 0
    assert code in plain.stdout


def test_invite_reward_refuses_a_negative_amount(cli, cli_json) -> None:
    cli("init")  # the first run announces the admin on stderr
    result = cli("invite", "reward", "--inviter", "-1")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert cli_json("invite", "reward") == {"inviter": "0", "invitee": "0"}
