"""Stored model prices and aliases: reading, setting and deleting them.

Amounts are nano-USD per 1M tokens. An alias row has no amounts of its own: it bills at
the price its chain ends on, and every read returns that resolved price. Writes keep the
alias graph sound: no alias to an unknown model, to itself, or around a cycle, and no
deleting a model others alias to.
"""

from __future__ import annotations

from burncloud.db.base import Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services.clock import now
from burncloud.services.pricing import Price, resolve_price
from burncloud.services.settings import bump_config_version


async def load_price_table(db: Executor) -> dict[str, Price]:
    """Every model's resolved price, keyed by model; aliases whose chain is broken are left out."""
    raw = await _raw_prices(db)
    table: dict[str, Price] = {}
    for model in raw:
        price = resolve_price(model, raw)
        if price is not None:
            table[model] = price
    return table


async def list_prices(db: Executor) -> list[Price]:
    """Every model's resolved price, sorted by model name."""
    return [price for _, price in sorted((await load_price_table(db)).items())]


async def get_price(db: Executor, model: str) -> Price:
    """The resolved price of ``model``; NotFound if it has none."""
    price = resolve_price(model, await _raw_prices(db))
    if price is None:
        raise NotFound(f"no price for model {model!r}")
    return price


async def set_price(
    tx: Executor, model: str, input: int, output: int, cached: int | None = None
) -> Price:
    """Create or replace ``model``'s price (it stops being an alias); return it."""
    model = _check_model(model)
    for name, amount in (("input", input), ("output", output), ("cached", cached)):
        if amount is not None and amount < 0:
            raise InvalidRequest(f"{name} price must not be negative")
    await bump_config_version(tx)
    await _upsert(tx, model, input, output, cached, None)
    return Price(model=model, input=input, output=output, cached=cached)


async def set_alias(tx: Executor, model: str, alias_of: str) -> Price:
    """Make ``model`` bill at ``alias_of``'s price; refuse unknown targets and cycles."""
    model, alias_of = _check_model(model), _check_model(alias_of)
    if model == alias_of:
        raise InvalidRequest(f"model {model!r} cannot be an alias of itself")
    # Bump first: on PostgreSQL the config_version row lock serialises concurrent writers,
    # so the alias graph read below cannot change before this transaction commits.
    await bump_config_version(tx)
    raw = await _raw_prices(tx)
    if alias_of not in raw:
        raise InvalidRequest(f"cannot alias {model!r} to {alias_of!r}: {alias_of!r} has no price")
    chain = _alias_chain(alias_of, raw)
    if model in chain:
        loop = " -> ".join([model, alias_of, *chain[: chain.index(model) + 1]])
        raise InvalidRequest(f"alias would make a cycle: {loop}")
    await _upsert(tx, model, None, None, None, alias_of)
    raw[model] = Price(model=model, input=0, output=0, alias_of=alias_of)
    price = resolve_price(model, raw)
    assert price is not None
    return price


async def delete_price(tx: Executor, model: str) -> None:
    """Delete ``model``'s price; NotFound if unknown, refused while other models alias it."""
    await bump_config_version(tx)
    aliases = await tx.fetch_all(
        "SELECT model FROM prices WHERE alias_of = :m ORDER BY model", {"m": model}
    )
    if aliases:
        names = ", ".join(row["model"] for row in aliases)
        raise InvalidRequest(
            f"cannot delete {model!r}: {names} alias it; delete or re-point them first"
        )
    if await tx.execute("DELETE FROM prices WHERE model = :m", {"m": model}) == 0:
        raise NotFound(f"no price for model {model!r}")


def _check_model(model: str) -> str:
    name = model.strip()
    if not name or any(ch.isspace() or ch == "," for ch in name):
        raise InvalidRequest(f"invalid model name {model!r}: no spaces or commas")
    return name


def _alias_chain(model: str, raw: dict[str, Price]) -> list[str]:
    """The models ``model``'s aliases lead through, in order (stops at a repeat)."""
    chain: list[str] = []
    entry = raw.get(model)
    while entry is not None and entry.alias_of is not None and entry.alias_of not in chain:
        chain.append(entry.alias_of)
        entry = raw.get(entry.alias_of)
    return chain


async def _raw_prices(db: Executor) -> dict[str, Price]:
    rows = await db.fetch_all("SELECT * FROM prices ORDER BY model")
    return {row["model"]: _from_row(row) for row in rows}


def _from_row(row: Row) -> Price:
    """A stored row as a Price; an alias row's missing amounts read as 0 until resolved."""
    return Price(
        model=row["model"],
        input=row["input_price"] or 0,
        output=row["output_price"] or 0,
        cached=row["cached_price"],
        alias_of=row["alias_of"],
    )


async def _upsert(
    tx: Executor,
    model: str,
    input: int | None,
    output: int | None,
    cached: int | None,
    alias_of: str | None,
) -> None:
    await tx.execute(
        "INSERT INTO prices (model, input_price, output_price, cached_price, alias_of,"
        " updated_at) VALUES (:m, :i, :o, :c, :a, :t) ON CONFLICT (model) DO UPDATE SET"
        " input_price = excluded.input_price, output_price = excluded.output_price,"
        " cached_price = excluded.cached_price, alias_of = excluded.alias_of,"
        " updated_at = excluded.updated_at",
        {"m": model, "i": input, "o": output, "c": cached, "a": alias_of, "t": now()},
    )
