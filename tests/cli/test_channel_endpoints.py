"""Which endpoints a channel serves: its kind's list, or an openai-compatible channel's own
(`channel add/update --endpoints`), shown by `channel show` and used by `route dry-run
--endpoint`."""

from __future__ import annotations

import pytest
from typer.testing import Result

KEY = "sk-upstream-Zq7DistinctivePlaintextKey-8842"
COMPATIBLE = ("--type", "openai-compatible", "--base-url", "https://llm.example.com/v1")


@pytest.fixture(autouse=True)
def primed(cli) -> None:
    assert cli("init").exit_code == 0


def add(cli, name: str, *args: str) -> Result:
    return cli("channel", "add", "--name", name, "--key", KEY, "--models", "m1", *args)


def assert_one_line_error(result: Result, *texts: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    for text in texts:
        assert text in result.stderr, result.stderr


def test_endpoints_are_stored_in_the_config_in_canonical_order_and_shown(cli, cli_json) -> None:
    added = add(cli, "a", *COMPATIBLE, "--endpoints", "rerank,chat", "--endpoints", "EMBEDDINGS")
    assert added.exit_code == 0, added.output
    shown = cli_json("channel", "show", "1")
    assert shown["config"] == {"endpoints": "chat,embeddings,rerank"}
    assert shown["endpoints"] == ["chat", "embeddings", "rerank"]
    lines = cli("channel", "show", "1").stdout.splitlines()
    assert [line.split() for line in lines if line.startswith("endpoints")] == [
        ["endpoints", "chat,embeddings,rerank"]
    ]


def test_a_channel_without_a_list_serves_its_kinds_endpoints(cli, cli_json) -> None:
    assert add(cli, "a", "--type", "anthropic").exit_code == 0
    assert add(cli, "b", *COMPATIBLE).exit_code == 0
    assert cli_json("channel", "show", "1")["endpoints"] == ["chat"]
    compatible = ["chat", "completions", "embeddings", "responses", "moderations"]
    assert cli_json("channel", "show", "2")["endpoints"] == compatible


def test_update_replaces_the_list_and_an_empty_one_restores_the_kinds(cli, cli_json) -> None:
    assert add(cli, "a", *COMPATIBLE, "--config", "timeout=30").exit_code == 0
    assert cli("channel", "update", "1", "--endpoints", "rerank").exit_code == 0
    assert cli_json("channel", "show", "1")["config"] == {"timeout": "30", "endpoints": "rerank"}
    assert cli("channel", "update", "1", "--endpoints", "").exit_code == 0
    shown = cli_json("channel", "show", "1")
    assert shown["config"] == {"timeout": "30"} and "rerank" not in shown["endpoints"]


def test_an_unknown_endpoint_is_a_one_line_error(cli) -> None:
    result = add(cli, "a", *COMPATIBLE, "--endpoints", "chat,realtime")
    assert_one_line_error(result, "unknown endpoint 'realtime'", "rerank")
    assert cli("channel", "list", "--json").stdout.strip() == "[]"


def test_only_openai_compatible_channels_take_a_list(cli) -> None:
    for args in (("--type", "openai"), ("--type", "openai", "--config", "endpoints=chat")):
        result = add(cli, "a", *args, "--endpoints", "chat")
        assert_one_line_error(result, "only openai-compatible channels take --endpoints")


def test_dry_run_shows_only_the_channels_serving_the_endpoint(cli, cli_json) -> None:
    assert add(cli, "chat-only", *COMPATIBLE, "--endpoints", "chat").exit_code == 0
    assert add(cli, "rerank", *COMPATIBLE, "--endpoints", "chat,rerank").exit_code == 0
    assert add(cli, "claude", "--type", "anthropic").exit_code == 0
    every = cli_json("route", "dry-run", "--model", "m1")
    assert [c["name"] for c in every["channels"]] == ["chat-only", "rerank", "claude"]
    rerank = cli_json("route", "dry-run", "--model", "m1", "--endpoint", "rerank")
    assert [(c["name"], c["share"]) for c in rerank["channels"]] == [("rerank", 1.0)]
    text = cli("route", "dry-run", "--model", "m1", "--endpoint", "embeddings")
    assert text.exit_code == 1
    assert "serves the embeddings endpoint" in text.stderr and "'m1'" in text.stderr


def test_dry_run_of_responses_shows_chat_channels_as_converted(cli, cli_json) -> None:
    assert add(cli, "chat-only", *COMPATIBLE, "--endpoints", "chat").exit_code == 0
    assert add(cli, "both", *COMPATIBLE, "--endpoints", "chat,responses").exit_code == 0
    assert add(cli, "claude", "--type", "anthropic").exit_code == 0
    assert add(cli, "rerank", *COMPATIBLE, "--endpoints", "rerank").exit_code == 0
    found = cli_json("route", "dry-run", "--model", "m1", "--endpoint", "responses")
    served = {c["name"]: c["served"] for c in found["channels"]}
    assert served == {"chat-only": "converted", "both": "untouched", "claude": "converted"}
    text = cli("route", "dry-run", "--model", "m1", "--endpoint", "responses").stdout
    assert "served" in text.splitlines()[1] and "converted" in text


def test_dry_run_refuses_an_unknown_endpoint(cli) -> None:
    result = cli("route", "dry-run", "--model", "m1", "--endpoint", "realtime")
    assert_one_line_error(result, "unknown endpoint 'realtime'")


def test_dry_run_of_an_audio_endpoint_shows_the_kinds_that_serve_it(cli, cli_json) -> None:
    assert add(cli, "chat-only", *COMPATIBLE).exit_code == 0
    assert add(cli, "speech", *COMPATIBLE, "--endpoints", "chat,speech").exit_code == 0
    assert add(cli, "openai", "--type", "openai").exit_code == 0
    assert add(cli, "claude", "--type", "anthropic").exit_code == 0
    speech = cli_json("route", "dry-run", "--model", "m1", "--endpoint", "speech")
    assert [c["name"] for c in speech["channels"]] == ["speech", "openai"]
    assert cli_json("channel", "show", "2")["endpoints"] == ["chat", "speech"]
