"""`burncloud export`, `apply` and `diff`: the whole configuration as a file kept in git.

The file format is ``services.manifest.codec``'s (documented in the README); the plan is
``services.manifest.plan``'s, applied in one transaction by ``services.manifest.apply``.
They are imported when a command runs: every other command starts without them (and
without PyYAML).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from burncloud.cli.channels import url_check
from burncloud.cli.completions import one_of
from burncloud.cli.files import (
    TEXT_FORMATS,
    TextFormatOption,
    chosen_format,
    read_text_file,
    write_text_file,
)
from burncloud.cli.output import print_line
from burncloud.cli.session import DbOption, Session, fail, run, run_planning, run_read
from burncloud.errors import InvalidRequest

if TYPE_CHECKING:
    from burncloud.services.manifest.model import Manifest, NewKey, Plan

SECRETS = ("omit", "env", "plain")

FileOption = Annotated[
    Path, typer.Option("-f", "--file", metavar="FILE", help="The configuration file.")
]


def export(
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout."),
    ] = None,
    file_format: TextFormatOption = None,
    secrets: Annotated[
        str,
        typer.Option(
            "--secrets",
            metavar="|".join(SECRETS),
            autocompletion=one_of(SECRETS),
            help="Channel keys: omit them, write ${BURNCLOUD_CHANNEL_<NAME>_KEY} references"
            " (env), or write them in the file (plain, with --confirm-plain-secrets).",
        ),
    ] = "omit",
    confirm_plain: Annotated[
        bool,
        typer.Option(
            "--confirm-plain-secrets",
            help="Confirm that the file will hold every channel key in plain text.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Write the whole configuration: channels, prices, groups, plans (and the default),
    users, tokens (never a client key: its hash), their budgets, redemption codes (hashed)
    and settings."""
    chosen = chosen_format(file_format, output, TEXT_FORMATS)
    if secrets not in SECRETS:
        raise fail(f"--secrets must be one of {', '.join(SECRETS)}, not {secrets!r}")
    if secrets == "plain" and not confirm_plain:
        raise fail(
            "--secrets plain writes every channel key in the file: add --confirm-plain-secrets"
        )

    from burncloud.services.manifest.codec import dump_manifest, key_variable
    from burncloud.services.manifest.read import read_manifest

    async def action(session: Session) -> Manifest:
        box = await session.secret_box()
        return await read_manifest(session.db, box, with_keys=secrets == "plain")

    manifest = run_read(db, action)
    text = dump_manifest(manifest, chosen, secrets)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text_file(output, text)
        print_line(f"wrote {_count(manifest)} to {output}")
    if secrets == "env" and manifest.channels:
        names = " ".join(key_variable(channel.name) for channel in manifest.channels)
        print(f"set before `burncloud apply`: {names}", file=sys.stderr)


def apply(
    file: FileOption,
    file_format: TextFormatOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Also delete what the file's sections do not name."),
    ] = False,
    db: DbOption = None,
) -> None:
    """Make the database what FILE says, in one transaction, and print the plan.

    Objects are matched by name (a token by its user and its name); `renamed_from`
    renames. ${VAR} references are read from the environment. A user's balance and a
    token's quota are set when they are created, never rewritten (traffic spends them);
    a budget's new amount applies to its current window, whose spend is kept.
    """
    from burncloud.services.manifest.apply import apply_plan
    from burncloud.services.manifest.plan import plan_changes

    desired = read_manifest_file(file, file_format)

    async def plan_only(session: Session) -> Plan:
        return await plan_changes(session.db, await session.secret_box(), desired, prune=prune)

    async def plan_and_apply(session: Session) -> tuple[Plan, list[NewKey]]:
        box = await session.secret_box()
        plan = await plan_changes(session.db, box, desired, prune=prune)
        if plan.is_empty:
            return plan, []
        return plan, await apply_plan(session.db, box, plan, check_url=url_check(session))

    if dry_run:
        plan = run_planning(db, plan_only)
        print_plan(plan, str(file), "dry run, nothing applied")
        return
    plan, new_keys = run(db, plan_and_apply)
    print_plan(plan, str(file), "applied")
    for new in new_keys:
        print_line(f"new key for token {new.user}/{new.token} (shown once): {new.key}")


def diff(file: FileOption, file_format: TextFormatOption = None, db: DbOption = None) -> None:
    """Print how the database differs from FILE (what `apply --prune` would change), and
    exit 1 when it does: for CI pipelines."""
    from burncloud.services.manifest.plan import plan_changes

    desired = read_manifest_file(file, file_format)

    async def action(session: Session) -> Plan:
        return await plan_changes(session.db, await session.secret_box(), desired, prune=True)

    plan = run_planning(db, action)
    for change in plan.changes:
        print_line(change.line())
    if plan.is_empty:
        print_line(f"no drift: the database matches {file}")
        return
    print_line(f"{_changes(len(plan.changes))} between {file} and the database")
    raise typer.Exit(code=1)


def print_plan(plan: Plan, source: str, outcome: str) -> None:
    """The plan's lines and a summary line (``source`` names a file or a peer database)."""
    for change in plan.changes:
        print_line(change.line())
    if plan.is_empty:
        print_line(f"no changes: the database already matches {source}")
    else:
        print_line(f"{_changes(len(plan.changes))} ({outcome})")


def read_manifest_file(path: Path, file_format: str | None) -> Manifest:
    """The manifest FILE holds, ${VAR} resolved; the one-line error naming the bad field."""
    from burncloud.services.manifest.codec import load_manifest

    chosen = chosen_format(file_format, path, TEXT_FORMATS)
    text = read_text_file(path)
    try:
        return load_manifest(text, chosen, os.environ)
    except InvalidRequest as exc:
        raise fail(f"{path}: {exc.message}") from None


def _changes(count: int) -> str:
    return f"{count} change{'' if count == 1 else 's'}"


def _count(manifest: Manifest) -> str:
    parts = (
        ("channel", manifest.channels),
        ("user", manifest.users),
        ("token", manifest.tokens),
        ("price", manifest.prices.prices if manifest.prices else None),
        ("group", manifest.groups),
        ("plan", manifest.plans),
    )
    return ", ".join(
        f"{len(items)} {name}{'' if len(items) == 1 else 's'}"
        for name, items in parts
        if items is not None
    )
