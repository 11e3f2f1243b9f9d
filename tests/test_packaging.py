"""Packaging: every package is installed, and the router's imports stay light."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "burncloud").rglob("__init__.py")
    } | {
        "burncloud_tui" + "".join("." + p for p in path.parent.relative_to(ROOT / "tui").parts)
        for path in (ROOT / "tui").rglob("__init__.py")
    }
    assert found == listed


def test_python_dash_m_burncloud_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "burncloud", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("burncloud ")


def test_tui_is_importable_as_burncloud_tui() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import burncloud_tui, sys; print(burncloud_tui.__name__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "burncloud_tui"


def test_importing_the_server_loads_no_cli_or_tui_libraries() -> None:
    code = (
        "import sys, burncloud.server\n"
        "heavy = sorted(m for m in ('typer', 'rich', 'textual', 'burncloud_tui', 'burncloud.cli')"
        " if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
