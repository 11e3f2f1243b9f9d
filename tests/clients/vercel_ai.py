"""Run tests/clients/vercel_ai.mjs: the Vercel AI SDK (``ai`` + ``@ai-sdk/openai``, pinned in
tests/clients/node) calling ``generateText`` then ``streamText`` through a base URL.

The script's default provider ``openai(model)`` speaks the Responses API; it prints one JSON
object: both results (text, stream deltas, finish reason, usage) and the package versions.
A run gets only PATH and a fresh HOME from the environment, and is killed past its time limit.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

NODE_DIR = Path(__file__).resolve().parent / "node"
SCRIPT = Path(__file__).resolve().parent / "vercel_ai.mjs"
PACKAGES = ("ai", "@ai-sdk/openai")
INSTALL_COMMAND = "npm ci --prefix tests/clients/node"
MODEL = "gpt-4o"
PROMPT = "What is the capital of France?"
RUN_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class VercelRun:
    """What one run printed and returned; ``result`` is its JSON line, None if there was none."""

    returncode: int
    result: dict[str, Any] | None
    stdout: str
    stderr: str


def pinned_versions(node_dir: Path = NODE_DIR) -> dict[str, str]:
    """The versions of PACKAGES that tests/clients/node/package-lock.json pins."""
    lock = orjson.loads((node_dir / "package-lock.json").read_bytes())
    return {name: lock["packages"][f"node_modules/{name}"]["version"] for name in PACKAGES}


def missing_packages(node_dir: Path = NODE_DIR) -> list[str]:
    """The PACKAGES npm has not installed in ``node_dir``."""
    modules = node_dir / "node_modules"
    return [name for name in PACKAGES if not (modules / name / "package.json").is_file()]


def script_args(base_url: str, api_key: str, model: str = MODEL) -> list[str]:
    """The script's command line after ``node``."""
    return [str(SCRIPT), base_url, api_key, model, PROMPT]


async def run_vercel_ai(
    node: str, base_url: str, api_key: str, home: Path, *, time_limit: float = RUN_TIMEOUT
) -> VercelRun:
    """Run the script with ``node``; a run past ``time_limit`` seconds is killed."""
    process = await asyncio.create_subprocess_exec(
        node,
        *script_args(base_url, api_key),
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
        cwd=home,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), time_limit)
    except TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
    text = stdout.decode("utf-8", "replace")
    return VercelRun(
        returncode=process.returncode if process.returncode is not None else -9,
        result=_last_json_line(text),
        stdout=text,
        stderr=stderr.decode("utf-8", "replace"),
    )


def _last_json_line(text: str) -> dict[str, Any] | None:
    lines = text.strip().splitlines()
    try:
        result = orjson.loads(lines[-1]) if lines else None
    except orjson.JSONDecodeError:
        return None
    return result if isinstance(result, dict) else None
