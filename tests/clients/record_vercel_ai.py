"""Record what the pinned Vercel AI SDK sends: ``python -m tests.clients.record_vercel_ai``.

tests/clients/vercel_ai.mjs runs ``generateText`` then ``streamText`` against a RecordingProxy
in front of the strict fake OpenAI; the two requests go to tests/fixtures/clients/ as
``vercel_ai_<ai version>_generate_text.json`` and ``_stream_text.json``, each with a ``.src``
sidecar. The script's only network is the base URL it is given (the AI SDK sends no telemetry
unless asked to).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from tests.clients.recording_proxy import REDACTED, RecordedCall, RecordingProxy
from tests.clients.responses_channels import ANSWER, Answer, scripted_openai
from tests.clients.vercel_ai import (
    INSTALL_COMMAND,
    MODEL,
    PROMPT,
    missing_packages,
    pinned_versions,
    run_vercel_ai,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients"
CALLS = ("generate_text", "stream_text")
SCRIPT: tuple[Answer, ...] = ("text", "text")
_NODE_VERSION = re.compile(r" node\.js/\S+")


def fixture(call: str, ai_version: str | None = None) -> Path:
    """Where the recording of ``call`` for ``ai`` ``ai_version`` (default: pinned) lives."""
    return FIXTURES / f"vercel_ai_{ai_version or pinned_versions()['ai']}_{call}.json"


def load_recordings(ai_version: str | None = None) -> list[dict[str, Any]]:
    """The committed recordings, generateText's request then streamText's."""
    return [orjson.loads(fixture(call, ai_version).read_bytes()) for call in CALLS]


def shape(recording: dict[str, Any]) -> dict[str, Any]:
    """What must stay the same between two runs: the route, the headers' names and protocol
    values (the user agent without node's version) and the whole body."""
    headers = recording["headers"]
    return {
        "route": (recording["method"], recording["path"], recording["query"]),
        "header_names": sorted(headers),
        "protocol": {h: headers.get(h) for h in ("accept", "content-type")},
        "user-agent": _NODE_VERSION.sub("", headers.get("user-agent", "")),
        "authorization": headers.get("authorization"),
        "body": recording["body"],
    }


async def record(node: str) -> list[RecordedCall]:
    """Run the script through a fresh scripted fake and proxy; its two recorded requests."""
    with tempfile.TemporaryDirectory(prefix="vercel-ai-home-") as home:
        async with (
            scripted_openai(SCRIPT) as upstream,
            RecordingProxy(upstream.base_url.removesuffix("/v1")) as proxy,
        ):
            run = await run_vercel_ai(node, f"{proxy.base_url}/v1", upstream.key, Path(home))
    texts = [run.result[call]["text"] for call in ("generate", "stream")] if run.result else []
    if run.returncode != 0 or texts != [ANSWER, ANSWER] or len(proxy.calls) != len(CALLS):
        raise RuntimeError(f"{run}, {len(proxy.calls)} requests")
    return proxy.calls


def sidecar(index: int, call: RecordedCall, versions: dict[str, str]) -> str:
    """The ``.src`` text for request ``index`` (0-based) of the run."""
    function = ("generateText", "streamText")[index]
    lines = [
        f"client: Vercel AI SDK, npm ai {versions['ai']} with @ai-sdk/openai "
        f"{versions['@ai-sdk/openai']} (tests/clients/node/package-lock.json)",
        f"code: tests/clients/vercel_ai.mjs: {function}({{model: createOpenAI({{baseURL: "
        f"<proxy>/v1, apiKey: <redacted>}})({MODEL!r}), prompt: {PROMPT!r}, maxRetries: 0}})",
        f"command: node tests/clients/vercel_ai.mjs <proxy>/v1 <key> {MODEL} {PROMPT!r}",
        "env: PATH, HOME=<a new temporary directory, also the working directory>",
        f"request: {index + 1} of {len(CALLS)} in this run; the Authorization header's key is"
        f" {REDACTED}",
        "answered by: tests/fakes/openai_upstream.py (strict fake), replaying "
        f"tests/fixtures/openai/responses_stream_text.sse; status {call.status}",
        "recorded by: python -m tests.clients.record_vercel_ai",
    ]
    return "\n".join(lines) + "\n"


def record_all() -> None:
    """Record both requests for the pinned packages into tests/fixtures/clients/."""
    node = shutil.which("node")
    if node is None or missing_packages():
        raise SystemExit(f"node or the AI SDK is missing: run `{INSTALL_COMMAND}`")
    versions = pinned_versions()
    calls = asyncio.run(record(node))
    for index, (name, call) in enumerate(zip(CALLS, calls, strict=True)):
        path = fixture(name, versions["ai"])
        recording = {
            "ai_version": versions["ai"],
            "ai_sdk_openai_version": versions["@ai-sdk/openai"],
            **call.as_fixture(),
        }
        path.write_bytes(orjson.dumps(recording, option=orjson.OPT_INDENT_2) + b"\n")
        path.with_name(path.name + ".src").write_text(sidecar(index, call, versions))
        print(f"{path.name}: {call.method} {call.path} -> {call.status}", file=sys.stderr)


if __name__ == "__main__":
    record_all()
