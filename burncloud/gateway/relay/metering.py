"""One way to meter: every forwarding mode leaves a ``Metered`` on the exchange, and one
function turns it into the log row's usage and its ``estimated`` flag.

A mode knows the upstream's own usage when the upstream reported it; otherwise it keeps the
generated text it saw (a sample of it when the answer is long, with the total count), and
the request it sent, from which a tokenizer estimates. While a request is being cancelled
nothing may wait, so ``rough_usage`` (bytes / 4) is always at hand; ``measure`` replaces it
with the tokenizer's figure once the request finished.

Endpoints without tokens of their own: a moderations answer reports no usage, so its input
is estimated by the tokenizer as for embeddings without usage (the model's input price,
plus its flat request price when it has one; nothing is generated). A rerank answer is
billed in searches (``UnitUse("search")``: Cohere's ``meta.billed_units.search_units``
when reported, else one per request) plus, when it reports ``usage.total_tokens``
(Jina, vLLM), those tokens as input: each side bills at what the model's price names, so
an operator prices rerank per search (``price unit MODEL --per search``) or by tokens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from decimal import Decimal

from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.gateway.relay.inbound import InboundRequest, positive_int
from burncloud.providers.base import TokenUsage
from burncloud.services.pricing import UnitUse, Usage

log = logging.getLogger("burncloud.relay")


@dataclass(slots=True)
class Metered:
    """What a forwarding mode learned of one answer's size."""

    prompt: InboundRequest  # the request the upstream was sent (OpenAI shape), for estimates
    usage: TokenUsage | None = None  # the upstream's own figure
    texts: list[str] = field(default_factory=list)  # generated text, or a sample of it
    text_chars: int = 0  # every generated character (more than the sample's when long)
    units: tuple[UnitUse, ...] = ()  # per-unit use besides tokens (a rerank's searches)
    estimated: bool = False  # a quantity is a guess (a media answer that did not say)

    @classmethod
    def of(
        cls, prompt: InboundRequest, usage: TokenUsage | None, texts: list[str], chars: int = -1
    ) -> Metered:
        """``chars`` defaults to the texts' own length (they are the whole answer)."""
        total = sum(len(text) for text in texts) if chars < 0 else chars
        return cls(prompt, usage, texts, total)


def billed_usage(usage: TokenUsage) -> Usage:
    """The upstream's usage, in the terms a price bills: every token kind it reported,
    and its server-side tool calls as per-call units."""
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        audio_input_tokens=usage.audio_input_tokens,
        image_input_tokens=usage.image_input_tokens,
        audio_output_tokens=usage.audio_output_tokens,
        image_output_tokens=usage.image_output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        units=tuple(UnitUse("call", Decimal(n), kind) for kind, n in usage.tool_calls if n),
    )


def rough_usage(metered: Metered) -> Usage:
    """The usage to bill now: the upstream's, else a cheap estimate (bytes / 4; an image
    or audio upload is no text: what it bills unanswered)."""
    if metered.usage is not None:
        usage = billed_usage(metered.usage)
        return _with_units(usage, metered) if metered.units else usage
    if metered.prompt.media is not None:
        return metered.prompt.media.unanswered
    return Usage(len(metered.prompt.body) // 4 + 1, (metered.text_chars + 3) // 4)


async def measure(metered: Metered, estimator: TokenEstimator) -> tuple[Usage, bool]:
    """The usage to bill and whether it is estimated: the upstream's, else the tokenizer's
    count of the prompt and the generated text (scaled from the sample to the whole)."""
    if metered.usage is not None:
        usage = billed_usage(metered.usage)
        return (_with_units(usage, metered) if metered.units else usage), metered.estimated
    if metered.prompt.media is not None:
        return rough_usage(metered), True
    try:
        return await _estimate(metered, estimator), True
    except Exception:
        log.exception("token estimate failed; billing the rough estimate")
        return rough_usage(metered), True


def _with_units(usage: Usage, metered: Metered) -> Usage:
    return replace(usage, units=usage.units + metered.units)


def rerank_metered(prompt: InboundRequest, answer: object) -> Metered:
    """What a whole rerank answer bills: its searches (Cohere's ``search_units``, else one)
    and the tokens it reports as used (``usage.total_tokens``), as input tokens."""
    answer = answer if isinstance(answer, dict) else {}
    meta, usage = answer.get("meta"), answer.get("usage")
    billed = meta.get("billed_units") if isinstance(meta, dict) else None
    searches = _searches(billed.get("search_units") if isinstance(billed, dict) else None)
    tokens = positive_int(usage.get("total_tokens")) if isinstance(usage, dict) else None
    units = (UnitUse("search", searches),)
    return Metered(prompt, TokenUsage(prompt_tokens=tokens or 0, completion_tokens=0), units=units)


def _searches(reported: object) -> Decimal:
    """Cohere's ``search_units`` (a number, at least one search), else one."""
    if isinstance(reported, int | float) and not isinstance(reported, bool) and reported > 0:
        return Decimal(str(reported))
    return Decimal(1)


async def _estimate(metered: Metered, estimator: TokenEstimator) -> Usage:
    request = metered.prompt
    prompt = await estimator.prompt_tokens(request.data, request.model)
    completion = await estimator.completion_tokens(metered.texts, request.model)
    sampled = sum(len(text) for text in metered.texts)
    if sampled and metered.text_chars > sampled:
        completion = -(-completion * metered.text_chars // sampled)
    return Usage(prompt, completion)


def answer_texts(answer: object) -> list[str]:
    """The generated texts of a whole OpenAI answer (chat or legacy completion): content,
    reasoning, refusals, tool-call names and arguments, for an estimate."""
    texts: list[object] = []
    choices = answer.get("choices") if isinstance(answer, dict) else None
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        message = message if isinstance(message, dict) else {}
        texts += [choice.get("text"), message.get("content"), message.get("refusal")]
        texts.append(message.get("reasoning_content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                texts += [function.get("name"), function.get("arguments")]
    return [text for text in texts if isinstance(text, str) and text]
