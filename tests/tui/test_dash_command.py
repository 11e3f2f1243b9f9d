"""`burncloud dash`: its options reach the app, bad input is one line, Textual loads lazily."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
import typer
from burncloud_tui.app import DashApp
from burncloud_tui.db_source import DatabaseSource
from typer.testing import CliRunner

from burncloud.cli import dash
from burncloud.cli.init import initialise


def command() -> typer.Typer:
    app = typer.Typer()
    app.command()(dash.dash)
    return app


def test_options_reach_the_app(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    started: list[DashApp] = []
    monkeypatch.setattr(DashApp, "run", lambda self: started.append(self))
    url = f"sqlite:///{tmp_path}/dash.db"
    asyncio.run(initialise(url))
    result = CliRunner().invoke(command(), ["--refresh", "2.5", "--db", url])
    assert result.exit_code == 0, result.output
    (app,) = started
    assert isinstance(app.source, DatabaseSource)
    assert app.dash.refresh_every == 2.5
    assert app.dash.location == f"sqlite:{tmp_path}/dash.db"


def test_database_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:other.db")
    app = dash.build_app(None, 1.0)
    assert (app.dash.refresh_every, app.dash.location) == (1.0, "sqlite:other.db")


def test_a_missing_database_is_one_line_and_not_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setattr(DashApp, "run", lambda self: pytest.fail("the screen started"))
    result = CliRunner().invoke(command(), ["--db", f"sqlite:///{tmp_path}/dash.db"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "burncloud init" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_bad_database_url_is_one_line() -> None:
    result = CliRunner().invoke(command(), ["--db", "mysql://x"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_refresh_must_be_positive() -> None:
    result = CliRunner().invoke(command(), ["--refresh", "0"])
    assert result.exit_code == 2
    assert "--refresh" in result.output


def test_the_command_module_loads_no_textual() -> None:
    code = (
        "import sys, burncloud.cli.dash\n"
        "print(','.join(m for m in ('textual', 'burncloud_tui') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
