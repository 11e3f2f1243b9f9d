"""Record what the pinned OpenAI Agents SDK sends: ``python -m tests.clients.record_openai_agents``.

One tool-using turn (``openai_agents.run_turn``) runs against a RecordingProxy in front of the
strict fake OpenAI, scripted to call ``get_capital`` and then answer; its two requests go to
tests/fixtures/clients/ as ``openai_agents_<version>_turn1.json`` (the question) and
``_turn2.json`` (the tool's output sent back), each with a ``.src`` sidecar. Nothing leaves
the machine: the run may reach loopback only, and a run that tried more fails the recording.
"""

from __future__ import annotations

import asyncio
import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.clients.loopback_guard import loopback_only
from tests.clients.openai_agents import (
    CAPITALS,
    INSTRUCTIONS,
    PROMPT,
    AgentTurn,
    installed_version,
    pinned_version,
    run_turn,
)
from tests.clients.recording_proxy import REDACTED, RecordedCall, RecordingProxy
from tests.clients.responses_channels import ANSWER, Answer, scripted_openai

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients"
SCRIPT: tuple[Answer, ...] = ("call", "text")
TURNS = ("turn1", "turn2")
EXPECTED = AgentTurn(ANSWER, ("France",))


def fixture(turn: str, sdk_version: str | None = None) -> Path:
    """Where request ``turn`` of the recording for ``sdk_version`` (default: pinned) lives."""
    return FIXTURES / f"openai_agents_{sdk_version or pinned_version()}_{turn}.json"


def load_recordings(sdk_version: str | None = None) -> list[dict[str, Any]]:
    """The committed recordings of both requests, in order."""
    return [orjson.loads(fixture(turn, sdk_version).read_bytes()) for turn in TURNS]


def shape(recording: dict[str, Any]) -> dict[str, Any]:
    """What must stay the same between two runs on any channel kind: the route, the headers'
    names and protocol values, and the body without the ids the upstream's answer chose."""
    body, headers = recording["body"], recording["headers"]
    return {
        "route": (recording["method"], recording["path"], recording["query"]),
        "header_names": sorted(headers),
        "protocol": {h: headers.get(h) for h in ("accept", "content-type", "user-agent")},
        "authorization": headers.get("authorization"),
        "settings": {k: v for k, v in body.items() if k != "input"},
        "input": [{k: v for k, v in item.items() if k not in _IDS} for item in body["input"]],
    }


_IDS = frozenset({"id", "call_id"})


async def record() -> list[RecordedCall]:
    """Run the turn through a fresh scripted fake and proxy; its two recorded requests."""
    with pytest.MonkeyPatch.context() as patch:
        guard = loopback_only(patch)
        async with (
            scripted_openai(SCRIPT) as upstream,
            RecordingProxy(upstream.base_url.removesuffix("/v1")) as proxy,
        ):
            turn = await run_turn(f"{proxy.base_url}/v1", upstream.key)
    if turn != EXPECTED or guard.refused or len(proxy.calls) != len(TURNS):
        raise RuntimeError(f"{turn}, refused {guard.refused}, {len(proxy.calls)} requests")
    return proxy.calls


def sidecar(index: int, call: RecordedCall, sdk_version: str) -> str:
    """The ``.src`` text for request ``index`` (0-based) of the turn."""
    answered = ("a call of get_capital", "the text answer")[index]
    lines = [
        f"client: OpenAI Agents SDK {sdk_version} (PyPI openai-agents) on openai "
        f"{version('openai')}, CPython {platform.python_version()}",
        "code: tests/clients/openai_agents.py run_turn: Agent(name='Geographer', "
        f"instructions={INSTRUCTIONS!r}, tools=[get_capital]) with @function_tool "
        f"get_capital(country: str) -> str ({CAPITALS}), no model (the SDK's default)",
        f"run: Runner.run(agent, {PROMPT!r}, run_config=RunConfig(model_provider="
        "OpenAIProvider(openai_client=AsyncOpenAI(base_url=<proxy>/v1, api_key=<redacted>,"
        " max_retries=0)), tracing_disabled=True)); set_tracing_disabled(True)",
        f"request: {index + 1} of {len(TURNS)} in this turn; the Authorization header's key is"
        f" {REDACTED}",
        "answered by: tests/fakes/openai_upstream.py (strict fake) with "
        f"{answered} (tests/clients/responses_channels.py scripted_openai); status {call.status}",
        "recorded by: python -m tests.clients.record_openai_agents",
    ]
    return "\n".join(lines) + "\n"


def record_all() -> None:
    """Record both requests for the pinned SDK into tests/fixtures/clients/."""
    sdk_version = pinned_version()
    if installed_version() != sdk_version:
        raise SystemExit(f"openai-agents {installed_version()} installed, {sdk_version} pinned")
    calls = asyncio.run(record())
    for index, (turn, call) in enumerate(zip(TURNS, calls, strict=True)):
        path = fixture(turn, sdk_version)
        recording = {"openai_agents_version": sdk_version, **call.as_fixture()}
        path.write_bytes(orjson.dumps(recording, option=orjson.OPT_INDENT_2) + b"\n")
        path.with_name(path.name + ".src").write_text(sidecar(index, call, sdk_version))
        print(f"{path.name}: {call.method} {call.path} -> {call.status}", file=sys.stderr)


if __name__ == "__main__":
    record_all()
