"""`burncloud import` and the README's examples on the test database's engine (SQLite, and
PostgreSQL on CI's second pass): the peer is a One API SQLite file, the target whatever
the `cli` fixture opens."""

from __future__ import annotations

import os
import re
from pathlib import Path

import orjson
import pytest

from burncloud.money import parse_usd
from tests.conftest import Invoke
from tests.peers.build import build_peer_database
from tests.peers.facts import peer_facts

README = Path(__file__).resolve().parents[2] / "README.md"
NANO_PER_UNIT = 2_000  # 500,000 quota units per dollar


@pytest.fixture
async def one_api(tmp_path: Path) -> str:
    return await build_peer_database("oneapi", "sqlite", tmp_path / "peer", peer_facts("oneapi"))


def test_import_then_import_again_on_this_engine(cli: Invoke, one_api: str) -> None:
    first = cli("import", "oneapi", one_api)
    assert first.exit_code == 0, first.output
    users = orjson.loads(cli("user", "list", "--json").stdout)
    imported = sum(parse_usd(u["balance"]) for u in users if u["name"] != "admin")
    assert imported == peer_facts("oneapi").user_quota_total * NANO_PER_UNIT
    again = cli("import", "oneapi", one_api)
    assert again.exit_code == 0, again.output
    assert again.stdout.rstrip().endswith(
        "no changes: the database already matches the One API database"
    )


def test_a_wrong_dsn_is_one_line_and_opens_nothing_here(
    cli: Invoke, db_url: str, tmp_path: Path
) -> None:
    result = cli("import", "oneapi", "mysql://root:hunter2@127.0.0.1:1/oneapi")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "hunter2" not in result.stderr
    missing = cli("import", "newapi", str(tmp_path / "nothing.db"))
    assert missing.exit_code == 1 and "nothing.db" in missing.stderr
    if db_url.startswith("sqlite"):
        assert not (tmp_path / "burncloud.db").exists()  # the peer is read first


def readme_manifest() -> str:
    """The README's complete example file (the YAML block after `format: burncloud/1`)."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    return next(block for block in blocks if block.startswith("format: burncloud/1"))


def test_the_readme_example_file_applies_and_then_matches(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("init").exit_code == 0
    assert cli(
        "channel", "add", "--type", "anthropic", "--name", "claude", "--key", "sk-ant-x-1",
        "--models", "claude-sonnet-4-5",
    ).exit_code == 0  # fmt: skip
    path = tmp_path / "burncloud.yaml"
    path.write_text(readme_manifest())
    monkeypatch.setenv("BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY", "sk-readme-example-1")
    result = cli("apply", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert "~ channel claude -> claude-new (renamed)" in result.stdout
    assert "+ channel openai-main" in result.stdout
    again = cli("apply", "-f", str(path))
    assert again.stdout.strip() == f"no changes: the database already matches {path}"
    assert os.environ["BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY"]


def test_a_user_who_exists_here_keeps_their_balance_and_the_import_says_so(
    cli: Invoke, bootstrapped: None, one_api: str
) -> None:
    assert cli("user", "add", "alice", "--balance", "3").exit_code == 0
    result = cli("import", "oneapi", one_api)
    assert result.exit_code == 0, result.output
    assert "note: 1 users exist here already (alice): their money stays" in result.stdout
    alice = orjson.loads(cli("user", "show", "alice", "--json").stdout)
    assert alice["balance"] == "3"
    assert alice["group"] == "vip"  # the configuration is the peer's
