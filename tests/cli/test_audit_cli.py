"""The audit trail through the CLI, on SQLite and PostgreSQL.

Every command of the CLI tree is in ``STEPS`` (run in order on one database) or in
``NOT_RUN``: a new command fails ``test_every_command_is_classified`` until its author
decides. A step that changes the configuration must leave audit rows, all by
``cli:<os user>@<host>`` (and, where given, the object and action expected); any other
step must leave none and not bump the config version. The channel keys given (canaries)
never appear in the audit table, in `audit list` or in its JSON.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer.main
from burncloud_tui.loop_thread import LoopThread
from typer.testing import CliRunner, Result

from burncloud.cli import dash
from burncloud.cli.app import app
from burncloud.db import Database, open_database
from burncloud.errors import DatabaseMissing
from burncloud.services.audit import current_actor
from tests.cli.checks import fails_with_one_line
from tests.conftest import CANARY_PREFIX, Invoke
from tests.db.old_schema import empty_url  # noqa: F401 (a fixture: SQLite and PostgreSQL)
from tests.key_fragments import fragments_in
from tests.peers.build import build_peer_database
from tests.peers.facts import peer_facts

CANARY = f"{CANARY_PREFIX}audit-0123456789abcdefghijklmnop"
CANARY_2 = f"{CANARY_PREFIX}audit-rotated-zyxwvutsrqponmlk987"
CANARY_3 = f"{CANARY_PREFIX}audit-litellm-AbCdEfGhIjKlMnOp42"
CANARY_4 = f"{CANARY_PREFIX}audit-fourth-key-QwErTyUiOpAs77"
CANARIES = (CANARY, CANARY_2, CANARY_3, CANARY_4)
LITELLM_PRICES = Path(__file__).parents[1] / "fixtures/litellm/model_prices_and_context_window.json"
ANY = ("", "", "")  # a change whose objects are another service's to name: any row will do


@dataclass(frozen=True, slots=True)
class Step:
    """One command line ({name} filled from the run's files and captures); ``audit`` the
    (kind, id, action) it must record, ANY for any row, None for none; ``capture`` keeps
    a value of its output for later steps."""

    args: tuple[str, ...]
    audit: tuple[str, str, str] | None = None
    exit_code: int = 0
    capture: Callable[[Result], dict[str, str]] | None = field(default=None)


def change(*args: str, audit: tuple[str, str, str] = ANY, **kw: Any) -> Step:
    return Step(args, audit, **kw)


def quiet(*args: str, exit_code: int = 0) -> Step:
    return Step(args, None, exit_code)


def _code(result: Result) -> dict[str, str]:
    return {"code": orjson.loads(result.stdout)["codes"][0]}


STEPS = [
    change("init", audit=("user", "1", "create")),
    change("group", "set", "vip", "--ratio", "0.8", audit=("group", "vip", "create")),
    change("group", "set", "vip", "--ratio", "0.9", audit=("group", "vip", "update")),
    quiet("group", "list"),
    change(
        *("channel", "add", "--type", "openai", "--name", "main", "--key", CANARY),
        *("--models", "gpt-4o,gpt-4o-mini", "--base-url", "http://127.0.0.1:{port}/v1"),
        audit=("channel", "1", "create"),
    ),
    change(
        "channel",
        "update",
        "1",
        "--key",
        CANARY_2,
        "--weight",
        "3",
        audit=("channel", "1", "update"),
    ),
    change("channel", "disable", "1", "--reason", "maintenance", audit=("channel", "1", "update")),
    change("channel", "enable", "1", audit=("channel", "1", "update")),
    quiet("channel", "test", "1", exit_code=1),  # the upstream is a closed port: stats only
    quiet("channel", "list"),
    quiet("channel", "show", "1"),
    change("channel", "keys", "add", "1", CANARY_4, audit=("channel_key", "3", "create")),
    quiet("channel", "keys", "list", "1"),
    change("channel", "keys", "weight", "1", "3", "2", audit=("channel_key", "3", "update")),
    change("channel", "keys", "disable", "1", "3", audit=("channel_key", "3", "update")),
    change("channel", "keys", "enable", "1", "3", audit=("channel_key", "3", "update")),
    change("channel", "keys", "remove", "1", "3", audit=("channel_key", "3", "delete")),
    change(
        *("channel", "update", "1", "--tag", "eu", "--rpm", "60", "--set-header", "X-Org=acme"),
        audit=("channel", "1", "update"),
    ),
    change(
        "channel", "update", "1", "--capability", "vision=false", audit=("channel", "1", "update")
    ),
    quiet("channel", "models", "1"),
    quiet("channel", "models", "1", "--sync", exit_code=1),  # a closed port: nothing changes
    quiet("channel", "balance", "1", exit_code=1),  # a loopback URL: no balance API known
    change("channel", "probe", "1", audit=("channel", "1", "update")),  # context: the table
    change(
        "price",
        "set",
        "gpt-4o",
        "--input",
        "2.5",
        "--output",
        "10",
        audit=("price", "gpt-4o", "create"),
    ),
    change(
        *("price", "tier", "gpt-4o", "--above", "200000", "--input", "5", "--output", "20"),
        audit=("price", "gpt-4o", "update"),
    ),
    change(
        *("price", "unit", "gpt-4o", "--per", "call", "--tool", "web_search", "--usd", "10"),
        audit=("price", "gpt-4o", "update"),
    ),
    change(
        *("price", "set", "gpt-4o", "--channel", "1", "--input", "2", "--output", "8"),
        audit=("channel-price", "1:gpt-4o", "create"),
    ),
    change("price", "set", "latest", "--alias", "gpt-4o", audit=("price", "latest", "create")),
    change("price", "delete", "latest", audit=("price", "latest", "delete")),
    change("price", "import", "{catalog}", audit=("price", "gpt-4o-mini", "create")),
    quiet("price", "list"),
    quiet("price", "get", "gpt-4o"),
    quiet("price", "export"),
    change("user", "add", "alice", "--group", "vip", audit=("user", "2", "create")),
    change("user", "update", "alice", "--rpm", "60", audit=("user", "2", "update")),
    change("user", "disable", "alice", audit=("user", "2", "update")),
    change("user", "enable", "alice", audit=("user", "2", "update")),
    quiet("user", "list"),
    quiet("user", "show", "alice"),
    change("quota", "add", "alice", "25", "--user", audit=("user", "2", "update")),
    change("quota", "set", "alice", "30", "--user", audit=("user", "2", "update")),
    change(
        "token", "create", "--name", "laptop", "--user", "alice", audit=("token", "2", "create")
    ),
    change("token", "update", "2", "--name", "laptop-2", audit=("token", "2", "update")),
    change("quota", "set", "2", "10", audit=("token", "2", "update")),
    change("quota", "add", "2", "5", audit=("token", "2", "update")),
    quiet("quota", "show", "2"),
    quiet("token", "list"),
    quiet("token", "show", "2"),
    change("token", "update", "2", "--budget", "20", "--per", "month"),
    change("token", "revoke", "2", audit=("token", "2", "update")),
    change("token", "delete", "2", audit=("token", "2", "delete")),
    change(
        "redeem",
        "create",
        "--quota",
        "1",
        "--json",
        audit=("redemption", "1", "create"),
        capture=_code,
    ),
    quiet("redeem", "list"),
    change("redeem", "use", "{code}", "--user", "alice", audit=("redemption", "1", "update")),
    change(
        "invite", "reward", "--inviter", "1", audit=("setting", "invite_reward_inviter", "create")
    ),
    quiet("invite", "show", "alice"),
    change("admin-key", "create", "--name", "ci", audit=("token", "3", "create")),
    change("admin-key", "revoke", "3", audit=("token", "3", "update")),
    change("admin-key", "rotate", audit=("token", "1", "update")),
    quiet("admin-key", "list"),
    change("plan", "create", "pro", "--budget", "20/month", "--rpm", "10"),
    change("plan", "update", "pro", "--rpm", "20"),
    change("plan", "assign", "alice", "pro"),
    change("plan", "default", "pro"),
    quiet("plan", "list"),
    quiet("plan", "show", "pro"),
    change("plan", "assign", "alice", "none"),
    change("plan", "default", "none"),
    change("plan", "delete", "pro"),
    change(
        *("alert", "add", "--url", "http://127.0.0.1:{port}/hook", "--on", "channel-disabled"),
        *("--secret", CANARY_3 + "-alert"),
    ),
    quiet("alert", "list"),
    quiet("alert", "log"),
    change("alert", "delete", "1"),
    change("apply", "-f", "{manifest}", audit=("group", "team", "create")),
    quiet("diff", "-f", "{manifest}"),
    quiet("export"),
    change("import", "litellm", "{litellm}", audit=("channel", "2", "create")),
    change("import", "oneapi", "{oneapi}"),
    change("import", "newapi", "{newapi}"),
    quiet("route", "explain", "req-1", exit_code=1),  # no such request logged
    quiet("route", "dry-run", "--model", "gpt-4o"),
    quiet("log", "list"),
    quiet("log", "show", "req-1", exit_code=1),
    quiet("log", "prune", "--older-than", "1d"),
    quiet("stats"),
    quiet("bill", "replay", "--prices", str(LITELLM_PRICES), "--format", "litellm"),
    change("user", "update", "alice", "--group", "default", audit=("user", "2", "update")),
    change("group", "delete", "team", audit=("group", "team", "delete")),
    change("channel", "delete", "1", audit=("channel", "1", "delete")),
    quiet("audit", "list"),
]
NOT_RUN = {
    "router": "serves until stopped; its first run's admin is the services' (init's step)",
    "dash": "a terminal screen on a read-only connection: it cannot change anything",
    "log tail": "follows new log rows until stopped; it only reads",
    "alert test": "sends a delivery now, whose URL would be contacted; changes no configuration",
}


def _leaves(command: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield prefix
        return
    for name, sub in subcommands.items():
        yield from _leaves(sub, (*prefix, name))


COMMANDS = {" ".join(path) for path in _leaves(typer.main.get_command(app))}


def _path(args: tuple[str, ...]) -> str:
    """The command an argument list runs: its longest prefix that is a command."""
    for size in range(len(args), 0, -1):
        if " ".join(args[:size]) in COMMANDS:
            return " ".join(args[:size])
    raise AssertionError(f"no command in {args}")


def test_every_command_is_classified() -> None:
    """A new command goes into STEPS (with the audit row it must leave, or as quiet) or,
    if it cannot run here, into NOT_RUN with the reason."""
    ran = {_path(step.args) for step in STEPS}
    assert COMMANDS - ran - set(NOT_RUN) == set()
    assert ran & set(NOT_RUN) == set()


@pytest.fixture
async def files(tmp_path: Path) -> dict[str, str]:
    """The files the steps read, and a closed port for the upstreams and webhooks."""
    catalog = tmp_path / "prices.json"
    catalog.write_text(
        json.dumps(
            {
                "format": "burncloud-prices/1",
                "prices": {"gpt-4o-mini": {"input": "0.15", "output": "0.6"}},
            }
        )
    )
    manifest = tmp_path / "burncloud.yaml"
    manifest.write_text("format: burncloud/1\ngroups: {default: '1', vip: '0.9', team: '0.7'}\n")
    port = _closed_port()
    litellm = tmp_path / "litellm.yaml"
    litellm.write_text(
        "model_list:\n  - model_name: local-llama\n    litellm_params:\n"
        f"      model: openai/llama\n      api_base: http://127.0.0.1:{port}/v1\n"
        f"      api_key: {CANARY_3}\n"
    )
    oneapi = await build_peer_database(
        "oneapi", "sqlite", tmp_path / "oneapi", peer_facts("oneapi")
    )
    newapi = await build_peer_database(
        "newapi", "sqlite", tmp_path / "newapi", peer_facts("newapi")
    )
    return {
        "catalog": str(catalog),
        "manifest": str(manifest),
        "litellm": str(litellm),
        "oneapi": oneapi,
        "newapi": newapi,
        "port": str(port),
    }


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CLI_ACTOR = f"cli:{getpass.getuser()}@{socket.gethostname()}"


class Cli:
    """The CLI on one database, and that database's audit rows and config version."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        env = {"DATABASE_URL": self.url, "BURNCLOUD_SECRET": "test-secret"}
        return self.runner.invoke(app, list(args), env=env)

    def state(self) -> tuple[int, list[dict[str, Any]]]:
        """The config version (0 before the database exists) and every audit row."""
        return asyncio.run(self._state())

    async def _state(self) -> tuple[int, list[dict[str, Any]]]:
        try:
            db: Database = await open_database(self.url, create=False)
        except DatabaseMissing:  # not created yet: the first step creates it
            return 0, []
        try:
            version = await db.fetch_value("SELECT version FROM config_version WHERE id = 1")
            rows = await db.fetch_all("SELECT * FROM audit_log ORDER BY id")
            return int(version), rows
        finally:
            await db.close()


def run_steps(cli: Cli, context: dict[str, str]) -> list[str]:
    """Run STEPS in order, checking each; return the changes that left no audit row."""
    missing: list[str] = []
    for step in STEPS:
        args = tuple(arg.format(**context) for arg in step.args)
        shown = " ".join("<key>" if CANARY_PREFIX in arg else arg for arg in args)
        version, rows = cli.state()
        result = cli(*args)
        assert result.exit_code == step.exit_code, (shown, result.output)
        new_version, new_rows = cli.state()
        added = new_rows[len(rows) :]
        if step.capture is not None:
            context.update(step.capture(result))
        if step.audit is None:
            assert (added, new_version) == ([], version), f"{shown} changed the configuration"
        elif not added:
            missing.append(shown)
        else:
            assert {row["actor"] for row in added} == {CLI_ACTOR}, shown
            found = {(r["object_kind"], r["object_id"], r["action"]) for r in added}
            assert step.audit == ANY or step.audit in found, (shown, found)
    return missing


def test_every_change_from_the_cli_is_audited_and_keys_never_are(
    empty_url: str,  # noqa: F811 (fixture)
    files: dict[str, str],
) -> None:
    cli = Cli(empty_url)
    missing = run_steps(cli, dict(files))
    assert missing == [], f"these changes left no audit row: {missing}"
    _, rows = cli.state()
    listed = cli("audit", "list", "--limit", "1000")
    as_json = cli("audit", "list", "--limit", "1000", "--json")
    assert listed.exit_code == as_json.exit_code == 0
    assert len(orjson.loads(as_json.stdout)) == len(rows)
    everything = "\n".join([orjson.dumps(rows).decode(), listed.output, as_json.output])
    for key in CANARIES:
        assert key not in everything
        assert fragments_in(everything, key) == []
    rotated = next(r for r in rows if r["object_kind"] == "channel" and r["action"] == "update")
    changes = orjson.loads(rotated["changes"])
    assert (set(changes), changes["weight"]) == ({"key_hint", "weight"}, [1, 3])
    keys = [
        (r["object_id"], r["action"], set(orjson.loads(r["changes"])))
        for r in rows
        if r["object_kind"] == "channel_key"
    ]
    assert keys[:3] == [  # created with the channel, then replaced by the rotation
        ("1", "create", {"channel_id", "key", "key_hint", "weight", "status", "status_reason"}),
        ("1", "delete", {"channel_id", "key", "key_hint", "weight", "status", "status_reason"}),
        ("2", "create", {"channel_id", "key", "key_hint", "weight", "status", "status_reason"}),
    ]
    key_changes = orjson.loads(
        next(r for r in rows if r["object_kind"] == "channel_key")["changes"]
    )
    assert key_changes["key"] == [None, "(set)"]


def test_audit_list_filters_by_object_and_time(cli: Invoke, bootstrapped: None) -> None:
    for name, ratio in (("vip", "0.8"), ("vip", "0.9"), ("bulk", "2")):
        assert cli("group", "set", name, "--ratio", ratio).exit_code == 0
    vip = orjson.loads(cli("audit", "list", "--object", "group:vip", "--json").stdout)
    assert [(e["action"], e["changes"]) for e in vip] == [
        ("update", {"ratio": {"old": "0.8", "new": "0.9"}}),
        ("create", {"ratio": {"old": None, "new": "0.8"}}),
    ]
    assert {e["actor"] for e in vip} == {CLI_ACTOR}
    newest = orjson.loads(
        cli("audit", "list", "--object", "group", "--limit", "1", "--json").stdout
    )
    assert [e["object"] for e in newest] == [{"kind": "group", "id": "bulk", "name": "bulk"}]
    assert len(orjson.loads(cli("audit", "list", "--since", "1h", "--json").stdout)) == 5
    assert orjson.loads(cli("audit", "list", "--since", "2999-01-01", "--json").stdout) == []
    table = cli("audit", "list", "--object", "group:vip").stdout.splitlines()
    assert table[0].split("\t") == ["time", "actor", "object", "action", "changes"]
    assert table[1].split("\t")[1:] == [CLI_ACTOR, "group:vip", "update", "ratio: 0.8 -> 0.9"]


def test_audit_list_refuses_what_it_cannot_read(cli: Invoke, bootstrapped: None) -> None:
    fails_with_one_line(cli("audit", "list", "--since", "yesterday"), "invalid since 'yesterday'")
    fails_with_one_line(cli("audit", "list", "--object", ":3"), "invalid object ':3'")
    fails_with_one_line(cli("audit", "list", "--limit", "0"), "--limit must be from 1 to 1000")


def test_the_dashboard_runs_as_its_user(
    cli: Invoke, bootstrapped: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard only reads (a read-only connection), but what it would change is
    recorded as ``dash:<os user>@<host>``, in its query thread too."""
    seen: list[str] = []

    class Screen:
        def run(self) -> None:
            thread = LoopThread("audit-test-queries")
            try:
                seen.append(current_actor())
                seen.append(asyncio.run(thread.run(_actor())))
            finally:
                thread.stop()

    monkeypatch.setattr(dash, "build_app", lambda db, refresh: Screen())
    assert cli("dash").exit_code == 0
    assert seen == [CLI_ACTOR.replace("cli:", "dash:", 1)] * 2


async def _actor() -> str:
    return current_actor()
