"""Stored prices: a model's list price (or alias) and a channel's own cost price of a model.

A price's whole definition (every token kind, the request price, tiers, units) is one
immutable ``price_versions`` row, written through ``price_definitions.to_definition``;
``prices.version_id`` and ``channel_prices.version_id`` point at the current one, and
``prices.input_price/output_price/cached_price`` stay in step with it. Every change bumps
the config version first: routers reload, and on PostgreSQL that row lock serialises
price writers, so what a change reads cannot move before it commits. Saving a definition
equal to the current one keeps its version (no new history for a repeated ``price set``).

An alias row has no amounts or version of its own: it bills at the price its chain ends
on, version included, and every resolved read returns that price. Writes keep the alias
graph sound: no alias to an unknown model, to itself, or around a cycle, and no deleting a
model others alias to. A channel's cost price is never an alias.

Rows written before versions existed (migration 6) read from their columns, without a
version, until ``backfill_price_versions`` gives each one: the router runs it as it loads
its configuration (``gateway.snapshot.load_snapshot``), the one place prices are billed,
so a log row billed at a stored price always names its version, however the database got
its rows (a migration, an older burncloud, a restored backup). Save paths always write one.
"""

from __future__ import annotations

from dataclasses import replace

from burncloud.db.base import Database, Executor, Row
from burncloud.errors import ConfigError, InvalidRequest, NotFound
from burncloud.services.audit import record_change
from burncloud.services.clock import now
from burncloud.services.price_catalog import price_fields
from burncloud.services.price_definitions import check_price, from_definition, to_definition
from burncloud.services.pricing import Price, resolve_price
from burncloud.services.settings import bump_config_version
from burncloud.services.tokens import split_list

_LIST_PRICES = (
    "SELECT p.model, p.input_price, p.output_price, p.cached_price, p.alias_of, p.version_id,"
    " v.definition FROM prices p LEFT JOIN price_versions v ON v.id = p.version_id"
)
_CHANNEL_PRICES = (
    "SELECT c.channel_id, c.model, c.version_id, v.definition FROM channel_prices c"
    " JOIN price_versions v ON v.id = c.version_id"
)


async def load_price_table(db: Executor) -> dict[str, Price]:
    """Every model's resolved price, keyed by model; aliases whose chain is broken are left out."""
    raw = await raw_price_table(db)
    table: dict[str, Price] = {}
    for model in raw:
        price = resolve_price(model, raw)
        if price is not None:
            table[model] = price
    return table


async def raw_price_table(db: Executor) -> dict[str, Price]:
    """Every stored list price as stored: an alias keeps ``alias_of`` and amounts of 0."""
    rows = await db.fetch_all(f"{_LIST_PRICES} ORDER BY p.model")
    return {row["model"]: _list_price(row) for row in rows}


async def list_prices(db: Executor) -> list[Price]:
    """Every model's resolved price, sorted by model name."""
    return [price for _, price in sorted((await load_price_table(db)).items())]


async def load_channel_prices(db: Executor) -> dict[int, dict[str, Price]]:
    """Every channel's own cost prices, by channel id and model."""
    table: dict[int, dict[str, Price]] = {}
    for row in await db.fetch_all(_CHANNEL_PRICES):
        table.setdefault(row["channel_id"], {})[row["model"]] = _channel_price(row)
    return table


async def list_channel_prices(db: Executor, channel_id: int) -> list[Price]:
    """A channel's own cost prices, sorted by model; NotFound for an unknown channel."""
    await _channel_models(db, channel_id)
    rows = await db.fetch_all(
        f"{_CHANNEL_PRICES} WHERE c.channel_id = :c ORDER BY c.model", {"c": channel_id}
    )
    return [_channel_price(row) for row in rows]


async def get_price(db: Executor, model: str, channel_id: int | None = None) -> Price:
    """The resolved list price of ``model``, or channel ``channel_id``'s own cost price of
    it; NotFound if it has none."""
    if channel_id is not None:
        price = await stored_price(db, model, channel_id)
    else:
        price = resolve_price(model, await raw_price_table(db))
    if price is None:
        raise NotFound(_no_price(model, channel_id))
    return price


async def stored_price(db: Executor, model: str, channel_id: int | None = None) -> Price | None:
    """``model``'s price as stored (an alias unresolved), or the channel's; None if none."""
    if channel_id is None:
        row = await db.fetch_one(f"{_LIST_PRICES} WHERE p.model = :m", {"m": model})
        return None if row is None else _list_price(row)
    await _channel_models(db, channel_id)
    row = await db.fetch_one(
        f"{_CHANNEL_PRICES} WHERE c.channel_id = :c AND c.model = :m",
        {"c": channel_id, "m": model},
    )
    return None if row is None else _channel_price(row)


async def save_price(tx: Executor, price: Price, channel_id: int | None = None) -> Price:
    """Replace ``price.model``'s whole definition (its list price, or channel
    ``channel_id``'s cost price) with ``price``; return it with its version. A price with
    ``alias_of`` makes the model an alias (``set_alias``)."""
    if price.alias_of is not None:
        if channel_id is not None:
            raise InvalidRequest("a channel's cost price cannot be an alias")
        return await set_alias(tx, price.model, price.alias_of)
    await bump_config_version(tx)
    return await store_price(tx, price, channel_id)


async def store_price(tx: Executor, price: Price, channel_id: int | None = None) -> Price:
    """``save_price`` for a caller that bumped the config version before reading what it
    changes (``price_edits``); the price must not be an alias."""
    price = replace(price, model=check_model(price.model), alias_of=None, version=None)
    check_price(price)
    if channel_id is not None:
        await _require_channel_model(tx, channel_id, price.model)
    definition = to_definition(price)
    current = await _current_version(tx, price.model, channel_id)
    if current is not None and current[1] == definition:
        return replace(price, version=current[0])
    before = await _audited(tx, price.model, channel_id)
    version = await _insert_version(tx, price.model, channel_id, definition)
    if channel_id is None:
        await _upsert_list_price(tx, price, version)
    else:
        await _upsert_channel_price(tx, channel_id, price.model, version)
    await _record(tx, price.model, channel_id, before, price_fields(price))
    return replace(price, version=version)


async def set_price(
    tx: Executor, model: str, input: int, output: int, cached: int | None = None
) -> Price:
    """Replace ``model``'s whole list price with these amounts (nano-USD per 1M tokens)."""
    return await save_price(tx, Price(model=model, input=input, output=output, cached=cached))


async def set_alias(tx: Executor, model: str, alias_of: str) -> Price:
    """Make ``model`` bill at ``alias_of``'s price; refuse unknown targets and cycles."""
    model, alias_of = check_model(model), check_model(alias_of)
    if model == alias_of:
        raise InvalidRequest(f"model {model!r} cannot be an alias of itself")
    await bump_config_version(tx)  # first: the alias graph read below cannot change
    # Only the graph: a catalog import sets many aliases, and each would otherwise parse
    # every stored definition.
    rows = await tx.fetch_all("SELECT model, alias_of FROM prices")
    graph: dict[str, str | None] = {row["model"]: row["alias_of"] for row in rows}
    if alias_of not in graph:
        raise InvalidRequest(f"cannot alias {model!r} to {alias_of!r}: {alias_of!r} has no price")
    chain = _alias_chain(alias_of, graph)
    if model in chain:
        loop = " -> ".join([model, alias_of, *chain[: chain.index(model) + 1]])
        raise InvalidRequest(f"alias would make a cycle: {loop}")
    before = await _audited(tx, model, None)
    await tx.execute(
        "INSERT INTO prices (model, input_price, output_price, cached_price, alias_of,"
        " version_id, updated_at) VALUES (:m, NULL, NULL, NULL, :a, NULL, :t)"
        " ON CONFLICT (model) DO UPDATE SET input_price = NULL, output_price = NULL,"
        " cached_price = NULL, alias_of = excluded.alias_of, version_id = NULL,"
        " updated_at = excluded.updated_at",
        {"m": model, "a": alias_of, "t": now()},
    )
    await _record(tx, model, None, before, {"alias": alias_of})
    target = await stored_price(tx, chain[-1] if chain else alias_of)
    assert target is not None and target.alias_of is None  # the graph's end, read above
    return replace(target, model=model, alias_of=alias_of)


async def delete_price(tx: Executor, model: str, channel_id: int | None = None) -> None:
    """Delete ``model``'s list price (refused while other models alias it) or channel
    ``channel_id``'s cost price of it; NotFound if there is none. Versions stay."""
    await bump_config_version(tx)
    before = await _audited(tx, model, channel_id)
    if channel_id is not None:
        deleted = await tx.execute(
            "DELETE FROM channel_prices WHERE channel_id = :c AND model = :m",
            {"c": channel_id, "m": model},
        )
    else:
        await _refuse_if_aliased(tx, model)
        deleted = await tx.execute("DELETE FROM prices WHERE model = :m", {"m": model})
    if deleted == 0:
        raise NotFound(_no_price(model, channel_id))
    await _record(tx, model, channel_id, before, None)


async def backfill_price_versions(db: Database) -> int:
    """Give every list price stored without a version (before migration 6) one, dated
    when the price was set; return how many. Bumps the config version if it did any."""
    unversioned = "FROM prices WHERE version_id IS NULL AND alias_of IS NULL"
    if await db.fetch_value(f"SELECT COUNT(*) {unversioned}") == 0:
        return 0
    async with db.transaction() as tx:
        await bump_config_version(tx)  # first, as every price writer
        rows = await tx.fetch_all(f"SELECT * {unversioned} ORDER BY model")
        for row in rows:
            price = _column_price(row)
            version = await _insert_version(
                tx, price.model, None, to_definition(price), row["updated_at"]
            )
            await tx.execute(
                "UPDATE prices SET version_id = :v WHERE model = :m",
                {"v": version, "m": price.model},
            )
        return len(rows)


def check_model(model: str) -> str:
    """``model`` stripped; InvalidRequest if empty or holding spaces or commas."""
    name = model.strip()
    if not name or any(ch.isspace() or ch == "," for ch in name):
        raise InvalidRequest(f"invalid model name {model!r}: no spaces or commas")
    return name


def _no_price(model: str, channel_id: int | None) -> str:
    if channel_id is None:
        return f"no price for model {model!r}"
    return f"channel {channel_id} has no cost price for model {model!r}"


async def _audited(tx: Executor, model: str, channel_id: int | None) -> dict[str, str] | None:
    """The stored price (or alias) of ``model`` as the audit trail compares it, None if
    there is none (NotFound for an unknown channel)."""
    try:
        price = await stored_price(tx, model, channel_id)
    except ConfigError:  # an unreadable stored version: replacing it is how it is repaired
        return {"price": "(unreadable)"}
    return None if price is None else price_fields(price)


async def _record(
    tx: Executor,
    model: str,
    channel_id: int | None,
    before: dict[str, str] | None,
    after: dict[str, str] | None,
) -> None:
    """Put a list price's change (``price:MODEL``) or a channel's cost price's
    (``channel-price:CHANNEL:MODEL``) in the audit trail."""
    if before is None and after is None:
        return
    if channel_id is None:
        await record_change(tx, "price", model, model, before, after)
    else:
        await record_change(tx, "channel-price", f"{channel_id}:{model}", model, before, after)


def _alias_chain(model: str, graph: dict[str, str | None]) -> list[str]:
    """The models ``model``'s aliases lead through, in order (stops at a repeat)."""
    chain: list[str] = []
    target = graph.get(model)
    while target is not None and target not in chain:
        chain.append(target)
        target = graph.get(target)
    return chain


async def _refuse_if_aliased(tx: Executor, model: str) -> None:
    aliases = await tx.fetch_all(
        "SELECT model FROM prices WHERE alias_of = :m ORDER BY model", {"m": model}
    )
    if aliases:
        names = ", ".join(row["model"] for row in aliases)
        raise InvalidRequest(
            f"cannot delete {model!r}: {names} alias it; delete or re-point them first"
        )


async def _channel_models(db: Executor, channel_id: int) -> tuple[str, ...]:
    """The models channel ``channel_id`` serves; NotFound if there is no such channel."""
    models = await db.fetch_value("SELECT models FROM channels WHERE id = :id", {"id": channel_id})
    if models is None:
        raise NotFound(f"no channel with id {channel_id}")
    return split_list(models)


async def _require_channel_model(tx: Executor, channel_id: int, model: str) -> None:
    """Refuse a cost price for a model the channel does not serve (a typo would otherwise
    leave its cost at the cost ratio unnoticed)."""
    models = await _channel_models(tx, channel_id)
    if model not in models:
        served = ", ".join(models)
        raise InvalidRequest(f"channel {channel_id} does not serve {model!r} (it serves {served})")


async def _current_version(
    tx: Executor, model: str, channel_id: int | None
) -> tuple[int, str] | None:
    """The current version id and definition of the price being replaced, if any."""
    if channel_id is None:
        sql = f"{_LIST_PRICES} WHERE p.model = :m"
        row = await tx.fetch_one(sql, {"m": model})
    else:
        sql = f"{_CHANNEL_PRICES} WHERE c.channel_id = :c AND c.model = :m"
        row = await tx.fetch_one(sql, {"c": channel_id, "m": model})
    if row is None or row["version_id"] is None or row["definition"] is None:
        return None
    return row["version_id"], row["definition"]


async def _insert_version(
    tx: Executor, model: str, channel_id: int | None, definition: str, at: int | None = None
) -> int:
    version = await tx.fetch_value(
        "INSERT INTO price_versions (model, channel_id, definition, created_at)"
        " VALUES (:m, :c, :d, :t) RETURNING id",
        {"m": model, "c": channel_id, "d": definition, "t": now() if at is None else at},
    )
    return int(version)


async def _upsert_list_price(tx: Executor, price: Price, version: int) -> None:
    await tx.execute(
        "INSERT INTO prices (model, input_price, output_price, cached_price, alias_of,"
        " version_id, updated_at) VALUES (:m, :i, :o, :c, NULL, :v, :t)"
        " ON CONFLICT (model) DO UPDATE SET input_price = excluded.input_price,"
        " output_price = excluded.output_price, cached_price = excluded.cached_price,"
        " alias_of = NULL, version_id = excluded.version_id, updated_at = excluded.updated_at",
        {
            "m": price.model,
            "i": price.input,
            "o": price.output,
            "c": price.cached,
            "v": version,
            "t": now(),
        },
    )


async def _upsert_channel_price(tx: Executor, channel_id: int, model: str, version: int) -> None:
    await tx.execute(
        "INSERT INTO channel_prices (channel_id, model, version_id, updated_at)"
        " VALUES (:c, :m, :v, :t) ON CONFLICT (channel_id, model) DO UPDATE SET"
        " version_id = excluded.version_id, updated_at = excluded.updated_at",
        {"c": channel_id, "m": model, "v": version, "t": now()},
    )


def _list_price(row: Row) -> Price:
    """A ``prices`` row (with its version's definition) as a Price; an alias row reads as
    amounts of 0 until resolved, a row without a version from its columns."""
    if row["alias_of"] is not None:
        return Price(model=row["model"], input=0, output=0, alias_of=row["alias_of"])
    if row["definition"] is None:
        return _column_price(row)
    return _from_version(row["model"], row["definition"], row["version_id"])


def _channel_price(row: Row) -> Price:
    return _from_version(row["model"], row["definition"], row["version_id"])


def _column_price(row: Row) -> Price:
    """A price stored before versions: input, output and cached only."""
    return Price(
        model=row["model"],
        input=row["input_price"] or 0,
        output=row["output_price"] or 0,
        cached=row["cached_price"],
    )


def _from_version(model: str, definition: str, version: int) -> Price:
    try:
        return from_definition(model, definition, version)
    except ValueError as exc:
        raise ConfigError(
            f"stored price version {version} of {model!r} is unreadable: {exc}"
        ) from exc
