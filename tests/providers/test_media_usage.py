"""Image metering: what an image answer bills (tokens when a GPT image model reports them,
else images by size and quality), what a request reserves, and the bill each comes to at
public prices through ``services.pricing``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from openai.types import ImagesResponse

from burncloud.money import parse_usd
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.media_usage import (
    INPUT_IMAGE_TOKENS,
    NO_TOKENS,
    MediaReservation,
    MediaUse,
    field_count,
    image_metering,
    image_reservation,
    image_variant,
    output_token_ceiling,
)
from burncloud.services.pricing import (
    Price,
    Rates,
    UnitPrice,
    UnitUse,
    Usage,
    bill_lines,
    ceiling_cost,
    cost,
)

ONE = Decimal(1)


def _per_image(model: str, **variants: str) -> Price:
    units = tuple(UnitPrice("image", parse_usd(usd), variant) for variant, usd in variants.items())
    return Price(model=model, input=0, output=0, units=units)


DALL_E_3 = _per_image(
    "dall-e-3",
    **{"1024x1024/standard": "0.04", "1024x1024/hd": "0.08", "1792x1024/standard": "0.08"},
)
DALL_E_2 = _per_image("dall-e-2", **{"512x512/standard": "0.018", "1024x1024/standard": "0.02"})
GPT_IMAGE_1 = Price.named(
    "gpt-image-1",
    Rates(input=parse_usd("5"), image_input=parse_usd("10"), image_output=parse_usd("40")),
)


def _bill(use: MediaUse, price: Price) -> int:
    """What the relay bills: the token usage (none if unreported) plus the units."""
    tokens = use.tokens
    usage = Usage(
        prompt_tokens=tokens.prompt_tokens,
        completion_tokens=tokens.completion_tokens,
        image_input_tokens=tokens.image_input_tokens,
        image_output_tokens=tokens.image_output_tokens,
        audio_input_tokens=tokens.audio_input_tokens,
        audio_output_tokens=tokens.audio_output_tokens,
        units=use.units,
    )
    return cost(usage, price, ONE)


def _answer(images: int, **extra: Any) -> dict[str, Any]:
    data = [
        {"url": f"https://example.invalid/{i}.png", "revised_prompt": "a cat"}
        for i in range(images)
    ]
    answer = {"created": 1_700_000_000, "data": data, **extra}
    ImagesResponse.model_validate(answer)  # the shape the official SDK reads
    return answer


def test_dall_e_3_bills_one_image_at_the_default_size_and_quality() -> None:
    use = image_metering({"model": "dall-e-3", "prompt": "a cat"}, _answer(1))
    assert use == MediaUse(None, (UnitUse("image", Decimal(1), "1024x1024/standard"),))
    assert use.tokens == NO_TOKENS
    assert _bill(use, DALL_E_3) == parse_usd("0.04")


def test_dall_e_3_hd_and_wide_sizes_bill_at_their_own_prices() -> None:
    hd = image_metering({"model": "dall-e-3", "quality": "hd"}, _answer(1))
    wide = image_metering({"model": "dall-e-3", "size": "1792x1024", "quality": "auto"}, _answer(1))
    assert _bill(hd, DALL_E_3) == parse_usd("0.08")
    assert wide.units[0].variant == "1792x1024/standard"  # dall-e-3's "auto" is standard
    assert _bill(wide, DALL_E_3) == parse_usd("0.08")


def test_multipart_variation_counts_the_images_returned() -> None:
    form = {"model": "dall-e-2", "n": "3", "size": "512x512", "response_format": "b64_json"}
    use = image_metering(form, _answer(3))
    assert use.units == (UnitUse("image", Decimal(3), "512x512/standard"),)
    assert _bill(use, DALL_E_2) == parse_usd("0.054")


def test_gpt_image_usage_bills_text_input_image_input_and_image_output() -> None:
    usage = {
        "input_tokens": 250,
        "input_tokens_details": {"text_tokens": 50, "image_tokens": 200},
        "output_tokens": 4160,
        "total_tokens": 4410,
    }
    answer = _answer(1, usage=usage, size="1024x1024", quality="high")
    use = image_metering({"model": "gpt-image-1", "prompt": "a cat"}, answer)
    assert use.units == (UnitUse("image", Decimal(1), "1024x1024/high"),)  # no unit price here
    assert use.usage == TokenUsage(
        prompt_tokens=250,
        completion_tokens=4160,
        image_input_tokens=200,
        image_output_tokens=4160,
    )
    # 50 text tokens at $5/1M + 200 image tokens at $10/1M + 4,160 out at $40/1M
    assert _bill(use, GPT_IMAGE_1) == parse_usd("0.16865")


def test_a_gpt_image_model_priced_per_image_bills_its_images_despite_its_usage() -> None:
    usage = {
        "input_tokens": 9,
        "input_tokens_details": {"text_tokens": 9, "image_tokens": 0},
        "output_tokens": 4160,
        "total_tokens": 4169,
    }
    answer = _answer(2, usage=usage, size="1024x1024", quality="high")
    use = image_metering({"model": "gpt-image-1", "prompt": "a cat", "n": 2}, answer)
    per_image = Price(
        model="gpt-image-1",
        input=0,
        output=0,
        units=(UnitPrice("image", parse_usd("0.167"), "1024x1024/high"),),
    )
    assert _bill(use, per_image) == parse_usd("0.334")


def test_gpt_image_text_output_tokens_bill_as_output() -> None:
    usage = {
        "input_tokens": 20,
        "input_tokens_details": {"text_tokens": 20, "image_tokens": 0},
        "output_tokens": 1100,
        "output_tokens_details": {"image_tokens": 1056, "text_tokens": 44},
        "total_tokens": 1120,
    }
    use = image_metering({"model": "gpt-image-1"}, _answer(1, usage=usage))
    assert use.usage is not None
    assert (use.usage.image_output_tokens, use.usage.completion_tokens) == (1056, 1100)
    price = Price.named(
        "m", Rates(input=parse_usd("5"), output=parse_usd("10"), image_output=parse_usd("40"))
    )
    assert _bill(use, price) == parse_usd("0.00001") * 10 + parse_usd("0.04224") + parse_usd(
        "0.00044"
    )


def test_svg_authoring_tokens_are_added_as_text() -> None:
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
        "output_tokens": 272,
        "total_tokens": 282,
    }
    svg = {
        "input_tokens": 300,
        "model": "gpt-5",
        "output_tokens": 900,
        "reasoning_tokens": 400,
        "total_tokens": 1200,
    }
    use = image_metering({"model": "gpt-image-2"}, _answer(1, usage=usage, svg_usage=svg))
    assert use.usage is not None
    assert use.usage.prompt_tokens == 310
    assert use.usage.completion_tokens == 1172
    assert use.usage.image_output_tokens == 272
    assert use.usage.reasoning_tokens == 400


def test_gpt_image_without_usage_bills_the_size_and_quality_it_echoes() -> None:
    answer = _answer(2, size="1536x1024", quality="medium")
    use = image_metering({"model": "gpt-image-1", "n": 2, "quality": "auto"}, answer)
    assert use.units == (UnitUse("image", Decimal(2), "1536x1024/medium"),)
    assert image_variant({"model": "gpt-image-1"}) == "auto/auto"


def test_an_answer_without_a_list_of_images_bills_the_requested_n_as_an_estimate() -> None:
    use = image_metering({"model": "dall-e-2", "n": 2}, {"created": 1})
    assert use.estimated
    assert use.units == (UnitUse("image", Decimal(2), "1024x1024/standard"),)
    assert image_metering({"model": "dall-e-2"}, _answer(0)).units == ()


def test_a_price_per_image_without_a_variant_covers_every_size() -> None:
    # LiteLLM's per-image prices (an import) have no size: they cover every variant, and a
    # variant priced on its own still bills at its own price.
    price = _per_image("dall-e-3", **{"": "0.05", "1024x1024/standard": "0.04"})
    wide_hd = image_metering(
        {"model": "dall-e-3", "size": "1792x1024", "quality": "hd"}, _answer(1)
    )
    assert _bill(wide_hd, price) == parse_usd("0.05")
    assert _bill(image_metering({"model": "dall-e-3"}, _answer(1)), price) == parse_usd("0.04")
    usage = Usage(0, 0, units=wide_hd.units)
    assert [line.describe() for line in bill_lines(usage, price)] == [
        "1 images (1792x1024/hd) x $0.05 = $0.05"
    ]


def test_an_unpriced_variant_bills_nothing_and_says_so() -> None:
    use = image_metering({"model": "dall-e-3", "size": "1024x1792"}, _answer(1))
    assert _bill(use, DALL_E_3) == 0
    lines = bill_lines(Usage(0, 0, units=use.units), DALL_E_3)
    assert [line.describe() for line in lines] == [
        "1 images (1024x1792/standard): no price, not billed"
    ]


# -- reservations ------------------------------------------------------------------------


def test_dall_e_reservation_is_n_images_of_the_requested_variant() -> None:
    reserved = image_reservation({"model": "dall-e-2", "n": "3", "size": "512x512"})
    assert reserved.units == (UnitUse("image", Decimal(3), "512x512/standard"),)
    assert ceiling_cost(
        reserved.prompt_tokens, reserved.completion_tokens, DALL_E_2, ONE, reserved.units
    ) == parse_usd("0.054")


def test_gpt_image_reservation_covers_the_dearest_choice_auto_may_make() -> None:
    fields = {"model": "gpt-image-1", "prompt": "a red fox", "n": 2}
    reserved = image_reservation(fields, input_images=1)
    assert reserved == MediaReservation(
        prompt_tokens=2 * (len("a red fox") + INPUT_IMAGE_TOKENS),
        completion_tokens=2 * output_token_ceiling("1024x1536", "high"),
        units=(UnitUse("image", Decimal(2), "1024x1536/high"),),
    )
    ceiling = ceiling_cost(
        reserved.prompt_tokens, reserved.completion_tokens, GPT_IMAGE_1, ONE, reserved.units
    )
    usage = {
        "input_tokens": 2 * (3 + 323),
        "input_tokens_details": {"text_tokens": 6, "image_tokens": 646},
        "output_tokens": 2 * 6240,
        "total_tokens": 2 * 6566,
    }
    billed = _bill(image_metering(fields, _answer(2, usage=usage)), GPT_IMAGE_1)
    assert ceiling >= billed > 0


def test_the_prompt_reserves_one_token_a_byte() -> None:
    reserved = image_reservation(
        {"model": "gpt-image-1", "prompt": "猫の絵", "quality": "low", "size": "1024x1024"}
    )
    assert reserved.prompt_tokens == len("猫の絵".encode())
    assert reserved.completion_tokens == 272


# OpenAI's image generation guide: GPT Image 1's output tokens by quality and size.
GUIDE = {
    ("low", "1024x1024"): 272,
    ("low", "1024x1536"): 408,
    ("low", "1536x1024"): 400,
    ("medium", "1024x1024"): 1056,
    ("medium", "1024x1536"): 1584,
    ("medium", "1536x1024"): 1568,
    ("high", "1024x1024"): 4160,
    ("high", "1024x1536"): 6240,
    ("high", "1536x1024"): 6208,
}
# OpenAI's image cost calculator for GPT Image 2 at "high".
CALCULATOR = {"1024x1024": 7024, "1536x1024": 5488, "1792x1024": 5063, "3584x2048": 12329}


@pytest.mark.parametrize(("quality", "size"), GUIDE)
def test_output_ceiling_covers_the_published_gpt_image_1_figures(quality: str, size: str) -> None:
    assert output_token_ceiling(size, quality) >= GUIDE[quality, size]


@pytest.mark.parametrize("size", CALCULATOR)
def test_output_ceiling_covers_gpt_image_2_and_matches_its_calculator(size: str) -> None:
    ceiling = output_token_ceiling(size, "high")
    assert ceiling >= CALCULATOR[size]
    width, height = (int(side) for side in size.split("x"))
    by_area = -(-4160 * width * height // (1024 * 1024))
    assert ceiling == max(CALCULATOR[size], by_area)  # the formula reproduces the calculator


def test_exact_figures_where_one_model_is_dearest() -> None:
    assert output_token_ceiling("1024x1024", "low") == 272
    assert output_token_ceiling("1024x1536", "medium") == 1584  # GPT Image 2 needs fewer
    assert output_token_ceiling("auto", "auto") == output_token_ceiling("1024x1536", "high")
    assert output_token_ceiling("1024x1024", "xhigh") == 2 * 7024


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        ("4", 4),
        (" 2 ", 2),
        (0, None),
        (-1, None),
        ("two", None),
        (True, None),
        (1.5, None),
        (None, None),
    ],
)
def test_counts_come_from_json_numbers_or_form_text(value: object, expected: int | None) -> None:
    assert field_count({"n": value}, "n") == expected
    assert image_reservation({"model": "dall-e-2", "n": value}).units[0].quantity == (expected or 1)
