"""The harness around Claude Code: finding the binary npm installed, and the run's setup."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.clients.claude_code import (
    NODE_DIR,
    PACKAGE,
    PLACEHOLDER_MAX_BYTES,
    QUIET_ENV,
    claude_env,
    find_claude,
    pinned_version,
)

STUB = b'echo "Error: claude native binary not installed." >&2\nexit 1\n'


def _install(node_dir: Path, content: bytes) -> Path:
    package_bin = node_dir / "node_modules" / "@anthropic-ai" / "claude-code" / "bin"
    package_bin.mkdir(parents=True)
    (package_bin / "claude.exe").write_bytes(content)
    link = node_dir / "node_modules" / ".bin" / "claude"
    link.parent.mkdir()
    link.symlink_to(package_bin / "claude.exe")
    return link


def test_nothing_is_found_before_npm_ran(tmp_path) -> None:
    assert find_claude(tmp_path) is None


def test_the_placeholder_stub_is_not_taken_for_claude(tmp_path) -> None:
    _install(tmp_path, STUB)
    assert find_claude(tmp_path) is None


def test_the_native_binary_is_found_through_npm_bin_link(tmp_path) -> None:
    link = _install(tmp_path, b"\x7fELF" + bytes(PLACEHOLDER_MAX_BYTES))
    assert find_claude(tmp_path) == link


def test_package_json_pins_exactly_the_locked_version() -> None:
    manifest = orjson.loads((NODE_DIR / "package.json").read_bytes())
    assert manifest["dependencies"][PACKAGE] == pinned_version()
    assert manifest["allowScripts"] == {PACKAGE: True}  # its postinstall places the binary


def test_a_run_inherits_no_anthropic_settings(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ANTHROPIC_MODEL", "claude-from-the-caller")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", "/root/.claude")
    env = claude_env("http://127.0.0.1:1", "sk-test", tmp_path, "http://127.0.0.1:2")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1" and env["HOME"] == str(tmp_path)
    assert "ANTHROPIC_MODEL" not in env and "CLAUDE_CONFIG_DIR" not in env
    assert env["HTTPS_PROXY"] == "http://127.0.0.1:2" and "127.0.0.1" in env["NO_PROXY"]
    assert QUIET_ENV.items() <= env.items()
