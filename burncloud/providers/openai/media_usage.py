"""What an image request reserves and bills, and the two shapes every media meter answers
in (``MediaUse`` after the answer, ``MediaReservation`` before sending). Pure: the relay
hands in the request's fields (the JSON body, or a multipart form's text fields) and the
parsed answer. Audio lives in ``audio_usage``.

Billing an image answer (``/v1/images/generations``, ``/edits``, ``/variations``):

- GPT image models report ``usage`` (``ImagesResponse.usage``): billed by tokens, text input
  as input, ``input_tokens_details.image_tokens`` as image input, output as image output
  (text output, when ``output_tokens_details`` splits it off, as output). An ``svg_usage``
  (the SVG author's own tokens) is added as text input and output at the same price.
- Otherwise per image: ``UnitUse("image", len(data), "SIZE/QUALITY")``. Size and quality are
  the answer's own (GPT image models echo what ``auto`` chose), else the request's, else
  the model's default: DALL-E 2 and 3 draw 1024x1024 at "standard" (DALL-E 2 has no other
  quality, DALL-E 3's "auto" is "standard", "hd" its other); GPT image models default to
  "auto" for both. A price per image with no variant covers every size and quality.

The reservation before sending covers both ways of billing, as a model's price names one
or the other: ``n`` images of the requested variant ("auto" taken as the dearest standard
choice, 1024x1536 at "high"), and tokens: the prompt's UTF-8 bytes (at least one byte a
token) and ``INPUT_IMAGE_TOKENS`` per uploaded image, per image drawn (OpenAI bills ``n``
images as ``n`` requests), and ``output_token_ceiling`` per image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.usage import count, token_usage
from burncloud.services.pricing import UnitUse

Fields = Mapping[str, object]  # a JSON body, or a multipart form's text fields

NO_TOKENS = TokenUsage(prompt_tokens=0, completion_tokens=0)
DALL_E_DEFAULTS = {"dall-e-2": ("1024x1024", "standard"), "dall-e-3": ("1024x1024", "standard")}
GPT_IMAGE_DEFAULTS = ("auto", "auto")
DEAREST_AUTO = ("1024x1536", "high")  # what "auto" is reserved as (the priciest standard)

# Output tokens of one 1024x1024 image by quality: GPT Image 1, 1.5 and 1 Mini, from
# OpenAI's image generation guide ("Cost and latency"); other sizes scale with their area
# (1024x1536: 408 / 1584 / 6240, exactly the guide's figures).
SQUARE_IMAGE_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
# GPT Image 2's quality factors in OpenAI's own image cost calculator, whose formula
# (``_gpt_image_2_tokens``) gives 7,024 tokens for 1024x1024 at "high" and 5,488 for
# 1536x1024, as the calculator shows.
GPT_IMAGE_2_FACTORS = {"low": 16, "medium": 48, "high": 96}
UNLISTED_QUALITY_FACTOR = 2  # "xhigh", "max": no published figure; reserved at twice "high"
# Tokens an uploaded image may cost: a few hundred, and about 6,200 more with
# ``input_fidelity: "high"`` (OpenAI's bills for GPT Image 1 edits); rounded up generously.
INPUT_IMAGE_TOKENS = 8_000


@dataclass(frozen=True, slots=True)
class MediaUse:
    """What one media answer bills: the upstream's token usage when it reported one (None
    otherwise: there is nothing for a tokenizer to estimate), and per-unit quantities;
    ``estimated`` when a quantity is a guess rather than a measure."""

    usage: TokenUsage | None
    units: tuple[UnitUse, ...] = ()
    estimated: bool = False

    @property
    def tokens(self) -> TokenUsage:
        """The token usage to log: the reported one, else none at all."""
        return self.usage or NO_TOKENS


@dataclass(frozen=True, slots=True)
class MediaReservation:
    """The most a media request may use, for ``pricing.ceiling_cost``."""

    prompt_tokens: int
    completion_tokens: int
    units: tuple[UnitUse, ...] = ()


def image_metering(fields: Fields, answer: object) -> MediaUse:
    """The use of a whole image answer: its images, and its tokens when reported; the
    model's price decides which bill (a GPT image model priced per image bills its images,
    one priced per token its tokens), as for rerank. The requested ``n`` (estimated) when
    the answer lists no images."""
    answer = answer if isinstance(answer, dict) else {}
    usage = token_usage(answer.get("usage"))
    if usage is not None:
        usage = _with_svg(usage, answer.get("svg_usage"))
    variant = image_variant(fields, answer)
    data = answer.get("data")
    if isinstance(data, list):
        return MediaUse(usage, _images(len(data), variant))
    return MediaUse(usage, _images(requested_images(fields), variant), estimated=usage is None)


def image_reservation(fields: Fields, input_images: int = 0) -> MediaReservation:
    """The most an image request may cost, before it is sent; ``input_images`` is how many
    images an edit uploads (``image``/``image[]`` parts)."""
    images = requested_images(fields)
    size, quality = _requested(fields)
    size = DEAREST_AUTO[0] if size == "auto" else size
    quality = DEAREST_AUTO[1] if quality == "auto" else quality
    prompt = field_text(fields, "prompt") or ""
    per_image = len(prompt.encode()) + max(input_images, 0) * INPUT_IMAGE_TOKENS
    return MediaReservation(
        prompt_tokens=images * per_image,
        completion_tokens=images * output_token_ceiling(size, quality),
        units=_images(images, f"{size}/{quality}"),
    )


def image_variant(fields: Fields, answer: Mapping[str, Any] | None = None) -> str:
    """The "SIZE/QUALITY" an image bills at: the answer's, else the request's, else the
    model's default."""
    size, quality = _requested(fields)
    answer = answer or {}
    echoed_size, echoed_quality = answer.get("size"), answer.get("quality")
    size = echoed_size.lower() if isinstance(echoed_size, str) and echoed_size else size
    quality = echoed_quality if isinstance(echoed_quality, str) and echoed_quality else quality
    return f"{size}/{quality}"


def output_token_ceiling(size: str, quality: str) -> int:
    """The most output tokens one image of ``size`` ("WxH") and ``quality`` may cost on a
    GPT image model: the greater of the GPT Image 1 and GPT Image 2 figures."""
    width, height = _dimensions(size) or (1024, 1536)  # "auto": the dearest standard size
    known = quality if quality in SQUARE_IMAGE_TOKENS else "high"
    by_area = -(-SQUARE_IMAGE_TOKENS[known] * width * height // (1024 * 1024))
    tokens = max(by_area, _gpt_image_2_tokens(width, height, GPT_IMAGE_2_FACTORS[known]))
    unlisted = quality not in SQUARE_IMAGE_TOKENS and quality != "auto"
    return tokens * UNLISTED_QUALITY_FACTOR if unlisted else tokens


def requested_images(fields: Fields) -> int:
    """``n``: how many images the request asks for (1 by default)."""
    return field_count(fields, "n") or 1


def field_text(fields: Fields, name: str) -> str | None:
    """A non-empty text field, stripped; None otherwise."""
    value = fields.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


def field_count(fields: Fields, name: str) -> int | None:
    """A positive whole number given as a JSON number or as form text; None otherwise."""
    value = fields.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _requested(fields: Fields) -> tuple[str, str]:
    """The request's size and quality, the model's defaults filled in."""
    model = (field_text(fields, "model") or "dall-e-2").rsplit("/", 1)[-1].lower()
    family = next((name for name in DALL_E_DEFAULTS if model.startswith(name)), None)
    size, quality = DALL_E_DEFAULTS[family] if family else GPT_IMAGE_DEFAULTS
    size = (field_text(fields, "size") or size).lower()
    quality = (field_text(fields, "quality") or quality).lower()
    if family == "dall-e-2" or (family == "dall-e-3" and quality == "auto"):
        quality = "standard"
    return size, quality


def _images(count: int, variant: str) -> tuple[UnitUse, ...]:
    return (UnitUse("image", Decimal(count), variant),) if count > 0 else ()


def _with_svg(usage: TokenUsage, svg: object) -> TokenUsage:
    """``usage`` plus the SVG author's tokens, as text input and output."""
    if not isinstance(svg, dict):
        return usage
    return replace(
        usage,
        prompt_tokens=usage.prompt_tokens + count(svg.get("input_tokens")),
        completion_tokens=usage.completion_tokens + count(svg.get("output_tokens")),
        reasoning_tokens=usage.reasoning_tokens + count(svg.get("reasoning_tokens")),
    )


def _dimensions(size: str) -> tuple[int, int] | None:
    width, _, height = size.partition("x")
    if not (width.isdigit() and height.isdigit()) or not int(width) or not int(height):
        return None
    return int(width), int(height)


def _gpt_image_2_tokens(width: int, height: int, factor: int) -> int:
    """GPT Image 2's output tokens for one image, as OpenAI's calculator works them out."""
    long_edge, short_edge = max(width, height), min(width, height)
    short_factor = (2 * factor * short_edge + long_edge) // (2 * long_edge)
    return -(-factor * short_factor * (2_000_000 + width * height) // 4_000_000)
