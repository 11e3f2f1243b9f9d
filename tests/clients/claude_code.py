"""Find the Claude Code that tests/clients/node pins, and run ``claude -p`` against a base URL.

The npm package ``@anthropic-ai/claude-code`` is a thin wrapper: its platform binary comes
from an optional dependency (``@anthropic-ai/claude-code-linux-x64`` and its siblings, all
on the npm registry) and its postinstall copies it over the ``bin/claude.exe`` placeholder,
a shell stub that only prints an error. ``npm ci --prefix tests/clients/node`` installs it.

A run gets a fresh HOME (no user settings, no login), only the variables given here (none of
the caller's ANTHROPIC_* ones), Claude Code's switches that stop non-essential traffic, and
an egress trap as its HTTP(S) proxy, so anything it tries beyond the base URL is refused at
once and reported instead of waiting on a network that is not there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from tests.clients.egress_trap import EgressTrap

NODE_DIR = Path(__file__).resolve().parent / "node"
PACKAGE = "@anthropic-ai/claude-code"
INSTALL_COMMAND = "npm ci --prefix tests/clients/node"
RUN_TIMEOUT = 120.0
PLACEHOLDER_MAX_BYTES = 64 * 1024  # the stub is a few hundred bytes, the binary ~400 MB
# Claude Code's own switches: no telemetry, error reports, update checks or feature-flag
# fetches. Without them 2.1.332 opens three connections to api.anthropic.com:443.
QUIET_ENV: Mapping[str, str] = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
}


@dataclass(frozen=True, slots=True)
class ClaudeRun:
    """What one ``claude -p`` run printed and returned, and where it tried to go."""

    returncode: int
    stdout: str
    stderr: str
    egress: tuple[str, ...]


def pinned_version() -> str:
    """The Claude Code version that tests/clients/node/package-lock.json pins."""
    lock = orjson.loads((NODE_DIR / "package-lock.json").read_bytes())
    return lock["packages"][f"node_modules/{PACKAGE}"]["version"]


def find_claude(node_dir: Path = NODE_DIR) -> Path | None:
    """The installed ``claude`` binary, or None when npm has not installed it (or only the
    placeholder stub is there because the postinstall or the platform package is missing)."""
    binary = node_dir / "node_modules" / ".bin" / "claude"
    if not binary.is_file() or binary.stat().st_size < PLACEHOLDER_MAX_BYTES:
        return None
    return binary


def claude_env(base_url: str, api_key: str, home: Path, proxy: str) -> dict[str, str]:
    """The whole environment of a run: nothing is inherited but PATH."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "HTTPS_PROXY": proxy,
        "HTTP_PROXY": proxy,
        "NO_PROXY": "127.0.0.1,localhost",
        **QUIET_ENV,
    }


async def run_claude(
    claude: Path,
    prompt: str,
    *,
    base_url: str,
    api_key: str,
    home: Path,
    model: str | None = None,
    extra_args: Sequence[str] = (),
    time_limit: float = RUN_TIMEOUT,
) -> ClaudeRun:
    """Run ``claude -p PROMPT [--model M] EXTRA`` in ``home`` (also its working directory);
    a run past ``time_limit`` seconds is killed and returns its signal as a negative code."""
    args = ["-p", prompt, *(["--model", model] if model else []), *extra_args]
    async with EgressTrap() as trap:
        process = await asyncio.create_subprocess_exec(
            claude,
            *args,
            env=claude_env(base_url, api_key, home, trap.url),
            cwd=home,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        note = ""
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), time_limit)
        except TimeoutError:
            process.kill()
            stdout, stderr = await process.communicate()
            note = f"\n[killed: claude ran past {time_limit:g} s]"
    return ClaudeRun(
        returncode=process.returncode if process.returncode is not None else -9,
        stdout=stdout.decode("utf-8", "replace"),
        stderr=stderr.decode("utf-8", "replace") + note,
        egress=tuple(trap.targets),
    )
