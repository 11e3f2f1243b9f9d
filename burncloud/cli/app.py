"""The root `burncloud` command and its groups."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, Protocol, TypeGuard

import typer
from typer.core import TyperGroup

from burncloud import __version__
from burncloud.cli import (
    admin_key,
    alerts,
    audit,
    bill,
    channels,
    dash,
    groups,
    imports,
    init,
    invite,
    logs,
    manifest,
    plans,
    price_catalog,
    prices,
    quota,
    redeem,
    router,
    routes,
    stats,
    tokens,
    users,
)


class BurncloudGroup(TyperGroup):
    """Reports every usage error as one line and exit code 1, never a traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        extra["windows_expand_args"] = windows_expand_args
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            print("error: aborted", file=sys.stderr)
            sys.exit(1)
        except Exception as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                sys.exit(0)  # typer has already printed the help
            if _is_usage_error(exc):
                print(f"error: {_one_line(exc.format_message())}", file=sys.stderr)
                sys.exit(1)
            if os.environ.get("BURNCLOUD_DEBUG"):
                raise
            print(f"error: unexpected {type(exc).__name__}: {_one_line(str(exc))}", file=sys.stderr)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


class _UsageError(Protocol):
    def format_message(self) -> str: ...


def _is_usage_error(exc: Exception) -> TypeGuard[_UsageError]:
    """A click-style usage error (typer vendors click, so match by shape, not by class)."""
    return callable(getattr(exc, "format_message", None)) and hasattr(exc, "exit_code")


def _one_line(text: str) -> str:
    return " ".join(text.split())


app = typer.Typer(
    cls=BurncloudGroup,
    name="burncloud",
    help="burncloud: LLM aggregation gateway and operator tool.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help is plain text: "pip install 'burncloud[uvicorn]'" stays whole
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        print(f"burncloud {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """burncloud: one OpenAI-compatible endpoint for every LLM provider, with exact billing."""


app.command("init")(init.init)
app.command("router")(router.router)
app.command("export")(manifest.export)
app.command("apply")(manifest.apply)
app.command("diff")(manifest.diff)
app.add_typer(imports.app, name="import", help="Move in from One API, New API or LiteLLM's proxy.")
prices.app.command("export")(price_catalog.export)
prices.app.command("import")(price_catalog.import_)
app.add_typer(prices.app, name="price", help="Model prices (USD per 1M tokens) and aliases.")
app.add_typer(channels.app, name="channel", help="Upstream provider channels.")
app.add_typer(tokens.app, name="token", help="Client API keys (relay keys).")
app.add_typer(quota.app, name="quota", help="Token quotas and user balances.")
app.add_typer(users.app, name="user", help="Users, roles and groups.")
app.add_typer(groups.app, name="group", help="User groups and their price ratios.")
app.add_typer(plans.app, name="plan", help="Plans: budgets, models and limits for many users.")
app.add_typer(redeem.app, name="redeem", help="Redemption codes.")
app.add_typer(invite.app, name="invite", help="Invite codes and rewards.")
app.add_typer(admin_key.app, name="admin-key", help="Admin keys: the keys of the admin API.")
app.add_typer(routes.app, name="route", help="Routing decisions: explain and dry-run.")
app.add_typer(
    logs.app, name="log", help="Request logs: list recent ones, follow new ones, prune old ones."
)
app.command("stats")(stats.stats)
app.add_typer(alerts.app, name="alert", help="Alerts: webhooks for budgets, channels, errors.")
app.add_typer(audit.app, name="audit", help="The audit trail of configuration changes.")
app.add_typer(bill.app, name="bill", help="Bills: replay logged requests at other prices.")
app.command("dash")(dash.dash)


def main() -> None:
    """Console-script entry point."""
    app()
