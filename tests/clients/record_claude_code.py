"""Record what the pinned Claude Code sends: ``python -m tests.clients.record_claude_code``.

Each scenario runs the real ``claude -p`` against a RecordingProxy in front of the strict
fake Anthropic upstream, and every request it made is written to
tests/fixtures/clients/claude-code/ as ``NAME.json`` with a ``NAME.json.src`` sidecar
(version, command line, environment with secrets redacted, what the fake answered).
Nothing leaves the machine: the run's proxy is an egress trap, and a scenario that tried
to reach anything but the base URL fails the recording.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tests.clients.claude_code import (
    INSTALL_COMMAND,
    QUIET_ENV,
    find_claude,
    pinned_version,
    run_claude,
)
from tests.clients.recording_proxy import REDACTED, RecordedCall, RecordingProxy
from tests.clients.recordings import RECORDINGS
from tests.fakes.anthropic_upstream import FakeAnthropic

NOTE_FILE = "note.txt"
NOTE_TEXT = "The answer is 42.\n"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One ``claude -p`` run and the fixture name of each request it makes, in order."""

    names: tuple[str, ...]
    prompt: str
    model: str | None = None
    extra_args: tuple[str, ...] = ()
    reads_a_file: bool = False


SCENARIOS = (
    Scenario(("main_turn_default_model",), "hi"),
    Scenario(("main_turn_model_haiku",), "hi", model="haiku"),
    Scenario(("main_turn_model_sonnet",), "hi", model="sonnet"),
    Scenario(("main_turn_model_claude-haiku-4-5-20251001",), "hi", "claude-haiku-4-5-20251001"),
    Scenario(("main_turn_model_claude-sonnet-4-5",), "hi", model="claude-sonnet-4-5"),
    Scenario(
        ("main_turn_stream_json_verbose",),
        "hi",
        extra_args=("--output-format", "stream-json", "--verbose"),
    ),
    Scenario(
        ("tool_use_turn", "tool_result_turn"),
        f"Read the file {NOTE_FILE} in the current directory and tell me what it says.",
        extra_args=("--allowedTools", "Read"),
        reads_a_file=True,
    ),
)


class ReadingAnthropic(FakeAnthropic):
    """The strict fake, answering a turn that offers the Read tool with a call to read
    ``path``, and the turn that carries its result with the usual text."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def replay(self, request: web.Request, recording: Path) -> web.StreamResponse:
        body = self.requests[-1]
        offers_read = any(tool.get("name") == "Read" for tool in body.get("tools", []))
        if offers_read and not _carries_tool_result(body):
            return await self.replay_bytes(request, read_tool_call_sse(self.path))
        return await super().replay(request, recording)


def _carries_tool_result(body: dict[str, Any]) -> bool:
    last = body["messages"][-1].get("content")
    return isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)


def read_tool_call_sse(path: Path) -> bytes:
    """An Anthropic event stream whose one content block calls Read on ``path``."""
    arguments = orjson.dumps({"file_path": str(path)}).decode()
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_01ReadNoteRecording",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-recording",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 20, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_01ReadNote",
                "name": "Read",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": arguments},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 15},
        },
        {"type": "message_stop"},
    ]
    return b"".join(
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        for event in events
    )


async def record(claude: Path, scenario: Scenario) -> list[RecordedCall]:
    """Run one scenario through a fresh fake and proxy; its recorded calls, in order."""
    with tempfile.TemporaryDirectory(prefix="claude-home-") as home_dir:
        home = Path(home_dir)
        note = home / NOTE_FILE
        note.write_text(NOTE_TEXT)
        fake = ReadingAnthropic(note) if scenario.reads_a_file else FakeAnthropic()
        async with fake, RecordingProxy(fake.base_url) as proxy:
            run = await run_claude(
                claude,
                scenario.prompt,
                base_url=proxy.base_url,
                api_key=fake.key,
                home=home,
                model=scenario.model,
                extra_args=scenario.extra_args,
            )
    if run.returncode != 0 or run.egress:
        raise RuntimeError(f"{scenario.names[0]}: {run}")
    if len(proxy.calls) != len(scenario.names):
        raise RuntimeError(f"{scenario.names}: {len(proxy.calls)} requests were made")
    return proxy.calls


def command_line(scenario: Scenario) -> str:
    """The run's command line as a shell would show it."""
    words = ["claude", "-p", repr(scenario.prompt)]
    words += ["--model", scenario.model] if scenario.model else []
    return " ".join([*words, *scenario.extra_args])


def sidecar(scenario: Scenario, index: int, call: RecordedCall, version: str) -> str:
    """The ``.src`` text for one recorded request."""
    env = {
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:<port> (the recording proxy)",
        "ANTHROPIC_API_KEY": REDACTED,
        "HOME": "<a new temporary directory, also the working directory>",
        "HTTPS_PROXY": "http://127.0.0.1:<port> (an egress trap; nothing was sent to it)",
        **QUIET_ENV,
    }
    answered = "a Read tool_use call" if scenario.reads_a_file and index == 0 else "text"
    lines = [
        f"client: Claude Code {version} (npm @anthropic-ai/claude-code, linux-x64 binary)",
        f"command: {command_line(scenario)}",
        *(f"env: {name}={value}" for name, value in env.items()),
        f"request: {index + 1} of {len(scenario.names)} in this run",
        f"answered by: tests/fakes/anthropic_upstream.py (strict fake), {answered}; "
        f"status {call.status}",
        "recorded by: python -m tests.clients.record_claude_code",
    ]
    return "\n".join(lines) + "\n"


def record_all(scenarios: Sequence[Scenario], out: Path) -> None:
    """Record every scenario into ``out``."""
    claude = find_claude()
    if claude is None:
        raise SystemExit(f"Claude Code is not installed: run `{INSTALL_COMMAND}`")
    version = pinned_version()
    out.mkdir(parents=True, exist_ok=True)
    for scenario in scenarios:
        calls = asyncio.run(record(claude, scenario))
        for index, (name, call) in enumerate(zip(scenario.names, calls, strict=True)):
            fixture = {"claude_code_version": version, **call.as_fixture()}
            (out / f"{name}.json").write_bytes(orjson.dumps(fixture, option=orjson.OPT_INDENT_2))
            (out / f"{name}.json.src").write_text(sidecar(scenario, index, call, version))
            print(f"{name}: {call.method} {call.path} -> {call.status}", file=sys.stderr)


if __name__ == "__main__":
    record_all(SCENARIOS, RECORDINGS)
