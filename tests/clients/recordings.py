"""The recorded Claude Code requests in tests/fixtures/clients/claude-code/, for tests to read.

Each ``NAME.json`` is one request as Claude Code sent it (see ``record_claude_code``); tests
take from them the models Claude Code asks for and the request shapes a door must take.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "clients" / "claude-code"


def load_recordings() -> dict[str, dict[str, Any]]:
    """Every recorded request by fixture name (the file name without ``.json``)."""
    return {
        path.stem: orjson.loads(path.read_bytes()) for path in sorted(RECORDINGS.glob("*.json"))
    }


def requested_models() -> tuple[str, ...]:
    """Every model id Claude Code asked for in the recordings, sorted."""
    return tuple(sorted({rec["body"]["model"] for rec in load_recordings().values()}))


def shape(recording: dict[str, Any]) -> dict[str, Any]:
    """What must stay the same between two runs of one scenario: the route, the protocol
    headers and the body's fields, without per-run ids, paths and prompt texts."""
    body, headers = recording["body"], recording["headers"]
    return {
        "route": (recording["method"], recording["path"], recording["query"]),
        "anthropic-version": headers.get("anthropic-version"),
        "anthropic-beta": headers.get("anthropic-beta", "").split(","),
        "credential": sorted(h for h in ("x-api-key", "authorization") if h in headers),
        "user-agent": headers.get("user-agent"),
        "fields": sorted(body),
        "model": body["model"],
        "max_tokens": body["max_tokens"],
        "thinking": body.get("thinking"),
        "roles": [message["role"] for message in body["messages"]],
        "tools": [tool.get("name") for tool in body.get("tools", [])],
    }
