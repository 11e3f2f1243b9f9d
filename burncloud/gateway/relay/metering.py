"""Usage of one answer: the upstream's own figures, or a tokenizer estimate marked as such."""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.gateway.relay.streaming import StreamMeter
from burncloud.services.pricing import Usage


def usage_from_openai(data: dict[str, Any]) -> Usage:
    """An OpenAI ``usage`` object as a Usage (cached tokens from prompt_tokens_details)."""
    details = data.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(data.get("prompt_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
    )


def whole_usage(raw: bytes) -> Usage | None:
    """The usage of a whole OpenAI response body, or None when it reports none."""
    data = _json(raw)
    if data is not None and isinstance(data.get("usage"), dict):
        return usage_from_openai(data["usage"])
    return None


def rough_usage(request: InboundRequest, answer_chars: int) -> Usage:
    """A cheap estimate (bytes / 4) usable anywhere, even while being cancelled."""
    return Usage(len(request.body) // 4 + 1, (answer_chars + 3) // 4)


async def estimate_whole(estimator: TokenEstimator, request: InboundRequest, raw: bytes) -> Usage:
    """Tokenizer estimate for a whole answer that carried no usage."""
    data = _json(raw) or {}
    texts = [
        text
        for choice in data.get("choices") or ()
        for text in (choice.get("text"), (choice.get("message") or {}).get("content"))
        if isinstance(text, str)
    ]
    prompt = await estimator.prompt_tokens(request.data, request.model)
    return Usage(prompt, await estimator.completion_tokens(texts, request.model))


async def estimate_texts(
    estimator: TokenEstimator, request: InboundRequest, texts: list[str]
) -> Usage:
    """Tokenizer estimate from the request and the generated texts a converter kept."""
    prompt = await estimator.prompt_tokens(request.data, request.model)
    return Usage(prompt, await estimator.completion_tokens(texts, request.model))


async def estimate_stream(
    estimator: TokenEstimator, request: InboundRequest, meter: StreamMeter
) -> Usage:
    """Tokenizer estimate for a stream without usage, scaled from the meter's sample."""
    prompt = await estimator.prompt_tokens(request.data, request.model)
    sampled = await estimator.completion_tokens(meter.sample, request.model)
    if meter.sample_chars and meter.text_chars > meter.sample_chars:
        sampled = -(-sampled * meter.text_chars // meter.sample_chars)
    return Usage(prompt, sampled)


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
