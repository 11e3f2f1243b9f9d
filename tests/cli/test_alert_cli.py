"""`burncloud alert add|list|test|log|delete`: secrets shown once or never, a test sent
through the outbox, and one-line errors."""

from __future__ import annotations

import time

import orjson

from burncloud.services.alerts.signing import verify
from tests.cli.checks import fails_with_one_line
from tests.conftest import Invoke
from tests.services.alerts.receiver import receiver_thread

GIVEN_SECRET = "my-own-signing-secret-1234"


def test_add_list_test_log_and_delete(cli: Invoke, bootstrapped: None) -> None:
    with receiver_thread() as receiver:
        added = cli(
            "alert", "add", "--url", receiver.url, "--on", "budget,fleet", "--threshold", "80,100"
        )
        assert added.exit_code == 0, added.output
        origin = receiver.url.removesuffix("/hook")
        line, secret = added.stdout.splitlines()
        assert line == f"Added alert 1: budget, fleet -> {origin}/... (json)"
        assert secret.startswith("whsec_")
        assert added.stderr == "Its signing secret (X-Burncloud-Signature) is shown only now:\n"
        listed = cli("alert", "list")
        assert listed.stdout.splitlines() == [
            "id\tformat\turl\tevents\tthresholds\tsigned\tcreated",
            f"1\tjson\t{origin}/...\tbudget,fleet\t80,100\tyes\t"
            + listed.stdout.splitlines()[1].rsplit("\t", 1)[1],
        ]
        tested = cli("alert", "test", "1")
        assert tested.exit_code == 0, tested.output
        assert tested.stdout == "Delivered test event 1 to alert 1: HTTP 200.\n"
        [sent] = receiver.received
        assert verify(secret, sent.headers["X-Burncloud-Signature"], sent.body, int(time.time()))
        assert sent.json()["event"] == "test" and sent.json()["data"] == {"alert_id": 1}
    log = cli("alert", "log", "--json")
    assert log.exit_code == 0, log.output
    [entry] = orjson.loads(log.stdout)
    assert (entry["event"], entry["alert_id"], entry["status"], entry["attempts"]) == (
        "test",
        1,
        "delivered",
        1,
    )
    for output in (listed.stdout, log.stdout, cli("alert", "list", "--json").stdout):
        assert secret not in output
    assert cli("alert", "delete", "1").stdout == "Deleted alert 1.\n"
    fails_with_one_line(cli("alert", "delete", "1"), "no alert with id 1")
    fails_with_one_line(cli("alert", "test", "1"), "no alert with id 1")


def test_a_given_secret_is_read_from_stdin_and_never_printed(
    cli: Invoke, bootstrapped: None
) -> None:
    added = cli(
        "alert", "add", "--url", "https://hooks.slack.com/services/T1/B2/XYZsecretpath",
        "--format", "slack", "--on", "channel-disabled,channel-enabled", "--secret", "-",
        input=GIVEN_SECRET + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.stdout == (
        "Added alert 1: channel-disabled, channel-enabled -> https://hooks.slack.com/... (slack)\n"
    )
    listed = cli("alert", "list", "--json")
    [hook] = orjson.loads(listed.stdout)
    assert (hook["signed"], hook["url"], hook["thresholds"]) == (
        True,
        "https://hooks.slack.com/...",
        None,
    )
    assert GIVEN_SECRET not in added.output + listed.output
    assert "XYZsecretpath" not in added.output + listed.output


def test_a_failed_test_stays_in_the_outbox_for_the_routers(cli: Invoke, bootstrapped: None) -> None:
    with receiver_thread(fail_first=1) as receiver:
        assert (
            cli(
                "alert", "add", "--url", receiver.url, "--on", "fleet", "--format", "discord"
            ).exit_code
            == 0
        )
        failed = cli("alert", "test", "1")
    fails_with_one_line(
        failed,
        "alert 1: the test delivery failed (HTTP 500: nope); it stays pending: see"
        " `burncloud alert log`",
    )
    log = cli("alert", "log")
    header, row = log.stdout.splitlines()
    assert header == "id\ttime\tevent\talert\tstatus\tattempts\tresult\ttext"
    cells = row.split("\t")
    assert cells[2:4] == ["test", "1"] and cells[4].startswith("pending (next ")
    assert cells[5:7] == ["1", "HTTP 500: nope"]
    assert cli("alert", "log", "--failed").stdout == header + "\n"


def test_wrong_alerts_are_refused_in_one_line(cli: Invoke, bootstrapped: None) -> None:
    fails_with_one_line(
        cli("alert", "add", "--url", "http://127.0.0.1:9/", "--on", "weather"),
        "unknown event 'weather'",
    )
    fails_with_one_line(
        cli("alert", "add", "--url", "http://169.254.169.254/latest", "--on", "fleet"),
        "webhook URL host 169.254.169.254 is a link-local",
    )
    fails_with_one_line(
        cli("alert", "add", "--url", "https://api.telegram.org/bot1:x/sendMessage", "--on", "fleet",
            "--format", "telegram"),
        "a telegram alert needs a chat id",
    )  # fmt: skip
    fails_with_one_line(
        cli("alert", "add", "--url", "http://127.0.0.1:9/", "--on", "fleet", "--secret", "short"),
        "at least 16 characters",
    )
    assert cli("alert", "list").stdout.splitlines()[1:] == []
