"""The mypy configuration (pyproject.toml): providers, services and the gateway get every
flag of ``--strict``, and tui/ is checked under the name the code imports it by."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STRICT_PACKAGES = {"burncloud.providers.*", "burncloud.services.*", "burncloud.gateway.*"}


def _mypy_config() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    return config


def _strict_flags() -> dict[str, bool]:
    """The settings ``mypy --strict`` turns on, as config keys, read from ``mypy --help``."""
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = re.search(r"enables the following flags:(.*?)\n  --", out, re.DOTALL)
    assert listed is not None
    flags = "".join(listed.group(1).split()).split(",")
    assert "--disallow-untyped-defs" in flags
    return dict(_config_setting(flag) for flag in flags)


def _config_setting(flag: str) -> tuple[str, bool]:
    """``--no-implicit-reexport`` -> ``implicit_reexport = false``; ``--x-y`` -> ``x_y = true``."""
    name = flag.removeprefix("--")
    return name.removeprefix("no-").replace("-", "_"), not name.startswith("no-")


def test_strict_packages_get_every_flag_of_mypy_strict() -> None:
    config = _mypy_config()
    strict = [o for o in config["overrides"] if set(o["module"]) >= STRICT_PACKAGES]
    assert len(strict) == 1
    for key, value in _strict_flags().items():
        # A few flags can only be set globally (``warn_redundant_casts``).
        assert strict[0].get(key, config.get(key)) is value, key


def test_tui_is_checked_under_its_installed_name() -> None:
    config = _mypy_config()
    assert "burncloud_tui" in config["packages"]
    link = ROOT / config["mypy_path"] / "burncloud_tui"
    assert link.resolve() == (ROOT / "tui").resolve()
