"""The ``claude`` fixture: the pinned Claude Code, or a skip where node is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.clients.claude_code import INSTALL_COMMAND, find_claude, pinned_version


@pytest.fixture(scope="session")
def claude() -> Path:
    """The installed ``claude``; skips only without node, fails when npm has not installed
    it (CI does), saying how to."""
    if shutil.which("node") is None:
        pytest.skip("node/npm missing")
    binary = find_claude()
    if binary is None:
        pytest.fail(
            f"Claude Code {pinned_version()} is not installed in tests/clients/node: "
            f"run `{INSTALL_COMMAND}`"
        )
    return binary
