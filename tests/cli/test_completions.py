"""The committed completion scripts match the CLI and actually complete in each shell."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from burncloud.cli.completions import render_all

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"


@pytest.mark.parametrize("name", sorted(render_all()))
def test_committed_script_is_current(name: str) -> None:
    committed = (COMPLETIONS / name).read_text() if (COMPLETIONS / name).exists() else ""
    assert committed == render_all()[name], (
        f"completions/{name} is stale: run `python -m burncloud.cli.completions completions/`"
    )


def _bash_complete(line: str) -> list[str]:
    words = line.split(" ")
    script = (
        f"source {COMPLETIONS / 'burncloud.bash'}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        '_burncloud; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_bash_completes_groups_commands_and_options() -> None:
    assert "price" in _bash_complete("burncloud pr")
    assert set(_bash_complete("burncloud price ")) >= {"list", "get", "set", "delete"}
    assert "--input" in _bash_complete("burncloud price set gpt-4 --in")
    assert "--db" in _bash_complete("burncloud channel list --")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_parses() -> None:
    subprocess.run(["zsh", "-n", str(COMPLETIONS / "_burncloud")], check=True)


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_subcommands() -> None:
    script = f"source {COMPLETIONS / 'burncloud.fish'}; complete -C 'burncloud price '"
    out = subprocess.run(["fish", "-c", script], capture_output=True, text=True, check=True)
    names = {line.split("\t")[0] for line in out.stdout.splitlines()}
    assert {"list", "set"} <= names
