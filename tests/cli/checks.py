"""Assertions shared by the CLI tests."""

from __future__ import annotations

from typer.testing import Result


def fails_with_one_line(result: Result, text: str = "") -> None:
    """The command exited 1 with exactly one ``error: ...`` line on stderr containing ``text``."""
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert text in result.stderr, result.stderr
