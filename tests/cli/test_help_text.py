"""Help is plain text: every command's and option's help shows whole in its `--help`, the
brackets of ``pip install 'burncloud[uvicorn]'`` included (no markup is parsed)."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from burncloud.cli.app import app


def test_router_help_names_the_uvicorn_extra() -> None:
    result = CliRunner().invoke(app, ["router", "--help"])
    assert result.exit_code == 0
    assert "pip install 'burncloud[uvicorn]'" in result.stdout


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    children = getattr(command, "commands", {})
    found = [(path, command)]
    for name, child in children.items():
        found += _commands(child, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_help_text_shows_whole(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    shown = "".join(result.stdout.split())  # wrapping moves words, never drops characters
    texts = [command.help or ""]
    texts += [p.help for p in command.params if getattr(p, "help", None) and not p.hidden]
    for text in texts:
        assert "".join(text.split()) in shown, text
