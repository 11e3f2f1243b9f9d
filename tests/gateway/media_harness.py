"""A router whose channel serves OpenAI's image and audio models, each priced as OpenAI
prices it, for the image and audio tests; and the arithmetic of their exact costs."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
from openai.types import Image, ImagesResponse

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.db.base import Database
from burncloud.money import parse_usd
from burncloud.services.channels import add_channel, update_channel
from burncloud.services.logged_usage import decode_units
from burncloud.services.price_edits import set_rates, set_unit
from burncloud.services.prices import set_price
from burncloud.services.pricing import Rates, UnitPrice, UnitUse
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import SECRET, RunningRouter, running_router, wait_for_reload

NANO_PER_USD = 1_000_000_000
IMAGE_PRICES = {  # USD per image, by "SIZE/QUALITY"
    "dall-e-2": {
        "1024x1024/standard": "0.02",
        "512x512/standard": "0.018",
        "256x256/standard": "0.016",
    },
    "dall-e-3": {
        "1024x1024/standard": "0.04",
        "1024x1024/hd": "0.08",
        "1792x1024/standard": "0.08",
    },
}
TOKEN_PRICES = {  # USD per 1M tokens
    "gpt-image-1": Rates(input=parse_usd("5"), output=parse_usd("40"), image_input=parse_usd("10")),
    "gpt-4o-mini-tts": Rates(input=parse_usd("0.6"), output=parse_usd("12")),
    "gpt-4o-transcribe": Rates(
        input=parse_usd("2.5"), output=parse_usd("10"), audio_input=parse_usd("6")
    ),
}
UNIT_PRICES = {  # USD per block of the unit: 1M characters, one minute
    "tts-1": UnitPrice("characters", parse_usd("15")),
    "whisper-1": UnitPrice("minute", parse_usd("0.006")),
}
MEDIA_MODELS = (*IMAGE_PRICES, *TOKEN_PRICES, *UNIT_PRICES)


def nano(usd: str) -> int:
    return parse_usd(usd)


def per_million(tokens: int, usd: str) -> int:
    """The exact nano-USD of ``tokens`` at ``usd`` per 1M (whole here by construction)."""
    amount = Decimal(tokens) * Decimal(usd) * NANO_PER_USD / 1_000_000
    assert amount == amount.to_integral_value(), amount
    return int(amount)


def minutes_cost(seconds: Decimal) -> int:
    """whisper-1's $0.006 a minute for ``seconds``, rounded half up once, as billing does."""
    amount = seconds * nano("0.006") / 60
    return int(amount.quantize(Decimal(1), rounding="ROUND_HALF_UP"))


async def edit(router: RunningRouter, change: Any) -> None:
    """Apply ``change(db, box)`` to the router's database and wait until it serves it."""
    db = await open_database(router.db_url)
    try:
        await change(db, SecretBox.from_passphrase(SECRET))
    finally:
        await db.close()
    await wait_for_reload(router)


async def price_media(db: Database, box: SecretBox) -> None:
    async with db.transaction() as tx:
        for model, rates in TOKEN_PRICES.items():
            await set_rates(tx, model, rates)
        for model, variants in IMAGE_PRICES.items():
            await set_price(tx, model, 0, 0)  # billed per image only
            for variant, usd in variants.items():
                await set_unit(tx, model, UnitPrice("image", parse_usd(usd), variant))
        for model, unit in UNIT_PRICES.items():
            await set_price(tx, model, 0, 0)
            await set_unit(tx, model, unit)


def serve(*models: str, channel: int = 1, **fields: Any) -> Any:
    """A change making ``channel`` serve ``models`` (plus other channel fields)."""

    async def change(db: Database, box: SecretBox) -> None:
        await update_channel(db, box, channel, models=models, **fields)

    return change


def second_channel(
    upstream: Any, channel_type: str = "openai", models: Sequence[str] = MEDIA_MODELS, **fields: Any
) -> Any:
    """A change adding a channel to ``upstream`` behind the seeded one (lower priority)."""

    async def change(db: Database, box: SecretBox) -> None:
        await add_channel(
            db,
            box,
            type=channel_type,
            name="second",
            key=upstream.key,
            base_url=upstream.base_url,
            models=list(models),
            priority=-1,
            **fields,
        )

    return change


@asynccontextmanager
async def media_router(
    tmp_path: Path, upstream: FakeOpenAI, **settings: Any
) -> AsyncIterator[RunningRouter]:
    """A router whose seeded openai channel serves ``MEDIA_MODELS``, all priced."""
    async with running_router(tmp_path, upstream, **settings) as router:
        await edit(router, price_media)
        await edit(router, serve("gpt-4", *MEDIA_MODELS))
        yield router


@contextmanager
def media_router_thread(tmp_path: Path, upstream: FakeOpenAI) -> Iterator[RunningRouter]:
    """``media_router`` on its own thread and loop, for the sync openai client."""
    ready, done = threading.Event(), threading.Event()
    box: dict[str, RunningRouter] = {}

    async def serve_router() -> None:
        async with media_router(tmp_path, upstream) as router:
            box["router"] = router
            ready.set()
            await asyncio.to_thread(done.wait)

    thread = threading.Thread(target=lambda: asyncio.run(serve_router()))
    thread.start()
    try:
        assert ready.wait(20)
        yield box["router"]
    finally:
        done.set()
        thread.join(20)


def async_client(router: RunningRouter, key: str | None = None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key or router.key, base_url=router.base_url, max_retries=0)


def sync_client(router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(api_key=router.key, base_url=router.base_url, max_retries=0)


def images(answer: ImagesResponse) -> list[Image]:
    """The images of an answer (the SDK types ``data`` as optional)."""
    assert answer.data is not None
    return answer.data


def units(row: dict[str, Any]) -> tuple[UnitUse, ...]:
    return decode_units(row["units"])


def only_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]
