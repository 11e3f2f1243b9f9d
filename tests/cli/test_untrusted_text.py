"""What clients and upstreams wrote reaches the operator's terminal as text, never as markup
or commands: `log list` (on a terminal and piped), `stats`, `route explain`, `log tail`."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from burncloud.cli.app import app
from burncloud.db import open_database
from tests.cli.test_logs_stats import running_tail
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import running_router
from tests.services.test_stats import NOW
from tests.untrusted_text import (
    CHANNEL,
    CLOSING_TAG,
    ERROR,
    ESCAPE_ID,
    MARKUP_LINK,
    MODELS,
    OSC8_LINK,
    TOKEN,
    USER,
    UntrustedWorld,
    commands_in,
    shown,
    write_untrusted_rows,
)


async def _write(db_url: str) -> UntrustedWorld:
    db = await open_database(db_url)
    try:
        return await write_untrusted_rows(db)
    finally:
        await db.close()


@pytest.fixture
def world(db_url: str, bootstrapped: None, monkeypatch: pytest.MonkeyPatch) -> UntrustedWorld:
    monkeypatch.setattr("burncloud.cli.logs.now", lambda: NOW)
    monkeypatch.setattr("burncloud.cli.stats.now", lambda: NOW)
    return asyncio.run(_write(db_url))


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Tables go to a colour terminal, captured: what an operator's terminal receives."""
    captured = io.StringIO()
    console = Console(file=captured, force_terminal=True, color_system="truecolor", width=400)
    monkeypatch.setattr("burncloud.cli.output.terminal", lambda: console)
    yield captured


def test_log_list_piped_keeps_each_value_in_its_cell(cli, world: UntrustedWorld) -> None:
    result = cli("log", "list")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert len(rows) == 3 and commands_in(result.stdout) == []
    cells = [row.split("\t") for row in rows]
    assert all(len(row) == len(header.split("\t")) for row in cells)
    assert [row[2] for row in cells] == [shown(model) for model in reversed(MODELS)]
    assert {row[1] for row in cells} == {TOKEN}
    assert cells[0][3] == shown(CHANNEL) == "chan\\x1b]0;title\\x07"
    assert cells[0][2] == "\\x1b]8;;http://evil.example\\x1b\\gpt-4\\x1b]8;;\\x1b\\"


def test_log_list_on_a_terminal_shows_markup_literally(
    cli, world: UntrustedWorld, screen: io.StringIO
) -> None:
    result = cli("log", "list")
    assert result.exit_code == 0, result.output
    drawn = screen.getvalue()
    assert commands_in(drawn) == []  # no hyperlink (OSC 8), title or screen clearing
    plain = _plain(drawn)
    for text in (*MODELS, TOKEN, CHANNEL):
        assert shown(text) in plain
    assert "[/x]" in plain and MARKUP_LINK in plain


def test_log_list_json_stays_exact(cli_json, world: UntrustedWorld) -> None:
    rows: Any = cli_json("log", "list")
    assert [row["model"] for row in rows] == list(reversed(MODELS))
    assert rows[0]["request_id"] == ESCAPE_ID and rows[0]["error"] == ERROR
    assert rows[0]["route"]["attempts"][0]["error"] == ERROR


@pytest.mark.parametrize("on_terminal", [False, True])
def test_stats_by_model_user_and_token(
    cli, world: UntrustedWorld, on_terminal: bool, request: pytest.FixtureRequest
) -> None:
    captured = request.getfixturevalue("screen") if on_terminal else None
    for by, names in (("model", MODELS), ("user", (USER,)), ("token", (TOKEN,))):
        result = cli("stats", "--since", "1h", "--by", by)
        assert result.exit_code == 0, result.output
        drawn = result.stdout + (captured.getvalue() if captured else "")
        assert commands_in(drawn) == []
        for name in names:
            assert shown(name) in _plain(drawn)


def test_route_explain_shows_the_id_and_the_upstream_error_as_text(
    cli, world: UntrustedWorld, screen: io.StringIO
) -> None:
    result = cli("route", "explain", ESCAPE_ID)
    assert result.exit_code == 0, result.output
    drawn = result.stdout + screen.getvalue()
    assert commands_in(drawn) == []
    lines = result.stdout.splitlines()
    assert lines[0] == f"request {shown(ESCAPE_ID)}: model {shown(OSC8_LINK)}, status 502"
    assert lines[1] == f"error: {shown(ERROR)}"  # one line: its CR, LF and tab escaped
    assert f"attempt 1: channel {world.channel} ({shown(CHANNEL)}) -> 502 in 12 ms:" in drawn
    assert "breaker open: \\x1b[5mblink" in drawn
    assert shown(CHANNEL) in _plain(screen.getvalue())  # the candidates table
    closing = cli("route", "explain", "req-close")
    assert closing.exit_code == 0 and "model [/x], status 404" in closing.stdout


async def test_log_tail_prints_untrusted_rows_as_text(db_url: str) -> None:
    db = await open_database(db_url)
    try:
        await db.fetch_value("SELECT COUNT(*) FROM logs")  # created and migrated
        async with running_tail(db_url, "--max-rows", "3") as process:
            await write_untrusted_rows(db)
            out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        await db.close()
    assert process.returncode == 0, err.decode()
    text = out.decode()
    assert commands_in(text) == []
    rows = [line.split("\t") for line in text.splitlines()]
    assert [row[2] for row in rows] == [shown(model) for model in MODELS]
    assert all(len(row) == 8 for row in rows)


def _plain(drawn: str) -> str:
    """The terminal output without our colours."""
    from tests.untrusted_text import SGR

    return SGR.sub("", drawn)


ECHOED = "Invalid 'messages[0]': \x1b]8;;http://evil.example\x1b\\[/x]\x1b]8;;\x1b\\"


async def _through_the_router(tmp_path) -> str:
    """A request for the model ``[/x]`` (404) under a markup request id, and one whose
    upstream error echoes escape sequences; the database URL once the router has stopped
    (and so written every log row)."""
    async with (
        FakeOpenAI("sk-canary-upstream-key") as upstream,
        running_router(tmp_path, upstream) as router,
        httpx.AsyncClient(timeout=10) as http,
    ):
        headers = {"Authorization": f"Bearer {router.key}", "X-Request-ID": MARKUP_LINK}
        chat = {"model": CLOSING_TAG, "messages": [{"role": "user", "content": "hi"}]}
        url = f"{router.base_url}/chat/completions"
        assert (await http.post(url, json=chat, headers=headers)).status_code == 404
        upstream.fail_with(400, ECHOED, times=1)
        headers["X-Request-ID"] = "req-echo"
        answer = await http.post(url, json={**chat, "model": "gpt-4"}, headers=headers)
        assert answer.status_code == 400
    return router.db_url


def test_requests_through_the_router_then_the_cli(tmp_path) -> None:
    env = {"DATABASE_URL": asyncio.run(_through_the_router(tmp_path))}
    listed = CliRunner().invoke(app, ["log", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert commands_in(listed.stdout) == []
    rows = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
    assert [row[2] for row in rows] == ["gpt-4", CLOSING_TAG]
    by_model = CliRunner().invoke(app, ["stats", "--by", "model"], env=env)
    assert by_model.exit_code == 0 and f"\n{CLOSING_TAG}\t1\t1\t" in by_model.stdout
    refused = CliRunner().invoke(app, ["route", "explain", MARKUP_LINK], env=env)
    assert refused.exit_code == 0, refused.output
    assert refused.stdout.startswith(f"request {MARKUP_LINK}: model {CLOSING_TAG}, status 404")
    echo = CliRunner().invoke(app, ["route", "explain", "req-echo"], env=env)
    assert echo.exit_code == 0 and commands_in(echo.stdout) == []
    assert "\\x1b]8;;http://evil.example\\x1b\\[/x]" in echo.stdout
