"""`burncloud channel models ID [--fetch | --sync [--add-only] [--dry-run]]` against strict
local fakes of the providers' model listings, and ``parse_interval`` for --auto-sync.

The command is run through a Typer app of its own (``channel models`` once registered);
the channel is set up with the real `burncloud channel add`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import orjson
import pytest
import typer
from typer.testing import CliRunner, Result

from burncloud.cli.channel_models import models, parse_interval
from burncloud.errors import InvalidRequest
from tests.cli.checks import fails_with_one_line
from tests.fakes.model_lists import OPENAI_KEY, FakeOpenAIModels, serving

WRONG_KEY = "sk-canary-wrong-Zq7DistinctivePlaintext-8842"
Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def primed(bootstrapped: None) -> None:
    """The first-run admin key banner is out of the way of stderr checks."""


@pytest.fixture
def run_models(db_url: str) -> Invoke:
    """`burncloud channel models ARGS...` against the test database."""
    app = typer.Typer()
    app.command()(models)
    secret = None if db_url.startswith("sqlite") else "test-secret"

    def invoke(*args: str) -> Result:
        env = {"DATABASE_URL": db_url, "BURNCLOUD_SECRET": secret}
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


@pytest.fixture
def fake() -> Iterator[FakeOpenAIModels]:
    with serving(FakeOpenAIModels(models=["gpt-4o", "gpt-4o-2024-11-20", "o3-mini"])) as server:
        yield server


def add(cli: Invoke, base_url: str, *extra: str, key: str = OPENAI_KEY) -> str:
    result = cli(
        "channel", "add", "--type", "openai", "--name", "main", "--key", key,
        "--base-url", base_url, *extra, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return str(orjson.loads(result.stdout)["id"])


def shown_models(cli: Invoke, channel_id: str) -> list[str]:
    return orjson.loads(cli("channel", "show", channel_id, "--json").stdout)["models"]


def priced(cli: Invoke, model: str) -> None:
    assert cli("price", "set", model, "--input", "1", "--output", "2").exit_code == 0


def test_the_models_are_listed_with_upstream_names_and_prices(cli, run_models) -> None:
    channel = add(cli, "http://127.0.0.1:9/v1", "--models", "smart,raw", "--map", "smart=gpt-4o")
    priced(cli, "smart")
    result = run_models(channel)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Model\tUpstream model\tPrice",
        "smart\tgpt-4o\tpriced",
        "raw\traw\tunpriced",
    ]
    assert "1 model(s) have no price: never served until priced" in result.stderr
    listed = orjson.loads(run_models(channel, "--json").stdout)
    assert listed["models"][1] == {"model": "raw", "upstream": "raw", "priced": False}


def test_fetch_lists_what_the_upstream_offers_and_which_model_serves_it(
    cli, run_models, fake: FakeOpenAIModels
) -> None:
    channel = add(cli, fake.api_base, "--models", "smart", "--map", "smart=gpt-4o")
    priced(cli, "smart")
    result = run_models(channel, "--fetch")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Upstream model\tChannel model\tPrice",
        "gpt-4o\tsmart\tpriced",
        "gpt-4o-2024-11-20\t-\tunpriced",
        "o3-mini\t-\tunpriced",
    ]
    assert fake.requests[-1].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert shown_models(cli, channel) == ["smart"]  # a fetch changes nothing


def test_a_dry_run_prints_the_diff_and_changes_nothing(
    cli, run_models, fake: FakeOpenAIModels
) -> None:
    channel = add(cli, fake.api_base, "--models", "gpt-4o,old")
    result = run_models(channel, "--sync", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "+ gpt-4o-2024-11-20 (unpriced)",
        "+ o3-mini (unpriced)",
        "- old",
        f'channel {channel} "main": dry run, nothing changed (2 added, 1 removed on --sync)',
    ]
    assert shown_models(cli, channel) == ["gpt-4o", "old"]


def test_sync_updates_the_channel_then_finds_it_in_step(
    cli, run_models, fake: FakeOpenAIModels
) -> None:
    channel = add(cli, fake.api_base, "--models", "gpt-4o,old")
    priced(cli, "o3-mini")
    result = run_models(channel, "--sync")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[-1] == f'channel {channel} "main": 2 added, 1 removed; 3 models'
    )
    assert "+ o3-mini\n" in result.stdout  # priced: no mark
    assert "1 new model(s) have no price" in result.stderr
    assert shown_models(cli, channel) == ["gpt-4o", "gpt-4o-2024-11-20", "o3-mini"]
    again = run_models(channel, "--sync", "--json")
    assert orjson.loads(again.stdout)["applied"] is False
    assert orjson.loads(again.stdout)["models"] == ["gpt-4o", "gpt-4o-2024-11-20", "o3-mini"]


def test_add_only_keeps_what_the_upstream_dropped(cli, run_models, fake: FakeOpenAIModels) -> None:
    channel = add(cli, fake.api_base, "--models", "gpt-4o,o3-mini,old")
    result = run_models(channel, "--sync", "--add-only")
    assert result.exit_code == 0, result.output
    assert "= old (the upstream dropped it; kept)" in result.stdout
    assert shown_models(cli, channel) == ["gpt-4o", "o3-mini", "old", "gpt-4o-2024-11-20"]


def test_a_refused_key_is_one_line_without_the_key(cli, run_models, fake) -> None:
    channel = add(cli, fake.api_base, "--models", "gpt-4o", key=WRONG_KEY)
    result = run_models(channel, "--sync")
    fails_with_one_line(result, "HTTP 401")
    assert WRONG_KEY not in result.output
    assert shown_models(cli, channel) == ["gpt-4o"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fetch", "--sync"), "give one of them"),
        (("--dry-run",), "go with --sync"),
        (("--add-only", "--fetch"), "go with --sync"),
    ],
)
def test_flags_that_do_not_go_together_are_refused(cli, run_models, args, message) -> None:
    channel = add(cli, "http://127.0.0.1:9/v1", "--models", "gpt-4o")
    fails_with_one_line(run_models(channel, *args), message)


def test_an_unknown_channel_is_one_line(run_models) -> None:
    fails_with_one_line(run_models("9", "--fetch"), "no channel with id 9")


def test_azure_fetch_says_its_listing_is_its_config(cli, run_models) -> None:
    result = cli(
        "channel", "add", "--type", "azure", "--name", "az", "--key", "azure-key",
        "--base-url", "https://res.openai.azure.com", "--models", "gpt-4o",
        "--config", "deployments=gpt-4o=prod-4o,o3-mini=prod-o3", "--json",
    )  # fmt: skip
    channel = str(orjson.loads(result.stdout)["id"])
    fetched = run_models(channel, "--fetch")
    assert fetched.exit_code == 0, fetched.output
    assert fetched.stdout.splitlines()[1:] == ["gpt-4o\tgpt-4o\tunpriced", "o3-mini\t-\tunpriced"]
    assert "these are the models its config names" in fetched.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86_400), ("30m", 1_800), ("7d", 604_800), ("3600", 3_600), ("off", 0), ("0", 0)],
)
def test_auto_sync_intervals(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(("text", "message"), [("1m", "at least 5m"), ("soon", "like 24h")])
def test_auto_sync_intervals_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_interval(text)
