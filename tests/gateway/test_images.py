"""End to end: /v1/images/generations, /edits and /variations through the router, driven by
the official openai SDK (async and sync) against the strict fake OpenAI. Every request is
priced, reserved, routed (failover before the first byte, only to channels serving
images), settled to its exact cost and logged once with its units."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import httpx2  # the openai SDK's HTTP client
import openai
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.db.base import Database
from burncloud.money import format_usd, parse_usd
from burncloud.services.price_edits import set_unit
from burncloud.services.prices import set_price
from burncloud.services.pricing import UnitPrice, UnitUse
from tests.fakes import FakeOpenAI
from tests.fakes.media_files import png_bytes, png_size
from tests.gateway.media_harness import (
    async_client,
    edit,
    images,
    media_router,
    media_router_thread,
    nano,
    only_row,
    per_million,
    second_channel,
    serve,
    sync_client,
    units,
)
from tests.gateway.router_harness import RunningRouter, logged_rows

PROMPT = "a red fox sleeping"  # four words: the fake counts one text token per word


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI("sk-canary-images-upstream") as fake:
        yield fake


def image_use(count: int, variant: str) -> tuple[UnitUse, ...]:
    return (UnitUse("image", Decimal(count), variant),)


async def test_generations_as_url_and_b64_json_bill_each_image_at_its_size_and_quality(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        by_url = await client.images.generate(model="dall-e-3", prompt=PROMPT, quality="hd")
        inline = await client.images.generate(
            model="dall-e-2", prompt=PROMPT, n=2, size="256x256", response_format="b64_json"
        )
        await client.close()
    assert images(by_url)[0].url and images(by_url)[0].revised_prompt
    assert [png_size(base64.b64decode(image.b64_json or "")) for image in images(inline)] == [
        (4, 4),
        (4, 4),
    ]
    assert upstream.requests[0].json == {"model": "dall-e-3", "prompt": PROMPT, "quality": "hd"}
    rows = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["model"], r["status"]) for r in rows] == [
        ("images.generations", "dall-e-3", 200),
        ("images.generations", "dall-e-2", 200),
    ]
    assert [units(r) for r in rows] == [
        image_use(1, "1024x1024/hd"),
        image_use(2, "256x256/standard"),
    ]
    assert [r["cost"] for r in rows] == [nano("0.08"), 2 * nano("0.016")]
    assert [r["estimated"] for r in rows] == [0, 0]


async def test_gpt_image_generations_bill_the_tokens_they_report(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        answer = await client.images.generate(
            model="gpt-image-1", prompt=PROMPT, n=2, quality="low", size="1024x1024"
        )
        await client.close()
    assert answer.usage is not None and answer.usage.output_tokens == 2 * 272
    row = only_row(await logged_rows(router.db_url))
    assert (row["prompt_tokens"], row["completion_tokens"], row["image_output_tokens"]) == (
        4,
        544,
        544,
    )
    assert row["cost"] == per_million(4, "5") + per_million(544, "40")
    # The images are logged too; gpt-image-1 has no price per image: they bill nothing.
    assert (units(row), row["estimated"]) == (image_use(2, "1024x1024/low"), 0)


async def test_streamed_gpt_image_events_are_relayed_and_billed_by_their_usage(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        stream = await client.images.generate(
            model="gpt-image-1", prompt=PROMPT, quality="medium", stream=True, partial_images=1
        )
        events = [event async for event in stream]
        await client.close()
    assert [event.type for event in events] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    row = only_row(await logged_rows(router.db_url))
    assert (row["stream"], row["prompt_tokens"], row["completion_tokens"]) == (1, 4, 1056)
    assert row["cost"] == per_million(4, "5") + per_million(1056, "40")
    assert units(row) == image_use(1, "1024x1024/medium")


async def test_an_edit_goes_up_byte_for_byte_with_only_the_mapped_model_spliced_in(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    """The channel maps the public "painter" to dall-e-2: the upload the SDK sent reaches
    the upstream unchanged but for that one field."""

    async def painter(db: Database, box: SecretBox) -> None:
        async with db.transaction() as tx:
            await set_price(tx, "painter", 0, 0)
            await set_unit(
                tx, "painter", UnitPrice("image", parse_usd("0.018"), "512x512/standard")
            )

    sent: list[bytes] = []

    async def keep(request: httpx2.Request) -> None:
        sent.append(await request.aread())

    image, mask = png_bytes(32, 32), png_bytes(32, 32, (0, 0, 0, 0))
    async with media_router(tmp_path, upstream) as router:
        await edit(router, painter)
        await edit(router, serve("painter", model_map={"painter": "dall-e-2"}))
        http = httpx2.AsyncClient(event_hooks={"request": [keep]})
        client = openai.AsyncOpenAI(
            api_key=router.key, base_url=router.base_url, max_retries=0, http_client=http
        )
        answer = await client.images.edit(
            model="painter",
            image=("fox.png", image, "image/png"),
            mask=("mask.png", mask, "image/png"),
            prompt=PROMPT,
            n=2,
            size="512x512",
            response_format="b64_json",
        )
        await client.close()
    assert len(images(answer)) == 2 and upstream.media.served == [("images/edits", "dall-e-2")]
    received = upstream.last_request.body
    model_field = b'name="model"\r\n\r\n'
    assert received == sent[0].replace(model_field + b"painter", model_field + b"dall-e-2")
    assert image in received and mask in received
    row = only_row(await logged_rows(router.db_url))
    assert (row["endpoint"], row["model"]) == ("images.edits", "painter")
    assert (units(row), row["cost"]) == (image_use(2, "512x512/standard"), 2 * nano("0.018"))


async def test_a_gpt_image_edit_of_two_images_bills_their_input_image_tokens(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    uploads = [("a.png", png_bytes(24, 24), "image/png"), ("b.png", png_bytes(8, 16), "image/png")]
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        await client.images.edit(model="gpt-image-1", image=uploads, prompt=PROMPT, quality="high")
        await client.close()
    row = only_row(await logged_rows(router.db_url))
    image_tokens = 2 * 323  # the fake's tokens per uploaded image
    assert (row["prompt_tokens"], row["image_input_tokens"]) == (4 + image_tokens, image_tokens)
    assert row["completion_tokens"] == row["image_output_tokens"] == 4160
    cost = per_million(4, "5") + per_million(image_tokens, "10") + per_million(4160, "40")
    assert row["cost"] == cost


def test_the_sync_client_makes_variations_and_generations(tmp_path: Path) -> None:
    from tests.fakes import running_fake_openai

    with (
        running_fake_openai("sk-canary-sync-images") as fake,
        media_router_thread(tmp_path, fake) as router,
    ):
        client = sync_client(router)
        with pytest.warns(DeprecationWarning):  # DALL-E 2 is retired at OpenAI
            variation = client.images.create_variation(
                image=("fox.png", png_bytes(64, 64), "image/png"), n=3, size="512x512"
            )
        generated = client.images.generate(model="dall-e-2", prompt=PROMPT)
        client.close()
    assert len(images(variation)) == 3 and images(generated)[0].url
    rows = asyncio.run(logged_rows(router.db_url))
    assert [(r["endpoint"], r["model"], r["cost"]) for r in rows] == [
        ("images.variations", "dall-e-2", 3 * nano("0.018")),
        ("images.generations", "dall-e-2", nano("0.02")),
    ]


async def test_an_edit_the_upstream_refuses_is_its_400_and_costs_nothing(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with media_router(tmp_path, upstream, quota="1") as router:
        client = async_client(router)
        with pytest.raises(openai.BadRequestError) as refused:
            await client.images.edit(
                model="dall-e-2", image=("tall.png", png_bytes(16, 32), "image/png"), prompt=PROMPT
            )
        await client.close()
    assert "square" in refused.value.message
    row = only_row(await logged_rows(router.db_url))
    assert (row["status"], row["cost"]) == (400, 0)
    assert await spent(router) == 0  # the reservation was given back


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        (None, {"prompt": PROMPT}, "'image'"),  # multipart without the image file
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nnot a part", "multipart/form-data"),
        ("application/json", b'{"prompt": "a fox"}', "multipart/form-data"),
        ("multipart/form-data", b"--xyz\r\n", "boundary"),
    ],
)
async def test_a_malformed_edit_is_a_400_before_any_upstream(
    tmp_path: Path,
    upstream: FakeOpenAI,
    content_type: str | None,
    body: dict[str, str] | bytes,
    says: str,
) -> None:
    async with media_router(tmp_path, upstream) as router, httpx.AsyncClient() as http:
        headers = {"Authorization": f"Bearer {router.key}"}
        if isinstance(body, dict):
            answer = await http.post(
                f"{router.base_url}/images/edits",
                data=body,
                files={"mask": ("m.png", png_bytes(2, 2), "image/png")},
                headers=headers,
            )
        else:
            assert content_type is not None
            answer = await http.post(
                f"{router.base_url}/images/edits",
                content=body,
                headers={**headers, "Content-Type": content_type},
            )
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["error"]["message"]
    assert upstream.request_count == 0


async def test_a_failing_channel_hands_the_upload_to_the_next_before_any_byte(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.fail_with(500)
    async with FakeOpenAI("sk-canary-images-second") as second:
        async with media_router(tmp_path, upstream) as router:
            await edit(router, second_channel(second))
            client = async_client(router)
            answer = await client.images.edit(
                model="dall-e-2", image=("fox.png", png_bytes(16, 16), "image/png"), prompt=PROMPT
            )
            await client.close()
        assert images(answer)[0].url
        assert upstream.last_request.body == second.last_request.body  # the same upload
    row = only_row(await logged_rows(router.db_url))
    assert (row["status"], row["channel_id"], row["cost"]) == (200, 2, nano("0.02"))


async def test_only_channels_serving_images_are_picked_else_a_404_names_endpoint_and_model(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with media_router(tmp_path, upstream) as router:
        await edit(router, serve("gpt-4", "dall-e-3", type="openai-compatible"))
        client = async_client(router)
        with pytest.raises(openai.NotFoundError) as refused:
            await client.images.generate(model="dall-e-3", prompt=PROMPT)
        await edit(router, serve("dall-e-3", type="openai-compatible", endpoints=["images"]))
        served = await client.images.generate(model="dall-e-3", prompt=PROMPT)
        await client.close()
    error = refused.value
    assert error.code == "endpoint_not_served"
    assert "images endpoint" in error.message and "'dall-e-3'" in error.message
    assert images(served)[0].url
    assert [r.path for r in upstream.requests] == ["/v1/images/generations"]


async def test_azure_serves_no_variations(tmp_path: Path, upstream: FakeOpenAI) -> None:
    async with media_router(tmp_path, upstream) as router:
        await edit(router, serve("dall-e-2", type="azure", base_url="https://x.openai.azure.com"))
        client = async_client(router)
        with pytest.raises(openai.NotFoundError) as refused, pytest.warns(DeprecationWarning):
            await client.images.create_variation(image=("a.png", png_bytes(8, 8), "image/png"))
        await client.close()
    assert "image_variations endpoint" in refused.value.message
    assert upstream.request_count == 0


async def test_an_unpriced_image_model_is_refused(tmp_path: Path, upstream: FakeOpenAI) -> None:
    async with media_router(tmp_path, upstream) as router:
        await edit(router, serve("gpt-image-9"))
        client = async_client(router)
        with pytest.raises(openai.PermissionDeniedError) as refused:
            await client.images.generate(model="gpt-image-9", prompt=PROMPT)
        await client.close()
    assert refused.value.code == "model_price_not_set"
    assert upstream.request_count == 0


async def test_a_quota_for_two_images_lets_exactly_two_of_six_through(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    quota = format_usd(2 * nano("0.04"))
    async with media_router(tmp_path, upstream, quota=quota) as router:
        client = async_client(router)
        answers = await asyncio.gather(
            *(client.images.generate(model="dall-e-3", prompt=PROMPT) for _ in range(6)),
            return_exceptions=True,
        )
        await client.close()
    refused = [a for a in answers if isinstance(a, openai.APIStatusError)]
    assert len(refused) == 4 and {a.status_code for a in refused} == {402}
    assert await spent(router) == 2 * nano("0.04")
    rows = await logged_rows(router.db_url)
    assert sorted(r["cost"] for r in rows) == [0, 0, 0, 0, nano("0.04"), nano("0.04")]


async def spent(router: RunningRouter) -> int:
    db = await open_database(router.db_url)
    try:
        token = await db.fetch_one(
            "SELECT used FROM tokens WHERE id = :id", {"id": router.token_id}
        )
    finally:
        await db.close()
    assert token is not None
    return int(token["used"])


async def test_an_image_the_balance_cannot_cover_whole_is_refused_not_cut_short(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    """A chat request is capped to what the balance affords; an image has no answer limit
    to cap: $0.005 pays its prompt but not its 272 image tokens at $40/1M, so a 402."""
    async with media_router(tmp_path, upstream, quota="0.005") as router:
        client = async_client(router)
        with pytest.raises(openai.APIStatusError) as refused:
            await client.images.generate(
                model="gpt-image-1", prompt=PROMPT, quality="low", size="1024x1024"
            )
        await client.close()
    assert refused.value.status_code == 402
    assert upstream.request_count == 0 and await spent(router) == 0
