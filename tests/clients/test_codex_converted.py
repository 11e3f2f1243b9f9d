"""The real Codex CLI (``codex exec``) through the router's /v1/responses to the strict fake
Anthropic upstream, by conversion: a turn answers, a turn runs Codex's own shell tool and
sends its output back, and every request is logged and billed exactly once."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.clients.codex import INSTALL_COMMAND as CODEX_INSTALL
from tests.clients.codex import CodexRun, find_codex, pinned_version, run_codex
from tests.clients.record_codex import SCENARIOS, Scenario, load_recording
from tests.clients.recording_proxy import RecordingProxy
from tests.clients.responses_channels import ANSWER, USAGE, Upstream, expected_cost, router_for
from tests.fakes.anthropic_upstream import FIXTURES, FakeAnthropic
from tests.gateway.router_harness import RunningRouter, logged_rows

TEXT = "anthropic_stream_capital_text.sse"  # says ANSWER
SHELL_CALL = "anthropic_stream_exec_command_tool_use.sse"  # calls exec_command
COMMAND = "echo burncloud-$((6*7))"  # what SHELL_CALL asks Codex's shell to run
PRINTED = "burncloud-42"  # what only a shell that ran COMMAND prints
GPT_4 = SCENARIOS[0]  # the scenario whose request declares Codex's tools


@pytest.fixture(scope="session")
def codex() -> Path:
    """The installed ``codex``; skips where node or the native binary is missing."""
    if shutil.which("node") is None:
        pytest.skip("node/npm missing")
    binary = find_codex()
    if binary is None:
        pytest.skip(f"Codex {pinned_version()} is not installed: run `{CODEX_INSTALL}`")
    return binary


@asynccontextmanager
async def _converted(
    tmp_path: Path, streams: Sequence[str], model: str
) -> AsyncIterator[tuple[FakeAnthropic, RunningRouter, RecordingProxy]]:
    """A router whose anthropic channel serves ``model`` from a fake streaming ``streams``
    in turn, and a recording proxy in front of it for Codex."""
    async with FakeAnthropic(stream_fixture=streams) as fake:
        upstream = Upstream("anthropic", fake.base_url, fake.key, lambda: list(fake.requests))
        async with (
            router_for(tmp_path, upstream, model) as router,
            RecordingProxy(router.base_url.removesuffix("/v1")) as proxy,
        ):
            yield fake, router, proxy


async def _run(
    codex: Path, tmp_path: Path, prompt: str, base_url: str, key: str, scenario: Scenario
) -> CodexRun:
    home = tmp_path / "home"
    home.mkdir()
    return await run_codex(
        codex, prompt, base_url=f"{base_url}/v1", api_key=key, home=home, model=scenario.model
    )


def _explain(run: CodexRun) -> str:
    return f"exit {run.returncode}\nstdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-2000:]}"


def _model_of(scenario: Scenario) -> str:
    model: str = load_recording(scenario)["body"]["model"]
    return model


async def _assert_billed(db_url: str, model: str, requests: int) -> None:
    rows = await logged_rows(db_url)
    assert [
        (r["endpoint"], r["model"], r["stream"], r["status"], r["estimated"]) for r in rows
    ] == [("responses", model, 1, 200, 0)] * requests
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in rows] == [USAGE] * requests
    assert [r["cost"] for r in rows] == [expected_cost()] * requests


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.model or "default-model")
async def test_codex_turn_is_converted_answered_logged_and_billed(
    tmp_path: Path, codex: Path, scenario: Scenario
) -> None:
    model = _model_of(scenario)
    async with _converted(tmp_path, [TEXT], model) as (fake, router, proxy):
        run = await _run(codex, tmp_path, "hi", proxy.base_url, router.key, scenario)
    assert run.returncode == 0, _explain(run)
    assert run.stdout.strip().splitlines()[-1] == ANSWER, _explain(run)
    assert run.egress == ()
    assert [(c.path, c.status, c.body["stream"]) for c in proxy.calls] == [
        ("/v1/responses", 200, True)
    ]
    [sent] = fake.requests
    assert sent["stream"] is True and sent["messages"][-1]["role"] == "user"
    await _assert_billed(router.db_url, model, 1)


def _tool_use_id() -> str:
    """The id of the tool_use block SHELL_CALL streams."""
    for line in (FIXTURES / SHELL_CALL).read_text().splitlines():
        if line.startswith("data:") and "content_block_start" in line:
            tool_use_id: str = orjson.loads(line[5:])["content_block"]["id"]
            return tool_use_id
    raise AssertionError(f"{SHELL_CALL} starts no content block")


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def _tool_result_text(block: dict[str, Any]) -> str:
    content = block.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content)


@pytest.mark.slow
async def test_codex_runs_its_shell_tool_and_sends_the_output_back(
    tmp_path: Path, codex: Path
) -> None:
    model = _model_of(GPT_4)
    prompt = f"Run `{COMMAND}` and tell me what it printed."
    async with _converted(tmp_path, [SHELL_CALL, TEXT], model) as (fake, router, proxy):
        run = await _run(codex, tmp_path, prompt, proxy.base_url, router.key, GPT_4)
    assert run.returncode == 0, _explain(run)
    assert run.stdout.strip().splitlines()[-1] == ANSWER, _explain(run)
    assert run.egress == ()
    assert [(c.path, c.status) for c in proxy.calls] == [("/v1/responses", 200)] * 2
    first, second = (call.body for call in proxy.calls)
    assert "exec_command" in [tool.get("name") for tool in first["tools"]]
    assert [item["type"] for item in second["input"][-2:]] == [
        "function_call",
        "function_call_output",
    ]
    call, output = second["input"][-2:]
    assert (call["name"], orjson.loads(call["arguments"])) == ("exec_command", {"cmd": COMMAND})
    assert output["call_id"] == call["call_id"] and PRINTED in str(output["output"])
    assert len(fake.requests) == 2
    *_, assistant, user = fake.requests[1]["messages"]
    [tool_use] = [b for b in _blocks(assistant) if b["type"] == "tool_use"]
    assert (tool_use["id"], tool_use["name"], tool_use["input"]) == (
        _tool_use_id(),
        "exec_command",
        {"cmd": COMMAND},
    )
    [result] = [b for b in _blocks(user) if b["type"] == "tool_result"]
    assert result["tool_use_id"] == tool_use["id"] and PRINTED in _tool_result_text(result)
    await _assert_billed(router.db_url, model, 2)
