"""The price catalog: every price as a file an operator can read, edit, keep and sync.

A catalog is a JSON or YAML object::

    format: burncloud-prices/1
    prices:                        # list prices and aliases, by model (sorted)
      claude-sonnet-4-5:
        input: "3"                 # USD per 1M tokens, as decimal strings
        output: "15"
        cache_write: "3.75"
        tiers:                     # prices for prompts above a number of tokens
        - {above: 200000, input: "6", output: "22.5"}
        units:                     # USD per the unit's block (pricing.UNIT_BLOCKS)
        - {per: call, variant: web_search, usd: "10"}
      claude-latest: {alias: claude-sonnet-4-5}
    channels:                      # channels' own cost prices, by channel, then model
      reseller-a:
        gpt-4o: {input: "0.75", output: "3"}

Every token kind of ``pricing.TOKEN_KINDS`` may be named, and ``request`` (USD per
request); a kind left out bills at the input or output price. A channel is keyed by its
name when no other channel has that name (and it does not read as an id), else by
``#ID``: names carry over to another database with the same channels, ids only where
they match. Amounts are exact: strings, integers or exact decimals (JSON and YAML numbers
are read as decimals, never binary floats), at most 9 decimal places. Unknown fields are
refused, so a typo never drops a price unnoticed. The file names no price versions:
importing it writes new ones. YAML aliases (``*name``) are refused.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.money import format_usd, parse_usd
from burncloud.services.price_definitions import check_price
from burncloud.services.pricing import TOKEN_KINDS, Price, Rates, Tier, UnitPrice

FORMAT = "burncloud-prices/1"
FILE_FORMATS = ("yaml", "json")
AMOUNT_KINDS = (*TOKEN_KINDS, "request")  # the amounts a price or a tier may name


@dataclass(frozen=True, slots=True)
class Catalog:
    """List prices and aliases by model; channels' cost prices by channel key and model."""

    prices: Mapping[str, Price]
    channels: Mapping[str, Mapping[str, Price]]


def catalog_data(catalog: Catalog) -> dict[str, Any]:
    """The catalog as plain data (USD strings, sorted), ready to write as JSON or YAML."""
    return {
        "format": FORMAT,
        "prices": {model: price_data(catalog.prices[model]) for model in sorted(catalog.prices)},
        "channels": {
            key: {model: price_data(prices[model]) for model in sorted(prices)}
            for key, prices in sorted(catalog.channels.items())
        },
    }


def price_data(price: Price) -> dict[str, Any]:
    """One price as the catalog writes it: only what it names, in a fixed order."""
    if price.alias_of is not None:
        return {"alias": price.alias_of}
    data: dict[str, Any] = _amounts_data(price.rates)
    if price.tiers:
        data["tiers"] = [{"above": t.above, **_amounts_data(t.rates)} for t in price.tiers]
    if price.units:
        data["units"] = [_unit_data(unit) for unit in sorted(price.units, key=_unit_key)]
    return data


def price_fields(price: Price) -> dict[str, str]:
    """A price as flat named fields ("input", "above 200000 input", "unit call
    web_search", "alias"), as diffs and the audit trail show it."""
    data = price_data(price)
    found = {name: value for name, value in data.items() if isinstance(value, str)}
    for tier in data.get("tiers", ()):
        above = tier["above"]
        found.update({f"above {above} {k}": v for k, v in tier.items() if k != "above"})
    for unit in data.get("units", ()):
        name = " ".join(part for part in (unit["per"], unit.get("variant", "")) if part)
        found[f"unit {name}"] = unit["usd"]
    return found


def dump_catalog(catalog: Catalog, file_format: str) -> str:
    """The catalog as the text of a ``file_format`` (yaml or json) file."""
    data = catalog_data(catalog)
    if file_format == "json":
        return json.dumps(data, indent=2) + "\n"
    yaml = _yaml()
    # ASCII only, as JSON: a control or bidi character in a model name is escaped, never raw
    return str(yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=False))


def load_catalog(text: str, file_format: str) -> Catalog:
    """The catalog a yaml or json file holds; InvalidRequest saying what is wrong where."""
    return parse_catalog(read_document(text, file_format))


def read_document(text: str, file_format: str) -> Any:
    """The data of a JSON or YAML text, numbers as exact decimals; InvalidRequest if malformed."""
    if file_format == "json":
        try:
            return json.loads(
                text,
                parse_float=Decimal,
                parse_constant=_refuse_constant,
                object_pairs_hook=_unique_keys,
            )
        except (ValueError, RecursionError) as exc:
            raise InvalidRequest(f"not valid JSON: {_first_line(exc)}") from None
    if file_format != "yaml":
        raise InvalidRequest(f"unknown file format {file_format!r}: use yaml or json")
    yaml = _yaml()
    try:
        return yaml.load(text, Loader=_exact_loader(yaml))
    except (yaml.YAMLError, RecursionError) as exc:
        raise InvalidRequest(f"not valid YAML: {_first_line(exc)}") from None


def parse_catalog(data: Any) -> Catalog:
    """The catalog ``data`` describes; InvalidRequest naming the first wrong field."""
    if not isinstance(data, dict) or "prices" not in data:
        raise InvalidRequest(
            "not a burncloud price catalog (no 'prices'); for LiteLLM's file use --format litellm"
        )
    _only_fields(data, ("format", "prices", "channels"), "the catalog")
    if data.get("format", FORMAT) != FORMAT:
        raise InvalidRequest(f"unknown catalog format {data['format']!r}: expected {FORMAT}")
    prices = parse_prices(data["prices"], "prices", aliases=True)
    channels = _mapping(data.get("channels") or {}, "channels")
    return Catalog(
        prices=prices,
        channels={
            str(key): parse_prices(value, f"channels.{key}", aliases=False)
            for key, value in channels.items()
        },
    )


def parse_price(model: str, data: Any, where: str) -> Price:
    """One price (or alias) of the catalog; InvalidRequest naming ``where`` it is wrong."""
    data = _mapping(data, where)
    if "alias" in data:
        _only_fields(data, ("alias",), where)
        if not isinstance(data["alias"], str) or not data["alias"].strip():
            raise InvalidRequest(f"{where}.alias: must be a model name")
        return Price(model=model, input=0, output=0, alias_of=data["alias"].strip())
    _only_fields(data, (*AMOUNT_KINDS, "tiers", "units"), where)
    rates = _rates(data, where)
    tiers = [_tier(item, f"{where}.tiers[{n}]") for n, item in enumerate(_list(data, "tiers"))]
    units = [_unit(item, f"{where}.units[{n}]") for n, item in enumerate(_list(data, "units"))]
    price = priced(model, rates, tiers, units)
    try:
        check_price(price)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{where}: {exc.message}") from None
    return price


def priced(model: str, rates: Rates, tiers: list[Tier], units: list[UnitPrice]) -> Price:
    """The price of ``model`` naming ``rates`` (input and output 0 when unnamed), its tiers
    in order of threshold and its units in order of unit and variant."""
    return Price.named(model, rates, tuple(tiers), tuple(sorted(units, key=_unit_key)))


def parse_prices(data: Any, where: str, *, aliases: bool) -> dict[str, Price]:
    """Prices by model (aliases refused unless ``aliases``); InvalidRequest naming the field."""
    prices: dict[str, Price] = {}
    for model, value in _mapping(data, where).items():
        if not isinstance(model, str):
            raise InvalidRequest(f"{where}: the model name {model!r} must be a string (quote it)")
        price = parse_price(str(model), value, f"{where}.{model}")
        if price.alias_of is not None and not aliases:
            raise InvalidRequest(f"{where}.{model}: a channel's cost price cannot be an alias")
        prices[str(model)] = price
    return prices


def _rates(data: dict[str, Any], where: str) -> Rates:
    for kind in ("input", "output"):
        if kind not in data:
            raise InvalidRequest(f"{where}: {kind} is required (or alias)")
    return _named_rates(data, where)


def _named_rates(data: dict[str, Any], where: str) -> Rates:
    return Rates(
        **{kind: _usd(data[kind], f"{where}.{kind}") for kind in AMOUNT_KINDS if kind in data}
    )


def _tier(item: Any, where: str) -> Tier:
    item = _mapping(item, where)
    _only_fields(item, ("above", *AMOUNT_KINDS), where)
    above = item.get("above")
    if isinstance(above, bool) or not isinstance(above, int):
        raise InvalidRequest(f"{where}.above: must be a whole number of tokens")
    return Tier(above, _named_rates(item, where))


def _unit(item: Any, where: str) -> UnitPrice:
    item = _mapping(item, where)
    _only_fields(item, ("per", "variant", "usd"), where)
    per, variant = item.get("per"), item.get("variant", "")
    if not isinstance(per, str) or not isinstance(variant, str):
        raise InvalidRequest(f"{where}: per and variant must be strings")
    if "usd" not in item:
        raise InvalidRequest(f"{where}.usd is required")
    return UnitPrice(per, _usd(item["usd"], f"{where}.usd"), variant)


def _usd(value: Any, where: str) -> int:
    """A USD amount as nano-USD: a string, an integer or an exact decimal, never a float."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidRequest(f'{where}: must be a USD amount such as "2.5"')
    try:
        return parse_usd(value)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{where}: {exc.message}") from None


def _amounts_data(rates: Rates) -> dict[str, str]:
    named = rates.named()
    return {kind: format_usd(named[kind]) for kind in AMOUNT_KINDS if kind in named}


def _unit_data(unit: UnitPrice) -> dict[str, str]:
    variant = {"variant": unit.variant} if unit.variant else {}
    return {"per": unit.per, **variant, "usd": format_usd(unit.amount)}


def _unit_key(unit: UnitPrice) -> tuple[str, str]:
    return unit.per, unit.variant


def _mapping(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidRequest(f"{where}: must be an object (a mapping)")
    return data


def _list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"{name}: must be a list")
    return value


def _only_fields(data: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(name) for name in data if name not in allowed)
    if unknown:
        raise InvalidRequest(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(allowed)})")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when it names a key twice (which one would win is a guess)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"the key {key!r} appears twice in one object")
        data[key] = value
    return data


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _yaml() -> Any:
    """PyYAML, imported when a YAML file is read or written (the router never needs it)."""
    import yaml  # type: ignore[import-untyped]

    return yaml


def _exact_loader(yaml: Any) -> Any:
    """YAML's safe loader with floats read as exact decimals (".inf" stays text, which no
    amount accepts), and refusing a key given twice in one mapping and aliases (``*name``:
    a catalog needs none, and they let a small file expand to a huge one)."""

    class ExactLoader(yaml.SafeLoader):  # type: ignore[misc]
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.events.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, "aliases are not allowed", mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable) and key in seen:
                    message = f"the key {key!r} appears twice in one mapping"
                    raise yaml.constructor.ConstructorError(
                        None, None, message, key_node.start_mark
                    )
                if isinstance(key, Hashable):
                    seen.add(key)
            return super().construct_mapping(node, deep)

    def decimal(loader: Any, node: Any) -> Decimal | str:
        text = str(loader.construct_scalar(node))
        try:
            return Decimal(text.replace("_", ""))
        except InvalidOperation:
            return text

    ExactLoader.add_constructor("tag:yaml.org,2002:float", decimal)
    return ExactLoader
