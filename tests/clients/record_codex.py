"""Record what the pinned Codex CLI sends: ``python -m tests.clients.record_codex``.

Each scenario runs the real ``codex exec`` against a RecordingProxy in front of the strict
fake OpenAI upstream and writes its one request to tests/fixtures/clients/ as
``codex_<version>_responses_request[_SUFFIX].json`` with a ``.src`` sidecar (version, command
line, environment and config with secrets redacted, what the fake answered). Nothing leaves
the machine: the run's proxy is an egress trap, and a run that tried to go anywhere but the
base URL fails the recording.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.clients.codex import (
    CONFIG_TEMPLATE,
    INSTALL_COMMAND,
    KEY_VARIABLE,
    exec_args,
    find_codex,
    pinned_version,
    run_codex,
)
from tests.clients.recording_proxy import REDACTED, RecordedCall, RecordingProxy
from tests.fakes.openai_upstream import FakeOpenAI

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients"
PROMPT = "hi"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One ``codex exec`` turn: the model asked for (None: Codex's default) and the suffix
    of its fixture's name."""

    model: str | None
    suffix: str = ""

    def fixture(self, version: str) -> Path:
        """Where this scenario's recording lives for Codex ``version``."""
        return FIXTURES / f"codex_{version}_responses_request{self.suffix}.json"


# A model Codex has no metadata for (any model a gateway renames, such as the router's
# gpt-4) gets its generic tools; Codex's own default model gets that model's request shape.
SCENARIOS = (Scenario("gpt-4"), Scenario(None, "_default_model"))


def load_recording(scenario: Scenario, version: str | None = None) -> dict[str, Any]:
    """The committed recording of ``scenario`` for ``version`` (default: the pinned one)."""
    path = scenario.fixture(version or pinned_version())
    recording: dict[str, Any] = orjson.loads(path.read_bytes())
    return recording


def shape(recording: dict[str, Any]) -> dict[str, Any]:
    """What must stay the same between two runs of one scenario: the route, the header
    names, the protocol headers and the body's structure, without per-run ids and texts."""
    body, headers = recording["body"], recording["headers"]
    return {
        "route": (recording["method"], recording["path"], recording["query"]),
        "header_names": sorted(headers),
        "protocol": {h: headers.get(h) for h in ("accept", "content-type", "originator")},
        "authorization": headers.get("authorization"),
        "fields": sorted(body),
        "settings": {k: v for k, v in body.items() if k not in _PER_RUN},
        "client_metadata": sorted(body.get("client_metadata", {})),
        "tools": [_tool(tool) for tool in body.get("tools", [])],
        "input": [(item.get("type"), item.get("role")) for item in body["input"]],
    }


_PER_RUN = frozenset({"input", "tools", "prompt_cache_key", "client_metadata", "instructions"})


def _tool(tool: dict[str, Any]) -> tuple[str, str | None, list[str]]:
    inner = [t.get("name") for t in tool.get("tools", [])]
    return tool["type"], tool.get("name"), inner


async def record(codex: Path, scenario: Scenario) -> RecordedCall:
    """Run one scenario through a fresh fake and proxy; its one recorded request."""
    with tempfile.TemporaryDirectory(prefix="codex-home-") as home_dir:
        async with FakeOpenAI() as fake, RecordingProxy(fake.base_url.removesuffix("/v1")) as proxy:
            run = await run_codex(
                codex,
                PROMPT,
                base_url=f"{proxy.base_url}/v1",
                api_key=fake.key,
                home=Path(home_dir),
                model=scenario.model,
            )
    if run.returncode != 0 or run.egress or len(proxy.calls) != 1:
        raise RuntimeError(f"{scenario}: {run}, {len(proxy.calls)} requests")
    return proxy.calls[0]


def sidecar(scenario: Scenario, call: RecordedCall, version: str) -> str:
    """The ``.src`` text for one recorded request."""
    config = CONFIG_TEMPLATE.format(
        base_url="http://127.0.0.1:<port>/v1 (the recording proxy)", key_variable=KEY_VARIABLE
    )
    lines = [
        f"client: Codex CLI {version} (npm @openai/codex, linux-x64 native binary"
        " from the optional dependency @openai/codex-linux-x64)",
        f"command: codex {' '.join(exec_args(repr(PROMPT), scenario.model))}",
        f"env: {KEY_VARIABLE}={REDACTED}",
        "env: HOME=<a new temporary directory, also the working directory>",
        "env: CODEX_HOME=$HOME/.codex",
        "env: HTTPS_PROXY=http://127.0.0.1:<port> (an egress trap; nothing was sent to it)",
        "config: $CODEX_HOME/config.toml:",
        *(f"  {line}" for line in config.splitlines()),
        "request: 1 of 1 in this run; the Authorization header's key is redacted",
        f"answered by: tests/fakes/openai_upstream.py (strict fake), replaying "
        f"tests/fixtures/openai/responses_stream_text.sse; status {call.status}",
        "recorded by: python -m tests.clients.record_codex",
    ]
    return "\n".join(lines) + "\n"


def record_all() -> None:
    """Record every scenario for the pinned Codex into tests/fixtures/clients/."""
    codex = find_codex()
    if codex is None:
        raise SystemExit(f"Codex is not installed: run `{INSTALL_COMMAND}`")
    version = pinned_version()
    for scenario in SCENARIOS:
        call = asyncio.run(record(codex, scenario))
        path = scenario.fixture(version)
        fixture = {"codex_version": version, **call.as_fixture()}
        path.write_bytes(orjson.dumps(fixture, option=orjson.OPT_INDENT_2) + b"\n")
        path.with_name(path.name + ".src").write_text(sidecar(scenario, call, version))
        print(f"{path.name}: {call.method} {call.path} -> {call.status}", file=sys.stderr)


if __name__ == "__main__":
    record_all()
