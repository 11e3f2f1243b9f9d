"""The real Claude Code (``claude -p``) through the router to a Bedrock channel serving Claude.

Every request it makes goes to InvokeModelWithResponseStream with every member it wrote
(only ``model`` and ``stream`` moved out, Bedrock's ``anthropic_version`` and its betas
added), the strict fake Bedrock accepts it, Claude Code prints the answer, and each request
is billed from the usage the recorded answer reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clients.claude_code import run_claude
from tests.clients.recording_proxy import RecordingProxy
from tests.clients.test_claude_code import (
    ANTHROPIC_ANSWER,
    ANTHROPIC_USAGE,
    CLAUDE_MODELS,
    MODELS,
    _explain,
    expected_cost,
    price_claude_models,
)
from tests.fakes import FakeOpenAI
from tests.fakes.bedrock_upstream import FakeBedrock
from tests.gateway.router_harness import logged_rows, point_channel_at, running_router

pytestmark = pytest.mark.slow

SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m or "default-model")
async def test_claude_code_answers_from_claude_on_bedrock(
    tmp_path, claude: Path, model: str | None
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    async with (
        FakeOpenAI("unused") as unused,
        FakeBedrock() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await price_claude_models(router)
        await point_channel_at(
            router,
            "bedrock",
            fake.base_url,
            fake.key,
            models=list(CLAUDE_MODELS),
            config={"region": fake.region},
            model_map=dict.fromkeys(CLAUDE_MODELS, SONNET),
        )
        async with RecordingProxy(router.base_url.removesuffix("/v1")) as proxy:
            run = await run_claude(
                claude, "hi", base_url=proxy.base_url, api_key=router.key, home=home, model=model
            )
    assert run.returncode == 0, _explain(run)
    assert ANTHROPIC_ANSWER in run.stdout and run.egress == ()
    assert fake.rejections == []
    expected = []
    for call in proxy.calls:
        kept = {key: value for key, value in call.body.items() if key not in ("model", "stream")}
        betas = call.headers["anthropic-beta"].split(",")
        expected.append(kept | {"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": betas})
    assert expected and fake.requests == expected
    rows = await logged_rows(router.db_url)
    billed = {(r["status"], r["prompt_tokens"], r["completion_tokens"], r["cost"]) for r in rows}
    assert billed == {(200, *ANTHROPIC_USAGE, expected_cost(*ANTHROPIC_USAGE))}
    assert [r["model"] for r in rows] == [call.body["model"] for call in proxy.calls]
