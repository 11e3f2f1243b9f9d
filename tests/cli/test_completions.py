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


def test_options_with_a_fixed_set_carry_their_values() -> None:
    from burncloud.cli.app import app
    from burncloud.cli.budget_options import PERIODS
    from burncloud.cli.completions import command_tree
    from burncloud.config import SERVERS
    from burncloud.providers.registry import CHANNEL_KINDS, ENDPOINT_NAMES
    from burncloud.services.balance_apis import BALANCE_APIS
    from burncloud.services.channel_keys import KEY_SELECTIONS
    from burncloud.services.pricing import UNIT_BLOCKS
    from burncloud.services.stats import GROUPINGS
    from burncloud.services.users import ROLES

    values = {
        (" ".join(node.path), option.word): option.values
        for node in _walk(command_tree(app))
        for option in node.options
        if option.values
    }
    assert values == {
        ("router", "--server"): SERVERS,
        ("stats", "--by"): GROUPINGS,
        ("channel add", "--type"): tuple(CHANNEL_KINDS),
        ("channel update", "--type"): tuple(CHANNEL_KINDS),
        ("channel add", "--endpoints"): ENDPOINT_NAMES,
        ("channel update", "--endpoints"): ENDPOINT_NAMES,
        ("channel add", "--key-selection"): KEY_SELECTIONS,
        ("channel update", "--key-selection"): KEY_SELECTIONS,
        ("channel add", "--balance-api"): BALANCE_APIS,
        ("channel update", "--balance-api"): BALANCE_APIS,
        ("route dry-run", "--endpoint"): ENDPOINT_NAMES,
        ("user add", "--role"): ROLES,
        ("user update", "--role"): ROLES,
        ("redeem list", "--status"): ("unused", "used"),
        ("price unit", "--per"): tuple(UNIT_BLOCKS),
        ("price export", "--format"): ("yaml", "json"),
        ("price import", "--format"): ("yaml", "json", "litellm"),
        ("bill replay", "--format"): ("yaml", "json", "litellm"),
        ("bill replay", "--by"): ("model", "user"),
        ("export", "--format"): ("yaml", "json"),
        ("export", "--secrets"): ("omit", "env", "plain"),
        ("apply", "--format"): ("yaml", "json"),
        ("diff", "--format"): ("yaml", "json"),
        ("token update", "--per"): PERIODS,
        ("user update", "--per"): PERIODS,
        ("plan create", "--per"): PERIODS,
        ("plan update", "--per"): PERIODS,
        ("alert add", "--format"): ("json", "slack", "discord", "telegram"),
    }


def _walk(node):
    return [node, *(n for child in node.children for n in _walk(child))]


def test_bash_completes_option_values() -> None:
    assert _bash_complete("burncloud stats --by ") == ["model", "channel", "token", "user", "group"]
    assert _bash_complete("burncloud stats --by c") == ["channel"]
    assert _bash_complete("burncloud channel add --name n --type openai") == [
        "openai",
        "openai-compatible",
    ]
    assert _bash_complete("burncloud router --server ") == ["hypercorn", "uvicorn"]
    assert _bash_complete("burncloud redeem list --status u") == ["unused", "used"]
    assert "--since" in _bash_complete("burncloud stats --by model --")


def _zsh_complete(line: str) -> list[str]:
    """Run the zsh function as compsys would, with _describe printing its candidates."""
    words = line.split(" ")
    script = (
        '_describe() { print -rl -- "${(@P)4}" }\n'
        f"words=({' '.join(_zsh_word(w) for w in words)}); CURRENT={len(words)}"
        f"; PREFIX={_zsh_word(words[-1])}\n"
        f"source {COMPLETIONS / '_burncloud'}\n"
    )
    out = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, check=True)
    return [line.split(":")[0] for line in out.stdout.split()]


def _zsh_word(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_commands_options_and_values() -> None:
    assert set(_zsh_complete("burncloud price ")) >= {"list", "get", "set", "delete"}
    assert "--input" in _zsh_complete("burncloud price set gpt-4 --")
    assert _zsh_complete("burncloud stats --by ") == ["model", "channel", "token", "user", "group"]
    assert _zsh_complete("burncloud user add bob --role ") == ["admin", "user"]


def _fish_complete(line: str) -> list[str]:
    script = f"source {COMPLETIONS / 'burncloud.fish'}; complete -C {_zsh_word(line)}"
    out = subprocess.run(["fish", "-c", script], capture_output=True, text=True, check=True)
    return [row.split("\t")[0] for row in out.stdout.splitlines()]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_option_values() -> None:
    assert sorted(_fish_complete("burncloud stats --by ")) == [
        "channel",
        "group",
        "model",
        "token",
        "user",
    ]
    assert sorted(_fish_complete("burncloud router --server ")) == ["hypercorn", "uvicorn"]
