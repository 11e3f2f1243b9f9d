"""`burncloud bill replay`: logged requests billed again at a price file, read-only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from burncloud.db import open_database
from burncloud.services.clock import now
from tests.cli.test_prices import assert_one_line_error

M = 1_000_000  # nano-USD in a thousandth of a USD


@pytest.fixture
def cli(cli, db_url: str):
    """A database with a price, a user in a 0.5 group and three logged requests."""
    for args in (
        ("init",),
        ("price", "set", "gpt-4o", "--input", "2.5", "--output", "10"),
        ("group", "set", "vip", "--ratio", "0.5"),
        ("user", "add", "bob", "--group", "vip"),
    ):
        result = cli(*args)
        assert result.exit_code == 0, result.output

    async def seed() -> None:
        db = await open_database(db_url)
        try:
            bob = await db.fetch_value("SELECT id FROM users WHERE name = 'bob'")
            rows = [  # (age in seconds, user, model, prompt, completion, cost, upstream cost)
                (60, bob, "gpt-4o", 1_000, 100, 2 * M, M),
                (120, None, "gpt-4o", 2_000, 0, 5 * M, None),
                (180, bob, "retired", 10, 10, M, None),
                (40 * 86_400, bob, "gpt-4o", 1_000, 100, 7 * M, M),  # before 30d
            ]
            async with db.transaction() as tx:
                for n, (age, user, model, prompt, completion, cost, upstream) in enumerate(rows):
                    await tx.execute(
                        "INSERT INTO logs (created_at, request_id, user_id, model, prompt_tokens,"
                        " completion_tokens, cost, upstream_cost, status) VALUES"
                        " (:t, :r, :u, :m, :p, :c, :cost, :up, 200)",
                        {"t": now() - age, "r": f"r{n}", "u": user, "m": model, "p": prompt,
                         "c": completion, "cost": cost, "up": upstream},
                    )  # fmt: skip
        finally:
            await db.close()

    asyncio.run(seed())
    return cli


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text("prices:\n  gpt-4o: {input: 5, output: 20}\n")
    return path


def test_replay_json_by_model(cli, prices: Path) -> None:
    result = cli("bill", "replay", "--prices", str(prices), "--json")
    assert result.exit_code == 0, result.output
    data = orjson.loads(result.stdout)
    # bob: (1,000 x 5 + 100 x 20) / 1M x 0.5 = 0.0035; no user: 2,000 x 5 / 1M = 0.01
    assert data["rows"][0] == {
        "key": "gpt-4o",
        "label": "gpt-4o",
        "requests": 2,
        "unpriced": 0,
        "logged_revenue": "0.007",
        "replayed_revenue": "0.0135",
        "difference": "0.0065",
        "upstream_cost": "0.001",
        "unknown_upstream_cost": 1,
        "margin": "0.001",
        "replayed_margin": "0.0025",
    }
    assert data["unpriced_models"] == ["retired"]
    assert data["total"]["requests"] == 3 and data["total"]["unpriced"] == 1


def test_replay_table_by_user(cli, prices: Path) -> None:
    result = cli("bill", "replay", "--prices", str(prices), "--by", "user", "--since", "1d")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:8] == [
        "requests         3",
        "unpriced         1",
        "logged           0.007",
        "replayed         0.0135",
        "difference       0.0065",
        "upstream cost    0.001 + 1 unknown",
        "margin           0.001",
        "replayed margin  0.0025",
    ]
    assert "(the file has no price for retired: 1 requests left out)" in lines
    header = lines.index("user\trequests\tunpriced\tlogged\treplayed\tdifference"
                         "\tupstream cost\tmargin\treplayed margin")  # fmt: skip
    assert lines[header + 1 :] == [
        "(no user)\t1\t0\t0.005\t0.01\t0.005\tunknown\tunknown\tunknown",
        "bob\t2\t1\t0.002\t0.0035\t0.0015\t0.001\t0.001\t0.0025",
    ]


def test_a_longer_window_takes_older_requests(cli, prices: Path) -> None:
    data = orjson.loads(cli("bill", "replay", "--prices", str(prices), "--since", "60d",
                            "--json").stdout)  # fmt: skip
    assert data["total"]["requests"] == 4


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--by", "channel"), "--by must be one of model, user"),
        (("--since", "yesterday"), "--since: invalid time"),
        (("--prices", "missing.yaml"), "cannot read missing.yaml"),
    ],
)
def test_bad_options_are_one_line(cli, prices: Path, args: tuple[str, ...], fragment: str) -> None:
    full = ("--prices", str(prices), *args) if "--prices" not in args else args
    assert_one_line_error(cli("bill", "replay", *full), fragment)


def test_a_malformed_price_file_is_one_line(cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"prices": {"gpt-4o": {"input": "x", "output": "1"}}}')
    assert_one_line_error(
        cli("bill", "replay", "--prices", str(bad)), "prices.gpt-4o.input: not a decimal amount"
    )
