"""`burncloud route`: explain a logged request's routing, or dry-run one now."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from burncloud.cli.completions import one_of
from burncloud.cli.output import emit, print_json, print_line, print_table
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run_read
from burncloud.providers.registry import ENDPOINT_NAMES
from burncloud.services import routes
from burncloud.services.capabilities import BOOLEANS, parse_needs
from burncloud.services.routes import BreakerLookup
from burncloud.services.tokens import split_list

app = typer.Typer(no_args_is_help=True, help="Why requests go to the channels they go to.")


@app.command("explain")
def explain(
    request_id: Annotated[str, typer.Argument(help="The request's id (its x-request-id).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the candidates of a logged request, which were skipped and why, and each attempt."""

    async def action(session: Session) -> None:
        found = await routes.explain(session.db, request_id)
        if as_json:
            print_json(found.to_json())
            return
        print_line(f"request {found.request_id}: model {found.model}, status {found.status}")
        if found.error:
            print_line(f"error: {found.error}")
        if not found.candidates:
            print_line("no routing decision was recorded (refused before routing)")
            return
        print_line("candidates, in the order chosen:")
        print_table(
            found.candidates,
            [("id", "id"), ("name", "name"), ("priority", "priority"), ("weight", "weight")],
        )
        for skip in found.skipped:
            print_line(f"skipped channel {_which(skip)}: {skip['reason']}")
        for number, attempt in enumerate(found.attempts, 1):
            outcome = attempt.get("error") or "ok"
            status = attempt.get("status") or "no answer"
            print_line(
                f"attempt {number}: channel {_which(attempt)} -> {status}"
                f" in {attempt['ms']} ms: {outcome}"
            )
        for note in found.notes:
            print_line(f"note: {note}")
        if found.affinity is not None:
            print_line(routes.affinity_line(found.affinity))

    run_read(db, action)


def _which(entry: dict[str, Any]) -> str:
    """``3 (main)``, or ``3 (main) key 12`` when the entry names the key (by id only)."""
    key = f" key {entry['key']}" if entry.get("key") is not None else ""
    return f"{entry['id']} ({entry['name']}){key}"


@app.command("dry-run")
def dry_run(
    model: Annotated[str, typer.Option("--model", help="The model a client would ask for.")],
    token: Annotated[
        int | None, typer.Option("--token", help="Route as this token's group (default: default).")
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            metavar="NAME",
            help=f"Only channels serving this endpoint: {', '.join(ENDPOINT_NAMES)}.",
            autocompletion=one_of(ENDPOINT_NAMES),
            show_default=False,
        ),
    ] = None,
    needs: Annotated[
        str | None,
        typer.Option(
            "--needs",
            metavar="A,B",
            help=f"Only channels able to serve a request using these: {', '.join(BOOLEANS)}.",
            show_default=False,
        ),
    ] = None,
    context: Annotated[
        int | None,
        typer.Option(
            "--context",
            metavar="TOKENS",
            help="Only channels whose context takes a prompt of this many tokens.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the channels that would serve MODEL now and each one's chance to be tried first."""
    if endpoint is not None and endpoint not in ENDPOINT_NAMES:
        raise fail(f"unknown endpoint {endpoint!r}: use one of {', '.join(ENDPOINT_NAMES)}")

    async def action(session: Session) -> None:
        lookup = _breakers(session)
        wanted = parse_needs(split_list(needs or ""), context)
        found = await routes.dry_run(session.db, model, token, lookup, endpoint, wanted)
        if as_json:
            print_json(found.to_json())
            return
        rows = [
            {
                **choice.to_json(),
                "share": f"{choice.share:.1%}",
                "usable": "yes" if choice.usable else "no",
            }
            for choice in found.choices
        ]
        at = f", endpoint {endpoint}" if endpoint is not None else ""
        print_line(f"model {found.model}, group {found.group}{at}")
        emit(
            rows,
            as_json=False,
            columns=[
                ("id", "id"),
                ("name", "name"),
                ("type", "type"),
                ("priority", "priority"),
                ("weight", "weight"),
                ("usable", "usable"),
                ("share", "first pick"),
                *([("served", "served")] if endpoint is not None else []),
                ("reason", "state"),
            ],
        )
        if not found.breakers_known:
            print_line("no router shares breaker state on this machine: breakers not shown")

    run_read(db, action)


def _breakers(session: Session) -> BreakerLookup | None:
    """Breaker states from the routers' shared state on this machine, when there is one."""
    from burncloud.gateway.fleet.health import BreakerState, HealthBook, best_state, held_back
    from burncloud.gateway.fleet.shared_state import MmapState
    from burncloud.gateway.fleet.state_file import state_file_path

    path = state_file_path(session.settings.database_url)
    if not path.exists():
        return None
    book = HealthBook(MmapState.open(path))

    def lookup(channel_id: int, model: str, key_ids: list[int]) -> tuple[bool, str]:
        view = best_state(book, channel_id, model, key_ids)
        if view.state is BreakerState.CLOSED and view.retry_in <= 0:
            return True, "healthy"
        return False, held_back(view)

    return lookup
