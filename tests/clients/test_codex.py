"""The real Codex CLI (``codex exec``) through the router's /v1/responses, by passthrough to
the strict fake OpenAI upstream: one turn answers, and is logged and billed exactly once."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest

from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.services.prices import set_price
from tests.clients.codex import (
    INSTALL_COMMAND,
    KEY_VARIABLE,
    NODE_DIR,
    PACKAGE,
    PLATFORM_BINARY,
    CodexRun,
    codex_env,
    find_codex,
    pinned_version,
    run_codex,
    write_config,
)
from tests.clients.record_codex import SCENARIOS, Scenario, load_recording, shape
from tests.clients.recording_proxy import RecordingProxy
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import logged_rows, point_channel_at, running_router

ANSWER = "The capital of France is Paris."  # what responses_stream_text.sse says
USAGE = (1200, 34)  # the fake's reported input and output tokens
INPUT_USD, OUTPUT_USD = "2", "8"  # per 1M tokens


@pytest.fixture(scope="session")
def codex() -> Path:
    """The installed ``codex``; skips where node or the native binary is missing."""
    if shutil.which("node") is None:
        pytest.skip("node/npm missing")
    binary = find_codex()
    if binary is None:
        pytest.skip(f"Codex {pinned_version()} is not installed: run `{INSTALL_COMMAND}`")
    return binary


def _explain(run: CodexRun) -> str:
    return f"exit {run.returncode}\nstdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-2000:]}"


def _model_of(scenario: Scenario) -> str:
    model: str = load_recording(scenario)["body"]["model"]
    return model


async def _price(db_url: str, model: str) -> None:
    db = await open_database(db_url)
    try:
        async with db.transaction() as tx:
            await set_price(tx, model, parse_usd(INPUT_USD), parse_usd(OUTPUT_USD))
    finally:
        await db.close()


def _expected_cost() -> int:
    prompt, completion = USAGE
    return (prompt * parse_usd(INPUT_USD) + completion * parse_usd(OUTPUT_USD)) // 1_000_000


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.model or "default-model")
async def test_codex_turn_is_passed_through_logged_and_billed(
    tmp_path, codex: Path, scenario: Scenario
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    model = _model_of(scenario)
    prompt_tokens, completion_tokens = USAGE
    async with (
        FakeOpenAI(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens) as fake,
        running_router(tmp_path, fake) as router,
        RecordingProxy(router.base_url.removesuffix("/v1")) as proxy,
    ):
        await _price(router.db_url, model)
        await point_channel_at(router, "openai", fake.base_url, fake.key, models=[model])
        run = await run_codex(
            codex,
            "hi",
            base_url=f"{proxy.base_url}/v1",
            api_key=router.key,
            home=home,
            model=scenario.model,
        )
    assert run.returncode == 0, _explain(run)
    assert ANSWER in run.stdout
    assert run.egress == ()
    [sent] = proxy.calls
    assert [(r.method, r.path, r.json) for r in fake.requests] == [
        ("POST", "/v1/responses", sent.body)
    ]
    assert shape(sent.as_fixture()) == shape(load_recording(scenario))
    rows = await logged_rows(router.db_url)
    assert [
        (r["endpoint"], r["model"], r["stream"], r["status"], r["estimated"]) for r in rows
    ] == [("responses", model, 1, 200, 0)]
    assert (rows[0]["prompt_tokens"], rows[0]["completion_tokens"]) == USAGE
    assert rows[0]["cost"] == _expected_cost()


def test_the_recordings_are_of_the_pinned_codex() -> None:
    """A new pin without new recordings fails here: run ``python -m tests.clients.record_codex``."""
    version = pinned_version()
    for scenario in SCENARIOS:
        recording = load_recording(scenario)
        assert recording["codex_version"] == version
        assert recording["headers"]["authorization"] == "Bearer <redacted>"
        assert f"codex_exec/{version} " in recording["headers"]["user-agent"]
        assert (
            scenario.fixture(version).with_name(scenario.fixture(version).name + ".src").is_file()
        )


def test_package_json_pins_exactly_the_locked_version() -> None:
    manifest = orjson.loads((NODE_DIR / "package.json").read_bytes())
    lock = orjson.loads((NODE_DIR / "package-lock.json").read_bytes())
    assert manifest["dependencies"][PACKAGE] == pinned_version()
    linux = lock["packages"]["node_modules/@openai/codex-linux-x64"]
    assert linux["version"] == f"{pinned_version()}-linux-x64"
    assert (linux["os"], linux["cpu"]) == (["linux"], ["x64"])


def _install(node_dir: Path, *, native: bool) -> Path:
    launcher = node_dir / "node_modules" / ".bin" / "codex"
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/usr/bin/env node\n")
    if native:
        binary = node_dir / "node_modules" / PLATFORM_BINARY
        binary.parent.mkdir(parents=True)
        binary.write_bytes(b"\x7fELF")
    return launcher


def test_codex_is_not_found_without_its_native_binary(tmp_path) -> None:
    assert find_codex(tmp_path) is None
    _install(tmp_path, native=False)
    assert find_codex(tmp_path) is None


def test_codex_is_found_through_the_npm_bin_link(tmp_path) -> None:
    launcher = _install(tmp_path, native=True)
    assert find_codex(tmp_path) == launcher


def test_the_config_points_the_only_provider_at_the_base_url(tmp_path) -> None:
    config = tomllib.loads(write_config(tmp_path, "http://127.0.0.1:1/v1").read_text())
    provider: dict[str, Any] = config["model_providers"][config["model_provider"]]
    assert provider["base_url"] == "http://127.0.0.1:1/v1"
    assert (provider["wire_api"], provider["env_key"]) == ("responses", KEY_VARIABLE)
    assert config["analytics"]["enabled"] is False and config["features"]["plugins"] is False
    assert config["check_for_update_on_startup"] is False


def test_a_run_inherits_no_openai_or_codex_settings(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-caller")
    monkeypatch.setenv("CODEX_HOME", "/root/.codex")
    env = codex_env("sk-test", tmp_path, "http://127.0.0.1:2")
    assert env[KEY_VARIABLE] == "sk-test" and env["CODEX_HOME"] == str(tmp_path / ".codex")
    assert "OPENAI_API_KEY" not in env and env["HOME"] == str(tmp_path)
    assert env["HTTPS_PROXY"] == "http://127.0.0.1:2" and "127.0.0.1" in env["NO_PROXY"]
