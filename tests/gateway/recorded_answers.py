"""What a recorded upstream answer says, read from the fixture itself: its text and usage.

The converted-path tests check the router's Response and log row against these, so the
expected text and token counts come from the recording the fake replays, not from a copy
of its numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded answer's text and the usage the router must bill."""

    text: str
    prompt: int  # input tokens, cache reads and writes included
    completion: int  # output tokens, reasoning included
    reasoning: int = 0  # reasoning tokens among the output tokens, where reported
    thinking: str = ""  # Claude's thinking text


def _data_lines(path: Path) -> Iterator[Any]:
    for line in path.read_bytes().splitlines():
        if line.startswith(b"data:") and line[5:].strip() != b"[DONE]":
            yield orjson.loads(line[5:])


def _json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def _anthropic_prompt(usage: dict[str, Any]) -> int:
    cache = int(usage.get("cache_creation_input_tokens", 0))
    return int(usage["input_tokens"]) + cache + int(usage.get("cache_read_input_tokens", 0))


def anthropic_answer(name: str) -> Recorded:
    """A whole Messages API answer in tests/fixtures/anthropic."""
    answer = _json(FIXTURES / "anthropic" / name)
    text = "".join(b["text"] for b in answer["content"] if b["type"] == "text")
    thinking = "".join(b["thinking"] for b in answer["content"] if b["type"] == "thinking")
    usage = answer["usage"]
    return Recorded(text, _anthropic_prompt(usage), usage["output_tokens"], thinking=thinking)


def anthropic_stream(name: str) -> Recorded:
    """A Messages API stream in tests/fixtures/anthropic."""
    text, thinking, prompt, completion = "", "", 0, 0
    for event in _data_lines(FIXTURES / "anthropic" / name):
        delta = event.get("delta", {})
        if event["type"] == "message_start":
            prompt = _anthropic_prompt(event["message"]["usage"])
        elif event["type"] == "message_delta":
            completion = event["usage"]["output_tokens"]
        elif delta.get("type") == "text_delta":
            text += delta["text"]
        elif delta.get("type") == "thinking_delta":
            thinking += delta["thinking"]
    return Recorded(text, prompt, completion, thinking=thinking)


def _gemini(chunks: list[Any]) -> Recorded:
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
    usage = chunks[-1]["usageMetadata"]
    thoughts = usage.get("thoughtsTokenCount", 0)
    completion = usage.get("candidatesTokenCount", 0) + thoughts
    return Recorded(text, usage["promptTokenCount"], completion, thoughts)


def gemini_answer(name: str) -> Recorded:
    return _gemini([_json(FIXTURES / "gemini" / name)])


def gemini_stream(name: str) -> Recorded:
    return _gemini(list(_data_lines(FIXTURES / "gemini" / name)))


def bedrock_answer(name: str) -> Recorded:
    answer = _json(FIXTURES / "bedrock" / name)
    text = "".join(b.get("text", "") for b in answer["output"]["message"]["content"])
    usage = answer["usage"]
    return Recorded(text, usage["inputTokens"], usage["outputTokens"])


def bedrock_stream(name: str) -> Recorded:
    """A ConverseStream recording (its ``.decoded.jsonl``) in tests/fixtures/bedrock."""
    lines = (FIXTURES / "bedrock" / f"{name}.decoded.jsonl").read_text().splitlines()
    payloads = [orjson.loads(line)["payload"] for line in lines]
    text = "".join(p["delta"].get("text", "") for p in payloads if "delta" in p)
    usage = payloads[-1]["usage"]
    return Recorded(text, usage["inputTokens"], usage["outputTokens"])


def _chat_usage(usage: dict[str, Any]) -> tuple[int, int]:
    return usage["prompt_tokens"], usage["completion_tokens"]


def chat_answer(provider: str, name: str) -> Recorded:
    """A whole OpenAI-style ``chat.completion`` (Qwen's compatible mode)."""
    answer = _json(FIXTURES / provider / name)
    return Recorded(answer["choices"][0]["message"]["content"], *_chat_usage(answer["usage"]))


def chat_stream(provider: str, name: str) -> Recorded:
    chunks = list(_data_lines(FIXTURES / provider / name))
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    usage = next(c["usage"] for c in reversed(chunks) if c.get("usage"))
    return Recorded("".join(d.get("content") or "" for d in deltas), *_chat_usage(usage))
