"""The fake Bedrock's Converse check holds Claude's rules on extended thinking, and accepts
the tool-loop request real Bedrock accepted (recorded)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fakes.bedrock_upstream import converse_problem

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bedrock"
ACCEPTED = orjson.loads(
    (FIXTURES / "bedrock_converse_claude_thinking_tool_loop.request.json").read_bytes()
)


def edited(change: str, value: Any) -> dict[str, Any]:
    """``ACCEPTED`` with the member at dotted path ``change`` set to ``value``."""
    body = copy.deepcopy(ACCEPTED)
    *path, last = change.split(".")
    target = body
    for key in path:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


UNSIGNED = {"reasoningContent": {"reasoningText": {"text": "Unsigned."}}}
REFUSED = [
    (edited("additionalModelRequestFields.thinking.budget_tokens", 512), "budget_tokens"),
    (edited("inferenceConfig.maxTokens", 1024), "`max_tokens` must be greater"),
    (edited("inferenceConfig.temperature", 0.5), "`temperature` may only be set to 1"),
    (edited("inferenceConfig.topP", 0.5), "`top_p`"),
    (edited("additionalModelRequestFields.top_k", 5), "`top_k`"),
    (edited("toolConfig.toolChoice", {"any": {}}), "forces tool use"),
    (edited("messages.1.content.0", UNSIGNED), "messages.1.content.0.thinking.signature"),
    (edited("messages.1.content.0", {"text": "No reasoning."}), "but found `text`"),
]


@pytest.mark.parametrize(("body", "message"), REFUSED)
def test_claudes_thinking_rules_are_enforced(body: dict[str, Any], message: str) -> None:
    problem = converse_problem(body, claude=True)
    assert problem is not None and message in problem
    assert converse_problem(body) is None  # Claude's rules, not every model's


@pytest.mark.parametrize(
    "body",
    [
        ACCEPTED,
        edited("inferenceConfig.maxTokens", 5120),
        edited("inferenceConfig.temperature", 1),
        edited("inferenceConfig.topP", 0.95),
        edited("additionalModelRequestFields.thinking", {"type": "disabled"}),
        edited("messages.1.content.0", {"reasoningContent": {"redactedContent": "RXR3"}}),
    ],
)
def test_what_claude_accepts_passes(body: dict[str, Any]) -> None:
    assert converse_problem(body, claude=True) is None


def test_without_thinking_an_assistant_tool_turn_needs_no_reasoning() -> None:
    body = edited("messages.1.content.0", {"text": "No reasoning."})
    del body["additionalModelRequestFields"]
    assert converse_problem(body, claude=True) is None
