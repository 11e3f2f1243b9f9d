"""The channel options `channel add` and `channel update` share beyond the basics: key
selection, tags, caps, model sync and balance checks, turned into ``update_channel``'s
keyword changes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from burncloud.cli.channel_models import parse_interval
from burncloud.cli.completions import one_of
from burncloud.cli.session import fail
from burncloud.errors import InvalidRequest
from burncloud.services.balance_apis import BALANCE_APIS
from burncloud.services.channel_keys import KEY_SELECTIONS
from burncloud.services.stats import parse_window

OFF = ("off", "0", "")

KeySelectionOption = Annotated[
    str | None,
    typer.Option(
        "--key-selection",
        metavar="HOW",
        help="How the channel's keys take turns: random (by key weight) or round-robin.",
        autocompletion=one_of(KEY_SELECTIONS),
        show_default=False,
    ),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        metavar="T,U",
        help="Tags for bulk operations, comma-separated (repeatable; '' on update clears).",
        show_default=False,
    ),
]
RpmOption = Annotated[
    int | None,
    typer.Option(
        "--rpm", metavar="N", help="Cap: requests per minute (0: none).", show_default=False
    ),
]
TpmOption = Annotated[
    int | None,
    typer.Option(
        "--tpm", metavar="N", help="Cap: tokens per minute (0: none).", show_default=False
    ),
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--max-concurrency",
        metavar="N",
        help="Cap: requests at once (0: none).",
        show_default=False,
    ),
]
AutoSyncOption = Annotated[
    str | None,
    typer.Option(
        "--auto-sync",
        metavar="EVERY",
        help="Sync the model list with the upstream's every EVERY (like 24h; 'off' stops);"
        " models that appear or vanish raise the channel-models alert.",
        show_default=False,
    ),
]
BalanceApiOption = Annotated[
    str | None,
    typer.Option(
        "--balance-api",
        metavar="API",
        help=f"The upstream's balance API: {', '.join(BALANCE_APIS)} ('' detects it from"
        " the base URL's host).",
        autocompletion=one_of(BALANCE_APIS),
        show_default=False,
    ),
]
BalanceEveryOption = Annotated[
    str | None,
    typer.Option(
        "--balance-every",
        metavar="EVERY",
        help="Check the upstream balance every EVERY (like 1h; 'off' never; default 1h).",
        show_default=False,
    ),
]
BalanceBelowOption = Annotated[
    str | None,
    typer.Option(
        "--balance-alert-below",
        metavar="AMOUNT",
        help="Raise the upstream-balance alert below AMOUNT, in the balance's currency"
        " ('' for the default).",
        show_default=False,
    ),
]


def channel_changes(
    *,
    key_selection: str | None = None,
    tags: list[str] | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    max_concurrency: int | None = None,
    auto_sync: str | None = None,
    balance_api: str | None = None,
    balance_every: str | None = None,
    balance_alert_below: str | None = None,
) -> dict[str, Any]:
    """The options given, as ``add_channel`` / ``update_channel`` keywords (those not given
    are left out); a wrong interval exits with its one-line error."""
    try:
        return _changes(
            key_selection, tags, rpm, tpm, max_concurrency, auto_sync, balance_api,
            balance_every, balance_alert_below,
        )  # fmt: skip
    except InvalidRequest as exc:
        raise fail(exc.message) from None


def _changes(
    key_selection: str | None,
    tags: list[str] | None,
    rpm: int | None,
    tpm: int | None,
    max_concurrency: int | None,
    auto_sync: str | None,
    balance_api: str | None,
    balance_every: str | None,
    balance_alert_below: str | None,
) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "key_selection": key_selection,
        "tags": None if tags is None else [tag for tag in tags if tag.strip()],
        "rpm": rpm,
        "tpm": tpm,
        "max_concurrency": max_concurrency,
        "auto_sync": None if auto_sync is None else parse_interval(auto_sync),
        "balance_api": balance_api,
        "balance_every": None if balance_every is None else every_seconds(balance_every),
        "balance_alert_below": balance_alert_below,
    }
    return {name: value for name, value in changes.items() if value is not None}


def every_seconds(text: str) -> int:
    """An interval like 24h or 30m in seconds; 0 for off."""
    return 0 if text.strip().lower() in OFF else parse_window(text)


def _specs(flag: str, metavar: str, help: str) -> Any:
    return typer.Option(flag, metavar=metavar, help=help, show_default=False)


SetHeaderOption = Annotated[
    list[str] | None,
    _specs(
        "--set-header",
        "NAME=VALUE",
        "Send this header upstream (replacing the channel's own, auth included; empty"
        " VALUE removes the header; repeatable).",
    ),
]
UnsetHeaderOption = Annotated[
    list[str] | None, _specs("--unset-header", "NAME", "Stop overriding a header (repeatable).")
]
SetParamOption = Annotated[
    list[str] | None,
    _specs(
        "--set-param",
        "NAME=VALUE",
        "Set a body parameter upstream (VALUE as JSON when it is JSON: 0.2, true, {...};"
        " a token limit is only ever lowered; repeatable).",
    ),
]
DropParamOption = Annotated[
    list[str] | None,
    _specs("--drop-param", "NAME", "Remove a body parameter on the way upstream (repeatable)."),
]
UnsetParamOption = Annotated[
    list[str] | None,
    _specs("--unset-param", "NAME", "Stop setting or dropping a parameter (repeatable)."),
]


def override_specs(
    set_header: list[str] | None,
    unset_header: list[str] | None,
    set_param: list[str] | None,
    drop_param: list[str] | None,
    unset_param: list[str] | None,
) -> dict[str, list[str]] | None:
    """The override options given, as ``changed_overrides`` keywords; None when none was."""
    given = {
        "set_headers": set_header or [],
        "unset_headers": unset_header or [],
        "set_params": set_param or [],
        "drop_params": drop_param or [],
        "unset_params": unset_param or [],
    }
    return given if any(given.values()) else None
