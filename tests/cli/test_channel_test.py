from __future__ import annotations

import re
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing

import orjson
import pytest

from burncloud.db.url import parse_database_url
from tests.cli.checks import fails_with_one_line
from tests.fakes.openai_upstream import FakeOpenAI, running_fake_openai

WRONG_KEY = "sk-wrong-Zq7DistinctivePlaintextKey-8842"
MS = r"\d+ ms"
LIST_HEADER = [
    "ID",
    "Name",
    "Type",
    "Status",
    "Models",
    "Groups",
    "Priority",
    "Weight",
    "Cost ratio",
    "Key",
    "Base URL",
    "Latency",
    "Success",
    "Spend (USD)",
    "Balance",
]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with running_fake_openai() as server:
        yield server


@pytest.fixture(autouse=True)
def primed(bootstrapped: None) -> None:
    """The first-run admin key banner is out of the way of stderr checks."""


def add(cli, name: str, base_url: str, key: str = "sk-canary-upstream", *extra: str) -> str:
    result = cli(
        "channel", "add", "--type", "openai", "--name", name, "--key", key,
        "--models", "gpt-4o-mini", "--base-url", base_url, *extra, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return str(orjson.loads(result.stdout)["id"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listed(cli) -> dict[str, dict[str, str]]:
    """`channel list` as {id: {header: cell}} (tab-separated, as when piped)."""
    header, *rows = cli("channel", "list").stdout.splitlines()
    assert header.split("\t") == LIST_HEADER
    return {
        row.split("\t")[0]: dict(zip(LIST_HEADER, row.split("\t"), strict=True)) for row in rows
    }


def test_ok_prints_one_line_and_exits_0(cli, fake: FakeOpenAI) -> None:
    channel_id = add(cli, "openai-main", fake.base_url)
    result = cli("channel", "test", channel_id)
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf'channel 1 "openai-main": ok 200 in {MS} \(gpt-4o-mini\)\n', result.stdout
    )
    assert fake.last_request.json["max_tokens"] == 1


def test_failure_prints_the_reason_and_exits_1(cli, fake: FakeOpenAI) -> None:
    channel_id = add(cli, "bad", fake.base_url, WRONG_KEY)
    result = cli("channel", "test", channel_id)
    assert result.exit_code == 1
    assert re.fullmatch(
        rf"channel 1 \"bad\": failed 401 in {MS}: "
        r"the upstream refused this channel's credentials \(HTTP 401\)\n",
        result.stdout,
    )
    assert WRONG_KEY[-8:] not in result.output


def test_unreachable_has_no_status_code(cli) -> None:
    channel_id = add(cli, "gone", f"http://127.0.0.1:{closed_port()}/v1")
    result = cli("channel", "test", channel_id)
    assert result.exit_code == 1
    assert re.fullmatch(
        rf'channel 1 "gone": failed in {MS}: the upstream is unreachable \(could not connect\)\n',
        result.stdout,
    )


def test_model_option_and_map_show_in_the_line(cli, fake: FakeOpenAI) -> None:
    channel_id = add(cli, "main", fake.base_url, "sk-canary-upstream", "--models", "fast",
                     "--map", "fast=gpt-4")  # fmt: skip
    result = cli("channel", "test", channel_id, "--model", "fast")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(" (fast -> gpt-4)\n")
    assert fake.last_request.json["model"] == "gpt-4"


def test_json_is_the_result_record(cli, fake: FakeOpenAI) -> None:
    channel_id = add(cli, "bad", fake.base_url, WRONG_KEY)
    result = cli("channel", "test", channel_id, "--json")
    assert result.exit_code == 1
    data = orjson.loads(result.stdout)
    assert isinstance(data["latency_ms"], int)
    assert data == {
        "channel_id": 1,
        "name": "bad",
        "type": "openai",
        "model": "gpt-4o-mini",
        "upstream_model": "gpt-4o-mini",
        "ok": False,
        "status": 401,
        "latency_ms": data["latency_ms"],
        "error": "the upstream refused this channel's credentials (HTTP 401)",
    }


def test_all_prints_a_table_and_exits_1_when_one_failed(cli, fake: FakeOpenAI) -> None:
    add(cli, "good", fake.base_url)
    add(cli, "bad", fake.base_url, WRONG_KEY)
    result = cli("channel", "test", "--all")
    assert result.exit_code == 1
    header, *rows = result.stdout.splitlines()
    assert header.split("\t") == [
        "ID", "Name", "Type", "Model", "Result", "Status", "Latency", "Error"
    ]  # fmt: skip
    cells = [row.split("\t") for row in rows]
    assert [c[:6] + c[7:] for c in cells] == [
        ["1", "good", "openai", "gpt-4o-mini", "ok", "200", ""],
        ["2", "bad", "openai", "gpt-4o-mini", "failed", "401",
         "the upstream refused this channel's credentials (HTTP 401)"],
    ]  # fmt: skip
    assert all(re.fullmatch(MS, c[6]) for c in cells)


def test_all_exits_0_when_every_channel_answered(cli, cli_json, fake: FakeOpenAI) -> None:
    add(cli, "one", fake.base_url)
    add(cli, "two", fake.base_url)
    result = cli("channel", "test", "--all", "--json")
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    assert [(r["channel_id"], r["ok"], r["status"]) for r in data] == [
        (1, True, 200),
        (2, True, 200),
    ]
    assert fake.request_count == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give a channel ID or --all (not both)"),
        (("1", "--all"), "give a channel ID or --all (not both)"),
        (("--all", "--model", "gpt-4"), "--model needs a channel ID"),
        (("9",), "no channel with id 9"),
    ],
)
def test_bad_arguments_are_one_line_errors(cli, args: tuple[str, ...], message: str) -> None:
    fails_with_one_line(cli("channel", "test", *args), message)


def test_help_documents_the_exit_code(cli) -> None:
    result = cli("channel", "test", "--help")
    assert result.exit_code == 0
    assert "Exit code 0 when every tested channel answered, 1 otherwise" in result.stdout


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_list_shows_latency_success_rate_and_spend_after_tests(
    cli, cli_json, db_url: str, fake: FakeOpenAI
) -> None:
    good = add(cli, "good", fake.base_url)
    bad = add(cli, "bad", fake.base_url, WRONG_KEY)
    untested = add(cli, "untested", fake.base_url)
    assert cli("channel", "test", good).exit_code == 0
    assert cli("channel", "test", bad).exit_code == 1
    with closing(sqlite3.connect(parse_database_url(db_url).sqlite_path)) as conn, conn:
        conn.execute("UPDATE channels SET used = 1500000000 WHERE id = 1")
    table = listed(cli)
    assert [table[i]["Success"] for i in (good, bad, untested)] == ["100%", "0%", "-"]
    assert [table[i]["Spend (USD)"] for i in (good, bad, untested)] == ["1.5", "0", "0"]
    assert re.fullmatch(MS, table[good]["Latency"]) and table[untested]["Latency"] == "-"
    assert table[bad]["Status"] == "enabled"
    shown = cli_json("channel", "list")
    assert [(c["success_count"], c["failure_count"], c["used"]) for c in shown] == [
        (1, 0, "1.5"),
        (0, 1, "0"),
        (0, 0, "0"),
    ]
    assert isinstance(shown[0]["latency_ms"], int) and shown[2]["latency_ms"] is None


@pytest.mark.sqlite_only  # reads the SQLite file directly
def test_success_rate_rounds_down_and_reason_is_truncated(cli, db_url: str) -> None:
    channel_id = add(cli, "flaky", "http://127.0.0.1:9/v1")
    reason = "upstream kept answering 503 during the whole evening rush hour"
    assert cli("channel", "disable", channel_id, "--reason", reason).exit_code == 0
    with closing(sqlite3.connect(parse_database_url(db_url).sqlite_path)) as conn, conn:
        conn.execute("UPDATE channels SET success_count = 999, failure_count = 1")
    row = listed(cli)[channel_id]
    assert row["Success"] == "99.9%"
    assert row["Status"] == "disabled (upstream kept answering 503 during th...)"


def test_show_includes_the_test_numbers(cli, fake: FakeOpenAI) -> None:
    channel_id = add(cli, "good", fake.base_url)
    assert cli("channel", "test", channel_id).exit_code == 0
    output = cli("channel", "show", channel_id).stdout
    parts = (line.partition(" ") for line in output.splitlines())
    lines = {key: value.strip() for key, _, value in parts}
    assert (lines["success_count"], lines["failure_count"], lines["success_rate"]) == (
        "1",
        "0",
        "100%",
    )
    assert lines["latency_ms"].isdigit() and lines["tested_at"].isdigit()
