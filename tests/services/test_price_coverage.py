"""A price is incomplete when its model's channels report a kind it leaves to fall back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import NotFound
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services import price_coverage, prices
from burncloud.services.channels import add_channel, disable_channel
from burncloud.services.price_coverage import (
    channel_incomplete_kinds,
    incomplete_kinds,
    missing_kinds,
)
from burncloud.services.pricing import Price

BOX = SecretBox.from_passphrase("test-secret")
# What each kind reports, fixed here: the tests are about the rule, not the registry's data.
REPORTS = {
    "anthropic": {"cached", "cache_write", "cache_write_1h"},
    "azure": {"cached", "audio_input", "audio_output"},
    "bedrock": {"cached", "cache_write"},
    "openai": {"cached", "audio_input"},
}


@pytest.fixture(autouse=True)
def fixed_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = {
        name: replace(kind, reports=frozenset(REPORTS.get(name, kind.reports)))
        for name, kind in CHANNEL_KINDS.items()
    }
    monkeypatch.setattr(price_coverage, "CHANNEL_KINDS", kinds)


async def channel(db: Database, type_: str, *models: str) -> int:
    base_url = "http://127.0.0.1:9/v1" if type_ == "azure" else None
    added = await add_channel(
        db,
        BOX,
        type=type_,
        name=type_,
        key="sk-x-0001",
        models=list(models),
        base_url=base_url,
        config={"region": "us-east-1"} if type_ == "bedrock" else None,
    )
    return added.id


async def save(db: Database, price: Price) -> Price:
    async with db.transaction() as tx:
        return await prices.save_price(tx, price)


def test_missing_kinds_are_the_reported_ones_without_a_price() -> None:
    price = Price(model="m", input=1, output=2, cached=1)
    assert missing_kinds(price, {"cached", "cache_write", "audio_output"}) == [
        "cache_write",
        "audio_output",
    ]
    assert missing_kinds(price, ()) == []


async def test_a_model_is_judged_by_what_every_channel_serving_it_reports(db: Database) -> None:
    await save(db, Price(model="claude", input=3, output=15, cached=1))
    await save(db, Price(model="alone", input=3, output=15))
    await channel(db, "anthropic", "claude")
    disabled = await channel(db, "azure", "claude")
    await disable_channel(db, disabled)  # a disabled channel may come back
    gaps = await incomplete_kinds(db, await prices.list_prices(db))
    assert gaps == {
        "claude": ["cache_write", "cache_write_1h", "audio_input", "audio_output"],
        "alone": [],
    }


async def test_a_complete_price_has_no_gaps(db: Database) -> None:
    await save(db, Price(model="c", input=3, output=15, cached=1, cache_write=4, cache_write_1h=6))
    await channel(db, "anthropic", "c")
    assert await incomplete_kinds(db, await prices.list_prices(db)) == {"c": []}


async def test_an_alias_is_judged_by_the_price_it_bills_at(db: Database) -> None:
    await save(db, Price(model="c", input=3, output=15, cached=1))
    async with db.transaction() as tx:
        await prices.set_alias(tx, "latest", "c")
    await channel(db, "bedrock", "latest")
    gaps = await incomplete_kinds(db, await prices.list_prices(db))
    assert gaps == {"c": [], "latest": ["cache_write"]}


async def test_a_channel_cost_price_is_judged_by_that_channels_kind(db: Database) -> None:
    channel_id = await channel(db, "anthropic", "c")
    await channel(db, "openai", "c")
    async with db.transaction() as tx:
        cost = await prices.save_price(tx, Price(model="c", input=3, output=15), channel_id)
    assert await channel_incomplete_kinds(db, channel_id, [cost]) == {
        "c": ["cached", "cache_write", "cache_write_1h"]
    }
    with pytest.raises(NotFound, match="no channel with id 99"):
        await channel_incomplete_kinds(db, 99, [cost])
