"""``route dry-run --needs ... --context N``: channels that cannot serve what the request
would use are shown unusable, with the reason routing would give."""

from __future__ import annotations

import asyncio

import orjson

from burncloud.db import open_database
from burncloud.services.capabilities import parse_specs, set_capabilities
from tests.cli.checks import fails_with_one_line


def channels(cli, db_url: str) -> None:
    """Channels 1 and 2 serving gpt-4o; channel 2 text-only, with a context of 1000."""
    for name in ("full", "small"):
        result = cli(
            "channel", "add", "--type", "openai", "--name", name, "--key", f"sk-{name}",
            "--models", "gpt-4o", "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output

    async def limit() -> None:
        db = await open_database(db_url)
        try:
            await set_capabilities(db, 2, parse_specs(["vision=false", "context=1000"]))
        finally:
            await db.close()

    asyncio.run(limit())


def usable(cli, *options: str) -> dict[int, tuple[bool, str]]:
    result = cli("route", "dry-run", "--model", "gpt-4o", *options, "--json")
    assert result.exit_code == 0, result.output
    shown = orjson.loads(result.stdout)["channels"]
    return {choice["id"]: (choice["usable"], choice["reason"]) for choice in shown}


def test_dry_run_shows_why_a_channel_cannot_serve_the_request(cli, db_url, bootstrapped) -> None:
    channels(cli, db_url)
    assert usable(cli)[2][0] is True
    assert usable(cli, "--needs", "tools,vision") == {
        1: (True, "enabled"),
        2: (False, "no image input (vision=false)"),
    }
    assert usable(cli, "--context", "5000")[2] == (
        False,
        "prompt of about 5000 tokens is over its context of 1000",
    )
    assert usable(cli, "--needs", "reasoning", "--context", "900")[2] == (True, "enabled")
    table = cli("route", "dry-run", "--model", "gpt-4o", "--needs", "vision")
    assert "small\topenai\t0\t1\tno\t0.0%\tno image input (vision=false)" in table.stdout


def test_an_unknown_need_is_a_one_line_error(cli, db_url, bootstrapped) -> None:
    channels(cli, db_url)
    fails_with_one_line(
        cli("route", "dry-run", "--model", "gpt-4o", "--needs", "magic"), "unknown need 'magic'"
    )
