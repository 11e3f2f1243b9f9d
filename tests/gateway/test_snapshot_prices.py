"""The router's snapshot holds whole prices (tiers, units, version) and each channel's cost:
its cost ratio and its own cost prices; prices stored before versions get one on load."""

from __future__ import annotations

from decimal import Decimal

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.gateway.snapshot import load_snapshot
from burncloud.money import parse_usd
from burncloud.services import prices
from burncloud.services.channels import add_channel
from burncloud.services.price_definitions import price_at_version
from burncloud.services.pricing import Price, Rates, Tier, UnitPrice
from burncloud.services.settings import read_config_version

BOX = SecretBox.from_passphrase("test-secret")
CLAUDE = Price(
    model="claude",
    input=parse_usd("3"),
    output=parse_usd("15"),
    cache_write=parse_usd("3.75"),
    tiers=(Tier(200_000, Rates(input=parse_usd("6"))),),
    units=(UnitPrice("call", parse_usd("10"), "web_search"),),
)


async def save(db: Database, price: Price, channel_id: int | None = None) -> Price:
    async with db.transaction() as tx:
        return await prices.save_price(tx, price, channel_id)


async def channel(db: Database, name: str, cost_ratio: str = "1") -> int:
    added = await add_channel(
        db,
        BOX,
        type="anthropic",
        name=name,
        key=f"sk-ant-{name}-0001",
        models=["claude", "claude-latest"],
        cost_ratio=cost_ratio,
    )
    return added.id


async def test_snapshot_prices_are_whole_and_versioned(db: Database) -> None:
    saved = await save(db, CLAUDE)
    async with db.transaction() as tx:
        await prices.set_alias(tx, "claude-latest", "claude")
    snapshot = await load_snapshot(db, BOX)
    assert snapshot.prices["claude"] == saved
    assert saved.version is not None and saved.tiers and saved.units
    latest = snapshot.prices["claude-latest"]
    assert (latest.version, latest.tiers, latest.alias_of) == (saved.version, saved.tiers, "claude")


async def test_each_upstream_carries_its_cost_ratio_and_its_own_cost_prices(db: Database) -> None:
    await save(db, CLAUDE)
    direct = await channel(db, "direct")
    reseller = await channel(db, "reseller", cost_ratio="0.3")
    own = await save(db, Price(model="claude", input=parse_usd("1"), output=parse_usd("5")), direct)
    snapshot = await load_snapshot(db, BOX)
    assert snapshot.upstreams[direct].cost_ratio == Decimal(1)
    assert snapshot.upstreams[direct].cost_prices == {"claude": own}
    assert snapshot.upstreams[reseller].cost_ratio == Decimal("0.3")
    assert snapshot.upstreams[reseller].cost_prices == {}


async def test_a_price_stored_before_versions_gets_one_as_the_router_loads(db: Database) -> None:
    await db.execute(
        "INSERT INTO prices (model, input_price, output_price, cached_price, updated_at)"
        " VALUES ('old', 30, 60, 15, 0)"
    )
    assert (await prices.get_price(db, "old")).version is None
    snapshot = await load_snapshot(db, BOX)
    old = snapshot.prices["old"]
    assert old.version is not None
    assert await price_at_version(db, old.version) == old
    assert snapshot.version == await read_config_version(db)  # loaded after the backfill
    again = await load_snapshot(db, BOX)
    assert again.version == snapshot.version and again.prices["old"] == old
