"""Find the Codex CLI that tests/clients/node pins, and run ``codex exec`` against a base URL.

The npm package ``@openai/codex`` is a node launcher (``bin/codex.js``); the native binary
ships in optional dependencies that are npm aliases of platform builds of the same package
(``@openai/codex-linux-x64`` is ``npm:@openai/codex@<version>-linux-x64``), from which npm
installs the one matching the machine. ``npm ci --prefix tests/clients/node`` installs it.

A run gets a fresh HOME and CODEX_HOME, only the variables given here, a config.toml whose one
model provider is the base URL (Responses wire API, key from an environment variable) with
Codex's background traffic switched off, and an egress trap as its HTTP(S) proxy, so anything
it tries beyond the base URL is refused at once and reported.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from tests.clients.egress_trap import EgressTrap

NODE_DIR = Path(__file__).resolve().parent / "node"
PACKAGE = "@openai/codex"
PLATFORM_BINARY = Path("@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex")
INSTALL_COMMAND = "npm ci --prefix tests/clients/node"
KEY_VARIABLE = "BURNCLOUD_API_KEY"
RUN_TIMEOUT = 60.0
# Non-interactive, no sandbox (bwrap needs namespaces CI may not grant), no git repository,
# no session files kept.
EXEC_FLAGS = (
    "--skip-git-repo-check",
    "--dangerously-bypass-approvals-and-sandbox",
    "--ephemeral",
    "--strict-config",
    "--color",
    "never",
)
# Without these, 0.171.0 connects to ab.chatgpt.com:443 (analytics) and to github.com:443
# and api.github.com:443 (the plugins sync). Retries off: a refused turn fails at once.
CONFIG_TEMPLATE = """\
model_provider = "burncloud"
check_for_update_on_startup = false

[model_providers.burncloud]
name = "burncloud"
base_url = "{base_url}"
env_key = "{key_variable}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[feedback]
enabled = false

[features]
plugins = false
"""


@dataclass(frozen=True, slots=True)
class CodexRun:
    """What one ``codex exec`` run printed and returned, and where it tried to go."""

    returncode: int
    stdout: str
    stderr: str
    egress: tuple[str, ...]


def pinned_version() -> str:
    """The Codex version that tests/clients/node/package-lock.json pins."""
    lock = orjson.loads((NODE_DIR / "package-lock.json").read_bytes())
    version: str = lock["packages"][f"node_modules/{PACKAGE}"]["version"]
    return version


def find_codex(node_dir: Path = NODE_DIR) -> Path | None:
    """The installed ``codex`` launcher, or None when npm has not installed it or its
    linux-x64 native binary (an optional dependency npm may have skipped)."""
    modules = node_dir / "node_modules"
    launcher = modules / ".bin" / "codex"
    if not launcher.is_file() or not (modules / PLATFORM_BINARY).is_file():
        return None
    return launcher


def write_config(codex_home: Path, base_url: str) -> Path:
    """CODEX_HOME/config.toml pointing Codex's only provider at ``base_url``."""
    codex_home.mkdir(parents=True, exist_ok=True)
    path = codex_home / "config.toml"
    text = CONFIG_TEMPLATE.format(base_url=base_url, key_variable=KEY_VARIABLE)
    path.write_text(text)
    return path


def codex_env(api_key: str, home: Path, proxy: str) -> dict[str, str]:
    """The whole environment of a run: nothing is inherited but PATH."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(home / ".codex"),
        KEY_VARIABLE: api_key,
        "HTTPS_PROXY": proxy,
        "HTTP_PROXY": proxy,
        "NO_PROXY": "127.0.0.1,localhost",
    }


def exec_args(prompt: str, model: str | None) -> list[str]:
    """``codex exec``'s arguments for one non-interactive turn."""
    return ["exec", *EXEC_FLAGS, *(["--model", model] if model else []), prompt]


async def run_codex(
    codex: Path,
    prompt: str,
    *,
    base_url: str,
    api_key: str,
    home: Path,
    model: str | None = None,
    time_limit: float = RUN_TIMEOUT,
) -> CodexRun:
    """Run ``codex exec PROMPT`` with ``home`` as HOME and working directory; a run past
    ``time_limit`` seconds is killed and returns its signal as a negative code."""
    write_config(home / ".codex", base_url)
    async with EgressTrap() as trap:
        process = await asyncio.create_subprocess_exec(
            codex,
            *exec_args(prompt, model),
            env=codex_env(api_key, home, trap.url),
            cwd=home,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr, note = await _communicate(process, time_limit)
    return CodexRun(
        returncode=process.returncode if process.returncode is not None else -9,
        stdout=stdout.decode("utf-8", "replace"),
        stderr=stderr.decode("utf-8", "replace") + note,
        egress=tuple(trap.targets),
    )


async def _communicate(
    process: asyncio.subprocess.Process, time_limit: float
) -> tuple[bytes, bytes, str]:
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), time_limit)
        return stdout, stderr, ""
    except TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
        return stdout, stderr, f"\n[killed: codex ran past {time_limit:g} s]"
