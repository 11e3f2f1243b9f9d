"""The strict fake Anthropic upstream takes every request Claude Code was recorded sending,
and still refuses what the API refuses: a ``system`` turn without a beta that allows it,
one that opens the conversation, one that holds more than text."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from tests.clients.recording_proxy import SECRET_HEADERS
from tests.clients.recordings import load_recordings
from tests.fakes.anthropic_upstream import MID_CONVERSATION_SYSTEM_BETAS, FakeAnthropic

RECORDINGS = load_recordings()
WITH_SYSTEM_TURN = "main_turn_default_model"
_NOT_REPLAYED = SECRET_HEADERS | {"host", "content-length", "accept-encoding", "connection"}


async def _replay(fake: FakeAnthropic, recording: dict[str, Any]) -> httpx.Response:
    headers = {k: v for k, v in recording["headers"].items() if k not in _NOT_REPLAYED}
    async with httpx.AsyncClient() as client:
        return await client.request(
            recording["method"],
            fake.base_url + recording["path"],
            params=recording["query"],
            headers=headers | {"x-api-key": fake.key},
            json=recording["body"],
        )


def _without_betas(recording: dict[str, Any], betas: frozenset[str]) -> dict[str, Any]:
    changed = copy.deepcopy(recording)
    names = changed["headers"]["anthropic-beta"].split(",")
    changed["headers"]["anthropic-beta"] = ",".join(n for n in names if n not in betas)
    return changed


def test_the_recordings_hold_a_mid_conversation_system_turn() -> None:
    roles = [m["role"] for m in RECORDINGS[WITH_SYSTEM_TURN]["body"]["messages"]]
    assert roles[:2] == ["user", "system"]


@pytest.mark.parametrize("name", sorted(RECORDINGS))
async def test_every_recorded_request_is_accepted(name: str) -> None:
    async with FakeAnthropic() as fake:
        answer = await _replay(fake, RECORDINGS[name])
    assert answer.status_code == 200, answer.text
    assert fake.requests == [RECORDINGS[name]["body"]]


async def test_a_system_turn_without_its_beta_is_refused() -> None:
    recording = _without_betas(RECORDINGS[WITH_SYSTEM_TURN], MID_CONVERSATION_SYSTEM_BETAS)
    async with FakeAnthropic() as fake:
        answer = await _replay(fake, recording)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("messages.1.role:")


@pytest.mark.parametrize("beta", sorted(MID_CONVERSATION_SYSTEM_BETAS))
async def test_either_beta_allows_a_system_turn(beta: str) -> None:
    recording = _without_betas(RECORDINGS[WITH_SYSTEM_TURN], MID_CONVERSATION_SYSTEM_BETAS)
    recording["headers"]["anthropic-beta"] += f",{beta}"
    async with FakeAnthropic() as fake:
        answer = await _replay(fake, recording)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        (
            [{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}],
            "messages.0.role",
        ),
        (
            [
                {"role": "user", "content": "hi"},
                {"role": "system", "content": [{"type": "image", "source": {}}]},
            ],
            "messages.1: a system turn holds text blocks only",
        ),
        (
            [{"role": "user", "content": "hi"}, {"role": "system", "content": ""}],
            "messages.1: text content blocks must be non-empty",
        ),
        (
            [
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "note"},
                {"role": "user", "content": "again"},
            ],
            "messages.2.role",
        ),
    ],
    ids=["opens-the-conversation", "holds-an-image", "empty", "breaks-alternation"],
)
async def test_a_misplaced_or_malformed_system_turn_is_refused(
    messages: list[dict[str, Any]], problem: str
) -> None:
    recording = copy.deepcopy(RECORDINGS[WITH_SYSTEM_TURN])
    recording["body"]["messages"] = messages
    async with FakeAnthropic() as fake:
        answer = await _replay(fake, recording)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith(problem)
