"""``burncloud channel probe ID``: measure what a channel supports, per model, and store it;
and the ``--capability`` option of ``channel update``, which sets it by hand."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from burncloud.cli.output import emit, print_json
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run
from burncloud.errors import InvalidRequest
from burncloud.services.capabilities import SPEC_FORMS, CapabilitySpec, parse_specs

if TYPE_CHECKING:
    from burncloud.services.capability_probe import ProbeReport

CAPABILITY_HELP = (
    f"Set what the channel supports, {SPEC_FORMS}; names as `channel show` lists them,"
    " 'auto' removes an entry (repeatable)."
)
_COLUMNS = [
    ("model", "Model"),
    ("name", "Capability"),
    ("result", "Result"),
    ("detail", "How"),
]


def probe(
    channel_id: Annotated[
        int, typer.Argument(metavar="ID", help="Channel id.", show_default=False)
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="MODEL",
            help="Probe only this model (default: every one).",
            show_default=False,
        ),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            metavar="FILE",
            help="A LiteLLM model_prices_and_context_window.json for context windows.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send small real requests through a channel to measure, per model, tool calls,
    parallel tool calls, image input, JSON schema output, reasoning and usage in streams;
    store what they show (an inconclusive check stores nothing) for routing."""
    windows = _catalog(catalog) if catalog is not None else None
    report = run(db, lambda session: _probe(session, channel_id, model, windows))
    if as_json:
        print_json(report.to_json())
        return
    emit(_rows(report), as_json=False, columns=_COLUMNS)


def parse_capability_options(options: list[str]) -> list[CapabilitySpec]:
    """``--capability`` values as specs (the last one for a model and name wins); exits
    with the one-line error for a malformed one."""
    try:
        return parse_specs(options)
    except InvalidRequest as exc:
        raise fail(exc.message) from None


async def _probe(
    session: Session, channel_id: int, model: str | None, windows: dict[str, int] | None
) -> ProbeReport:
    # Imported here: httpx, the providers and the guard's aiohttp would slow each CLI start.
    from functools import partial

    import httpx

    from burncloud.gateway.egress.upstream_guard import check_base_url
    from burncloud.services.capability_probe import probe_channel

    box = await session.secret_box()
    guard = partial(check_base_url, allow_private=session.settings.allow_private_upstreams)
    async with httpx.AsyncClient() as client:
        return await probe_channel(
            session.db, box, channel_id, model, client=client, check_url=guard, catalog=windows
        )


def _catalog(path: Path) -> dict[str, int]:
    from burncloud.services.capability_checks import litellm_context_windows

    try:
        return litellm_context_windows(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read the catalog {str(path)!r}: {exc}") from None


def _rows(report: ProbeReport) -> list[dict[str, Any]]:
    rows = []
    for probed in report.models:
        label = probed.model
        if probed.upstream_model != probed.model:
            label += f" -> {probed.upstream_model}"
        for finding in probed.findings:
            result = "?" if finding.value is None else finding.value
            rows.append(
                {"model": label, "name": finding.name, "result": result, "detail": finding.detail}
            )
    return rows
