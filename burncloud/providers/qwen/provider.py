"""Alibaba Qwen through DashScope's OpenAI-compatible mode (PROTOCOLS 6).

The channel's base URL is the compatible-mode root, e.g.
``https://dashscope.aliyuncs.com/compatible-mode/v1`` (``dashscope-intl`` for Singapore,
``dashscope-us`` for Virginia; keys are regional). Bodies, answers and streams are OpenAI's,
with DashScope's extras passed through (``enable_thinking``, ``thinking_budget``,
``enable_search``, ``top_k``; ``reasoning_content`` in answers and deltas). Its quirks:

* Qwen3 models think only in streams: a non-stream call with thinking on fails with 400
  ``parameter.enable_thinking must be set to false for non-streaming calls``. Non-stream
  requests to hybrid Qwen3 models, or with ``enable_thinking: true``, are sent with
  ``enable_thinking: false``. Thinking-only models (``*-thinking-*``, QwQ) are left alone,
  as they cannot answer without a stream, and so are non-thinking ``*-instruct-*`` ones.
* Stream usage comes as ``"usage": null`` on every chunk and a last ``choices: []`` chunk;
  the last non-null figure is the one billed (the OpenAI transcoder does both).
"""

from __future__ import annotations

from burncloud.protocols.shapes import JSON
from burncloud.providers.openai import OpenAIProvider


def needs_thinking_off(body: JSON, model: str, stream: bool) -> bool:
    """True when a non-stream request would otherwise reach Qwen3 with thinking on."""
    if stream or body.get("enable_thinking") is False:
        return False
    name = model.lower()
    if "thinking" in name or "instruct" in name or name.startswith(("qwq", "qvq")):
        return False
    return name.startswith("qwen3") or body.get("enable_thinking") is True


class QwenProvider(OpenAIProvider):
    """DashScope compatible mode: OpenAI's provider with thinking kept to streams."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("qwen")

    def prepare(self, body: JSON, model: str, stream: bool) -> JSON:
        """``body`` with ``enable_thinking: false`` where a non-stream call needs it."""
        if needs_thinking_off(body, model, stream):
            return {**body, "enable_thinking": False}
        return body
