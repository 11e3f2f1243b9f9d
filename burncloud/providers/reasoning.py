"""Claude's extended thinking for requests converted from OpenAI chat, shared by the Anthropic
(Messages) and Bedrock (Converse) providers: which budget a request asks for, and how it fits
under the answer's token limit.

The budget comes from a ``thinking`` object in the chat body (``{"type": "enabled",
"budget_tokens": N}``, the LiteLLM convention) or else from ``reasoning_effort`` through
``THINKING_BUDGETS``. Claude counts thinking inside ``max_tokens`` and needs the budget to
be at least 1024 and below ``max_tokens``. OpenAI likewise counts reasoning inside
``max_completion_tokens``, and the relay writes the balance's cap into that field, so an
explicit limit is never raised: the budget shrinks to fit under it (thinking stays off when
less than 1024 would be left). Without one, the budget is added to the default answer room,
up to the model's output limit (``output_limits``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.providers.output_limits import output_limit

THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 24576}
MIN_THINKING_BUDGET = 1024
ANSWER_ROOM = 4096  # the answer's own tokens beside the thinking, when no limit is asked


@dataclass(frozen=True, slots=True)
class ThinkingFit:
    """A thinking budget and the ``max_tokens`` it fits under (budget < max_tokens)."""

    budget: int
    max_tokens: int


def requested_budget(body: Mapping[str, Any]) -> int | None:
    """The thinking budget ``body`` asks for; None when it asks for none (or ``"none"``)."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled"):
        return _object_budget(thinking)
    effort = body.get("reasoning_effort")
    if effort is None or effort == "none":
        return None
    if effort not in THINKING_BUDGETS:
        raise InvalidRequest(f"unsupported reasoning_effort {effort!r}")
    return THINKING_BUDGETS[effort]


def _object_budget(thinking: Mapping[str, Any]) -> int | None:
    if thinking["type"] == "disabled":
        return None
    budget = thinking.get("budget_tokens")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        raise InvalidRequest(f"thinking.budget_tokens must be an integer >= {MIN_THINKING_BUDGET}")
    return budget


def fit_thinking(
    budget: int, max_tokens: int, *, explicit: bool, limit: int | None
) -> ThinkingFit | None:
    """``budget`` under ``max_tokens`` (kept when ``explicit``, else raised by the budget up
    to ``limit``); None when less than the minimum budget fits."""
    if not explicit:
        max_tokens += budget
        if limit is not None:
            max_tokens = min(max_tokens, limit)
    budget = min(budget, max_tokens - 1)
    return ThinkingFit(budget, max_tokens) if budget >= MIN_THINKING_BUDGET else None


def claude_output_limit(model: str, config: Mapping[str, str]) -> int | None:
    """The output limit of a Claude ``model``, also named as a Bedrock id
    (``us.anthropic.claude-sonnet-4-5-20250929-v1:0``); None when unknown."""
    start = model.lower().find("claude")
    return output_limit(model[start:] if start >= 0 else model, config)
