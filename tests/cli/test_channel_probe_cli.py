"""``channel probe ID``: the findings as a table or JSON, stored for routing; one-line errors.

The command is registered as ``channel probe`` by ``cli/channels.py``; here it runs as the
only command of its own app, so these tests do not depend on that wiring."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
import typer
from typer.testing import CliRunner, Result

from burncloud.cli.channel_probe import parse_capability_options, probe
from burncloud.services.capabilities import CapabilitySpec
from tests.cli.checks import fails_with_one_line
from tests.fakes.model_support import ModelSupport
from tests.fakes.openai_upstream import FakeOpenAI, running_fake_openai

KEY = "sk-canary-probe-cli-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with running_fake_openai(KEY, support=ModelSupport(vision=False)) as server:
        yield server


@pytest.fixture
def run_probe(db_url: str, bootstrapped: None):
    app = typer.Typer()
    app.command("probe")(probe)
    runner = CliRunner()
    secret = None if db_url.startswith("sqlite") else "test-secret"

    def invoke(*args: str) -> Result:
        env = {"DATABASE_URL": db_url, "BURNCLOUD_SECRET": secret}
        return runner.invoke(app, list(args), env=env)

    return invoke


def add(cli, base_url: str) -> str:
    result = cli(
        "channel", "add", "--type", "openai", "--name", "probed", "--key", KEY,
        "--models", "gpt-4o,house", "--base-url", base_url, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return str(orjson.loads(result.stdout)["id"])


def test_probe_prints_and_stores_each_models_findings(cli, run_probe, fake) -> None:
    channel = add(cli, fake.base_url)
    result = run_probe(channel, "--model", "gpt-4o", "--json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    [model] = report["models"]
    values = {entry["name"]: entry["value"] for entry in model["capabilities"]}
    assert values == {
        "tools": True,
        "parallel_tools": True,
        "vision": False,
        "json_schema": True,
        "reasoning": True,
        "stream_usage": True,
        "context": 128_000,
    }
    assert KEY not in result.stdout
    table = run_probe(channel, "--model", "house")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split("\t") == ["Model", "Capability", "Result", "How"]
    assert "house\tvision\tno\tHTTP 400: upstream: Invalid content type." in table.stdout
    assert "house\tcontext\t?\tunknown: no published window" in table.stdout


def test_probe_refusals_are_one_line(cli, run_probe, fake, tmp_path) -> None:
    channel = add(cli, fake.base_url)
    fails_with_one_line(run_probe(channel, "--model", "gpt-5"), "does not serve model 'gpt-5'")
    fails_with_one_line(run_probe("99"), "no channel with id 99")
    fails_with_one_line(
        run_probe(channel, "--catalog", str(tmp_path / "missing.json")), "cannot read the catalog"
    )
    (tmp_path / "list.json").write_text("[1, 2]")
    fails_with_one_line(
        run_probe(channel, "--catalog", str(tmp_path / "list.json")), "not a LiteLLM price file"
    )
    assert fake.request_count == 0


def test_capability_options_parse_or_exit_with_the_accepted_forms(capsys) -> None:
    assert parse_capability_options(["vision=false", "gpt-4o:context=128k"]) == [
        CapabilitySpec("", "vision", False),
        CapabilitySpec("gpt-4o", "context", 128_000),
    ]
    with pytest.raises(typer.Exit):
        parse_capability_options(["vision"])
    assert capsys.readouterr().err == (
        "error: invalid capability 'vision': use NAME=VALUE or MODEL:NAME=VALUE"
        " (e.g. vision=false, gpt-4o:context=128k)\n"
    )
