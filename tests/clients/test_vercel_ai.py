"""The Vercel AI SDK's default OpenAI provider (``ai`` + ``@ai-sdk/openai``: the Responses
API) runs ``generateText`` and ``streamText`` through the router on each channel kind: the
text and usage come back, and each call is logged and billed exactly once."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.clients.record_vercel_ai import CALLS, SCRIPT, fixture, load_recordings, shape
from tests.clients.recording_proxy import RecordingProxy
from tests.clients.responses_channels import (
    ANSWER,
    CHANNEL_KINDS,
    USAGE,
    expected_cost,
    routed,
)
from tests.clients.vercel_ai import (
    INSTALL_COMMAND,
    MODEL,
    NODE_DIR,
    PACKAGES,
    VercelRun,
    missing_packages,
    pinned_versions,
    run_vercel_ai,
)
from tests.gateway.router_harness import logged_rows


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` to run the script with; skips where node or the packages are missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node/npm missing")
    missing = missing_packages()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: run `{INSTALL_COMMAND}`")
    return node


def _explain(run: VercelRun) -> str:
    return f"exit {run.returncode}\nstdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-2000:]}"


def _usage(result: dict[str, Any]) -> tuple[int, int]:
    return result["usage"]["inputTokens"], result["usage"]["outputTokens"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CHANNEL_KINDS))
async def test_generate_and_stream_text_are_answered_logged_and_billed(
    tmp_path: Path, node: str, kind: str
) -> None:
    async with (
        routed(tmp_path, kind, SCRIPT, MODEL) as (router, upstream),
        RecordingProxy(router.base_url.removesuffix("/v1")) as proxy,
    ):
        run = await run_vercel_ai(node, f"{proxy.base_url}/v1", router.key, tmp_path)
    assert run.returncode == 0 and run.result is not None, _explain(run)
    generated, streamed = run.result["generate"], run.result["stream"]
    assert (generated["text"], streamed["text"]) == (ANSWER, ANSWER)
    assert "".join(streamed["deltas"]) == ANSWER and len(streamed["deltas"]) > 1
    assert streamed["errors"] == []
    assert (generated["finishReason"], streamed["finishReason"]) == ("stop", "stop")
    assert (_usage(generated), _usage(streamed)) == (USAGE, USAGE)
    assert run.result["versions"] == pinned_versions()
    assert len(upstream.bodies()) == len(CALLS)
    sent = [call.as_fixture() for call in proxy.calls]
    assert [(r["path"], r["body"].get("stream")) for r in sent] == [
        ("/v1/responses", None),
        ("/v1/responses", True),
    ]
    assert [shape(r) for r in sent] == [shape(r) for r in load_recordings()]
    rows = await logged_rows(router.db_url)
    assert [
        (r["endpoint"], r["model"], r["stream"], r["status"], r["estimated"]) for r in rows
    ] == [("responses", MODEL, 0, 200, 0), ("responses", MODEL, 1, 200, 0)]
    assert [(r["prompt_tokens"], r["completion_tokens"]) for r in rows] == [USAGE, USAGE]
    assert [r["cost"] for r in rows] == [expected_cost()] * 2


def test_package_json_pins_exactly_the_locked_versions() -> None:
    manifest = orjson.loads((NODE_DIR / "package.json").read_bytes())
    assert {name: manifest["dependencies"][name] for name in PACKAGES} == pinned_versions()


def test_the_recordings_are_of_the_pinned_ai_sdk() -> None:
    """A new pin without new recordings fails here: run
    ``python -m tests.clients.record_vercel_ai``."""
    versions = pinned_versions()
    for call, recording in zip(CALLS, load_recordings(), strict=True):
        assert recording["ai_version"] == versions["ai"]
        assert recording["ai_sdk_openai_version"] == versions["@ai-sdk/openai"]
        assert recording["headers"]["authorization"] == "Bearer <redacted>"
        assert fixture(call).with_name(fixture(call).name + ".src").is_file()


def test_the_recordings_ask_for_one_answer_whole_then_streamed() -> None:
    whole, streamed = (recording["body"] for recording in load_recordings())
    assert whole["model"] == MODEL and "stream" not in whole
    assert streamed == {**whole, "stream": True}
