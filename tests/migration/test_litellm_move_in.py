"""A LiteLLM proxy config.yaml in the shape of LiteLLM's documentation examples
(tests/fixtures/litellm/config.yaml) imports to channels that serve requests: Azure
deployments (order 1) before OpenAI (order 2) for one model name, an OpenAI model, Claude,
Gemini and an alias, each answered by a local fake of its provider and billed at the
config's own prices."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import openai
import pytest
from typer.testing import CliRunner, Result

from burncloud.cli.app import app
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.azure_upstream import FakeAzure
from tests.fakes.gemini_upstream import FakeGemini
from tests.gateway.router_harness import SECRET, logged_rows, serving

CONFIG = Path(__file__).resolve().parents[1] / "fixtures/litellm/config.yaml"


async def burncloud(env: dict[str, str], *args: str) -> Result:
    """`burncloud ARGS` in a thread (the CLI runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def ask(client: openai.AsyncOpenAI, model: str) -> str:
    answer = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": f"hello {model}"}], max_tokens=16
    )
    return answer.choices[0].message.content or ""


async def test_a_litellm_config_imports_to_channels_that_serve_requests(tmp_path: Path) -> None:
    deployments = {"gpt-4o-eu": "gpt-4o", "gpt-4o-ca": "gpt-4o"}
    async with (
        FakeOpenAI("sk-openai-litellm") as openai_fake,
        FakeOpenAI("none") as vllm,
        FakeAzure("azure-eu-key-0123456789abcdef01", deployments=deployments) as azure,
        FakeAnthropic("sk-ant-litellm") as anthropic,
        FakeGemini("gemini-litellm-key") as gemini,
    ):
        env = {
            "DATABASE_URL": f"sqlite:///{tmp_path}/burncloud.db",
            "BURNCLOUD_SECRET": SECRET,
            "AZURE_API_BASE_EU": azure.base_url,
            "AZURE_API_KEY_EU": azure.key,
            "AZURE_API_BASE_CA": azure.base_url,
            "AZURE_API_KEY_CA": azure.key,
            "OPENAI_API_BASE": openai_fake.base_url,
            "OPENAI_API_KEY": openai_fake.key,
            "ANTHROPIC_API_BASE": anthropic.base_url,
            "ANTHROPIC_API_KEY": anthropic.key,
            "VLLM_API_BASE": vllm.base_url,
            "GEMINI_API_BASE": gemini.base_url,
            "GEMINI_API_KEY": gemini.key,
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret-example",
            "BEDROCK_RUNTIME_ENDPOINT": "http://127.0.0.1:9",
        }
        result = await burncloud(env, "import", "litellm", str(CONFIG))
        assert result.exit_code == 0, result.output
        assert "gemini-vertex" in result.stdout  # reported as skipped, with its reason
        again = await burncloud(env, "import", "litellm", str(CONFIG))
        assert again.stdout.rstrip().endswith(f"no changes: the database already matches {CONFIG}")
        created = await burncloud(env, "token", "create", "--name", "app", "--json")
        assert created.exit_code == 0, created.output
        key = _json(created.stdout)["key"]

        async with (
            serving(env["DATABASE_URL"]) as base_url,
            openai.AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0) as client,
        ):
            for model in ("gpt-4o", "gpt-4", "gpt-4o-mini", "claude-sonnet", "gemini-flash"):
                assert await ask(client, model), model
            assert await ask(client, "vllm-models")

    assert len(azure.requests) == 2  # gpt-4o and its alias gpt-4: order 1 (Azure) first
    assert not [r for r in openai_fake.requests if r.json and r.json.get("model") == "gpt-4o"]
    assert anthropic.requests[0]["model"] == "claude-sonnet-4-5"
    assert vllm.requests[-1].json["model"] == "facebook/opt-125m"
    rows = {row["model"]: row for row in await logged_rows(env["DATABASE_URL"])}
    mini = rows["gpt-4o-mini"]
    assert mini["status"] == 200
    # input_cost_per_token 0.00000015 -> $0.15 per 1M; output 0.0000006 -> $0.60 per 1M.
    assert mini["cost"] == mini["prompt_tokens"] * 150 + mini["completion_tokens"] * 600


def _json(text: str) -> Any:
    import orjson

    return orjson.loads(text)


@pytest.mark.parametrize("missing", ["OPENAI_API_KEY", "AZURE_API_KEY_CA"])
async def test_a_missing_variable_is_one_line_naming_it(tmp_path: Path, missing: str) -> None:
    env = {name: "http://127.0.0.1:9" for name in ("AZURE_API_BASE_EU", "AZURE_API_BASE_CA")}
    env |= {name: "x" for name in ("AZURE_API_KEY_EU", "AZURE_API_KEY_CA", "OPENAI_API_KEY")}
    env |= {"OPENAI_API_BASE": "http://127.0.0.1:9", "DATABASE_URL": f"sqlite:///{tmp_path}/b.db"}
    env.pop(missing)
    result = await burncloud(env, "import", "litellm", str(CONFIG), "--dry-run")
    assert result.exit_code == 1
    assert missing in result.stderr and len(result.stderr.strip().splitlines()) == 1
