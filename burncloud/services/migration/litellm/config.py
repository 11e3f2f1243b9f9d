"""``burncloud import litellm config.yaml``: a LiteLLM proxy config as a burncloud
``Migration``.

Each ``model_list`` entry (a deployment) becomes a channel serving its ``model_name``, the
public name, mapped to the upstream model when they differ; deployments sharing a name
are several channels of that model, with LiteLLM's ``order`` as priority and its
``weight`` (or ``rpm``/``tpm``) as weight (``routing``); deployments that differ
only by key are one channel with several keys, and deployments that differ only by model
share a channel. Per-deployment prices (``input_cost_per_token`` and
friends, in ``model_info`` or ``litellm_params``) become list prices, exact to the
nano-dollar. The settings are carried where burncloud has an equivalent and reported
where not (``settings``). The file holds no money, users or tokens: only
channels and prices are in the manifest, and nothing in the database is deleted.

Reading follows LiteLLM: ``os.environ/NAME`` anywhere, resolved from the file's
``environment_variables`` then the environment (a missing variable is an error naming it
and the entry), credentials from ``credential_list``, providers and their defaults from
``providers``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.money import format_usd
from burncloud.services.litellm_prices import convert_entry
from burncloud.services.manifest.model import ChannelSpec, Manifest
from burncloud.services.migration.litellm.deployments import (
    Deployment,
    Unsupported,
    deploy,
    extras,
)
from burncloud.services.migration.litellm.routing import Placed, assemble, place
from burncloud.services.migration.litellm.settings import Settings, read_settings
from burncloud.services.migration.litellm.source import (
    Entry,
    Env,
    file_env,
    load_config,
    number,
    read_entries,
)
from burncloud.services.migration.report import Migration, ReportLine
from burncloud.services.price_catalog import Catalog
from burncloud.services.pricing import Price

SOURCE = "LiteLLM proxy config"
_RATE = (
    "not carried as a cap: LiteLLM enforces it only with pre-call checks or usage-based"
    " routing (cap a channel with burncloud channel update ID --rpm/--tpm)"
)


def read_litellm_config(text: str, env: Mapping[str, str]) -> Migration:
    """The channels, prices and report of a LiteLLM proxy config; InvalidRequest (its
    message starting with the path of the bad value) when the file is malformed or a
    variable it references is not set."""
    data = load_config(text)
    lookup = file_env(data, env)
    settings = read_settings(data, lookup)
    entries = read_entries(data, lookup)
    report = _Report(settings)
    deployments = [d for d in (report.deploy(e, lookup) for e in entries) if d is not None]
    deployments += _alias_copies(deployments, settings, report)
    placed = place(deployments, lookup, settings.shuffle)
    channels, joined = assemble(placed)
    for item, channel in zip(placed, joined, strict=True):
        report.channel(item, channel, lookup)
    report.pooled(channels)
    prices = _prices([d for d in deployments if d.entry.alias_of is None], settings, report)
    return Migration(
        source=SOURCE,
        manifest=Manifest(channels=tuple(channels), prices=prices),
        mapped=tuple(report.mapped + settings.mapped),
        skipped=tuple(report.skipped + settings.skipped),
        notes=tuple(_notes(settings, deployments, prices)),
    )


class _Report:
    """Collects the lines of the model entries."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mapped: list[ReportLine] = []
        self.skipped: list[ReportLine] = []

    def deploy(self, entry: Entry, env: Env) -> Deployment | None:
        try:
            return deploy(entry, env, self.settings.timeout)
        except Unsupported as exc:
            self.skipped.append(ReportLine("channel", _source(entry), f"skipped: {exc}"))
            return None

    def channel(self, item: Placed, channel: str, env: Env) -> None:
        d = item.deployment
        target = f" -> {d.upstream}" if d.upstream != d.entry.model_name else ""
        at = f" at {d.base_url}" if d.base_url else ""
        config = [f"{k} {v}" for k, v in sorted(d.config.items())]
        parts = [f"{d.kind}{at}", f"model {d.entry.model_name}{target}", *config, *d.said]
        parts += item.said
        self.mapped.append(
            ReportLine(
                "channel",
                _source(d.entry),
                f"channel {channel}: " + ", ".join(dict.fromkeys(parts)),
            )
        )
        if d.entry.alias_of is None:
            self._left_behind(d.entry, env)

    def pooled(self, channels: Sequence[ChannelSpec]) -> None:
        """A line for each channel whose deployments differed only by key."""
        for spec in channels:
            count = len(spec.keys or ())
            if count > 1:
                said = (
                    f"{count} keys from {count} deployments that differ only by key, used at"
                    f" random; weight {spec.weight}: one share per key"
                )
                self.mapped.append(ReportLine("channel", spec.name, said))

    def _left_behind(self, entry: Entry, env: Env) -> None:
        for name in ("rpm", "tpm"):
            value = entry.params.get(name)
            if value is not None:
                shown = env.resolve(value, f"{entry.where}.litellm_params.{name}")
                self.skipped.append(
                    ReportLine("channel", _source(entry), f"{name} {shown} {_RATE}")
                )
        others = extras(entry)
        if others:
            self.skipped.append(
                ReportLine(
                    "channel",
                    _source(entry),
                    f"litellm_params not carried: {', '.join(others)} (burncloud forwards the"
                    " client's request parameters; no per-channel defaults or headers)",
                )
            )


def _alias_copies(
    deployments: Sequence[Deployment], settings: Settings, report: _Report
) -> list[Deployment]:
    """``model_group_alias``: the alias as one more model of each deployment of its target."""
    names = {d.entry.model_name for d in deployments}
    copies: list[Deployment] = []
    for alias, target in settings.aliases.items():
        source = f"router_settings.model_group_alias.{alias}"
        if alias in names:
            settings.left(source, f"{alias} is a model_name of model_list already: not aliased")
        elif target not in names:
            settings.left(source, f"-> {target}: no imported model_list entry serves {target}")
        else:
            settings.carried(source, f"-> {target}: served by {target}'s channels")
            copies += [
                replace(d, entry=replace(d.entry, model_name=alias, alias_of=target))
                for d in deployments
                if d.entry.model_name == target
            ]
    return copies


def _prices(
    deployments: Sequence[Deployment], settings: Settings, report: _Report
) -> Catalog | None:
    """List prices from the entries' costs: one per model (its first entry's; differing
    ones are reported), and the aliases of model_group_alias."""
    prices: dict[str, Price] = {}
    for d in deployments:
        price = _entry_price(d.entry, report)
        model = d.entry.model_name
        if price is None:
            continue
        if model not in prices:
            prices[model] = price
            report.mapped.append(
                ReportLine("price", model, f"{_describe(price)} ({d.entry.where})")
            )
        elif price != prices[model]:
            report.skipped.append(
                ReportLine(
                    "price",
                    model,
                    f"{d.entry.where} costs {_describe(price)}: not carried,"
                    " burncloud bills one list price per model (the first entry's)",
                )
            )
    for alias, target in settings.aliases.items():
        if target in prices and alias not in prices:
            prices[alias] = Price(model=alias, input=0, output=0, alias_of=target)
            report.mapped.append(ReportLine("price", alias, f"alias of {target}"))
    return Catalog(prices=prices, channels={}) if prices else None


def _entry_price(entry: Entry, report: _Report) -> Price | None:
    fields = {
        **_costs(entry.info, f"{entry.where}.model_info"),
        **_costs(entry.params, f"{entry.where}.litellm_params"),
    }
    if not fields:
        return None
    try:
        converted = convert_entry(entry.model_name, fields)
    except InvalidRequest as exc:
        message = exc.message.split(": ", 1)[-1]  # convert_entry names the LiteLLM entry
        raise InvalidRequest(f"{entry.where}: {message}") from None
    if converted.ignored:
        report.skipped.append(
            ReportLine(
                "price",
                entry.model_name,
                f"{entry.where}: {', '.join(converted.ignored)} not billed by burncloud",
            )
        )
    if converted.rounded:
        report.skipped.append(
            ReportLine(
                "price",
                entry.model_name,
                f"{entry.where}: {converted.rounded} amounts rounded to a whole nano-USD per block",
            )
        )
    return converted.price


def _costs(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The price fields of a mapping, numbers in text read as exact decimals (YAML reads
    ``5e-06`` as text, LiteLLM as a number)."""
    found: dict[str, Any] = {}
    for name, value in values.items():
        if "cost" not in str(name) and "pricing" not in str(name):
            continue
        if isinstance(value, str):
            value = number(value, f"{where}.{name}")
        found[str(name)] = value
    return found


def _describe(price: Price) -> str:
    named = price.rates.named()
    parts = [f"{kind} ${format_usd(amount)}" for kind, amount in named.items() if kind != "request"]
    text = ", ".join(parts) + " per 1M tokens" if parts else ""
    if "request" in named:
        text = f"{text}, " if text else ""
        text += f"${format_usd(named['request'])} per request"
    extra = len(price.tiers) + len(price.units)
    return text + (f" (+{extra} tiers/units)" if extra else "")


def _notes(
    settings: Settings, deployments: Sequence[Deployment], prices: Catalog | None
) -> list[str]:
    notes = list(settings.notes)
    priced = set(prices.prices) if prices else set()
    unpriced = sorted({d.entry.model_name for d in deployments} - priced)
    if unpriced:
        bases = {d.entry.model_name: d.entry.info.get("base_model") for d in reversed(deployments)}
        shown = [f"{m} (base_model {bases[m]})" if bases.get(m) else m for m in unpriced]
        notes.append(
            "no price in the config for: " + ", ".join(shown) + " (set them with"
            " burncloud price set, or burncloud price import <LiteLLM price file>"
            " --format litellm --only MODEL,...)"
        )
    return notes


def _source(entry: Entry) -> str:
    return f"{entry.where} {entry.model}"
