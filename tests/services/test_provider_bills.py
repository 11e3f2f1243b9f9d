"""Our bill against the provider's, for every recorded answer with cache (or audio) usage.

Each recorded usage block goes through the provider module that reads it and the relay's
own billing (``metering.billed_usage`` then ``pricing.cost``); the expected figure is the
provider's published formula worked by hand, in USD: each kind's tokens times the model's
published price of that kind per 1M tokens. The recordings' sources are named in the
``.src`` file beside each fixture.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from burncloud.gateway.relay.metering import billed_usage
from burncloud.money import parse_usd
from burncloud.providers.anthropic.response import token_usage as anthropic_usage
from burncloud.providers.base import TokenUsage
from burncloud.providers.bedrock.response import token_usage as bedrock_usage
from burncloud.providers.gemini.usage import token_usage as gemini_usage
from burncloud.providers.openai.usage import token_usage as openai_usage
from burncloud.services.pricing import Price, cost

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ONE = Decimal(1)
M = Decimal(10**6)


def usd(amount: str) -> int:
    return parse_usd(amount)


# Published list prices, USD per 1M tokens, of the recorded answers' models.
SONNET_4_5 = Price(  # anthropic.com/pricing; the same on Bedrock
    "claude-sonnet-4-5",
    input=usd("3"),
    output=usd("15"),
    cached=usd("0.30"),
    cache_write=usd("3.75"),
    cache_write_1h=usd("6"),
)
GPT_4O = Price("gpt-4o", input=usd("2.50"), output=usd("10"), cached=usd("1.25"))
GPT_4O_AUDIO = Price(  # gpt-4o-audio-preview-2024-12-17: text 2.50 / 10, audio 40 / 80
    "gpt-4o-audio-preview",
    input=usd("2.50"),
    output=usd("10"),
    audio_input=usd("40"),
    audio_output=usd("80"),
)
QWEN_PLUS = Price(  # DashScope international: an implicit cache hit bills 20% of input
    "qwen-plus", input=usd("0.40"), output=usd("1.20"), cached=usd("0.08")
)
GEMINI_2_5_PRO = Price(  # up to 200k prompt tokens; thinking bills as output
    "gemini-2.5-pro", input=usd("1.25"), output=usd("10"), cached=usd("0.125")
)


def _json(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


def _sse_data(path: str) -> Any:
    line = next(x for x in (FIXTURES / path).read_text().splitlines() if x.startswith("data: "))
    return json.loads(line.removeprefix("data: "))


@dataclass(frozen=True, slots=True)
class Recorded:
    fixture: str
    usage: Callable[[], TokenUsage | None]
    price: Price
    provider_usd: Decimal  # the provider's formula, by hand


CASES = [
    Recorded(
        "anthropic/anthropic_nonstream_cache_write_5m_and_read.json",
        lambda: anthropic_usage(
            _json("anthropic/anthropic_nonstream_cache_write_5m_and_read.json")["usage"]
        ),
        SONNET_4_5,
        # 3 uncached, 1,111 read, 418 written for 5 minutes, 33 out
        (3 * Decimal(3) + 1_111 * Decimal("0.30") + 418 * Decimal("3.75") + 33 * 15) / M,
    ),
    Recorded(
        "bedrock/bedrock_converse_nonstream_cache_write_then_read.json (write)",
        lambda: bedrock_usage(
            _json("bedrock/bedrock_converse_nonstream_cache_write_then_read.json")[0]["body"][
                "usage"
            ]
        ),
        SONNET_4_5,
        # 2 uncached, 1,322 written (Bedrock's default 5-minute cache), 5 out
        (2 * Decimal(3) + 1_322 * Decimal("3.75") + 5 * 15) / M,
    ),
    Recorded(
        "bedrock/bedrock_converse_nonstream_cache_write_then_read.json (read)",
        lambda: bedrock_usage(
            _json("bedrock/bedrock_converse_nonstream_cache_write_then_read.json")[1]["body"][
                "usage"
            ]
        ),
        SONNET_4_5,
        (2 * Decimal(3) + 1_322 * Decimal("0.30") + 5 * 15) / M,
    ),
    Recorded(
        "azure/chat_nonstream_cached_tokens.json",
        lambda: openai_usage(_json("azure/chat_nonstream_cached_tokens.json")["usage"]),
        GPT_4O,
        # 2,012 prompt of which 1,920 cached, 23 out
        ((2_012 - 1_920) * Decimal("2.50") + 1_920 * Decimal("1.25") + 23 * 10) / M,
    ),
    Recorded(
        "openai/chat_nonstream_audio_input.json",
        lambda: openai_usage(_json("openai/chat_nonstream_audio_input.json")["usage"]),
        GPT_4O_AUDIO,
        # 64 prompt: 20 text + 44 audio; 9 text out
        (20 * Decimal("2.50") + 44 * 40 + 9 * 10) / M,
    ),
    Recorded(
        "qwen/compat_nonstream_implicit_cache.json",
        lambda: openai_usage(_json("qwen/compat_nonstream_implicit_cache.json")["usage"]),
        QWEN_PLUS,
        # 3,019 prompt of which 2,048 hit the cache, 104 out
        ((3_019 - 2_048) * Decimal("0.40") + 2_048 * Decimal("0.08") + 104 * Decimal("1.20")) / M,
    ),
    Recorded(
        "gemini/usage_event_cached_content.sse",
        lambda: gemini_usage(_sse_data("gemini/usage_event_cached_content.sse")["usageMetadata"]),
        GEMINI_2_5_PRO,
        # prompt 12 + tool-use prompt 65, of which 4 cached; 71 candidates + 89 thoughts out
        ((12 + 65 - 4) * Decimal("1.25") + 4 * Decimal("0.125") + (71 + 89) * 10) / M,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.fixture for case in CASES])
def test_our_bill_is_the_providers_to_the_nano_dollar(case: Recorded) -> None:
    usage = case.usage()
    assert usage is not None
    billed = cost(billed_usage(usage), case.price, ONE)
    assert billed == parse_usd(case.provider_usd)


def test_the_old_model_undercharged_cache_writes() -> None:
    """The issue's example: the 5-minute write at the plain input price is $0.0003 short."""
    usage = anthropic_usage(
        _json("anthropic/anthropic_nonstream_cache_write_5m_and_read.json")["usage"]
    )
    writes_at_input = Price("m", SONNET_4_5.input, SONNET_4_5.output, SONNET_4_5.cached)
    ours = cost(billed_usage(usage), SONNET_4_5, ONE)
    assert ours - cost(billed_usage(usage), writes_at_input, ONE) == usd("0.0003135")
