"""The Responses API on Azure channels: untouched, at the resource's ``/openai/v1/responses``
(or ``/openai/responses?api-version=`` for a dated preview), the deployment as ``model``;
stored responses are read and deleted there too."""

from __future__ import annotations

import openai

from tests.fakes import FakeOpenAI
from tests.fakes.azure_upstream import FakeAzure
from tests.gateway.router_harness import logged_rows, running_router
from tests.gateway.test_router_azure import use_azure

TEXT_COST = 8_880_000  # the recording's 278 in, 9 out at gpt-4's 30 / 60 USD per 1M
ANSWER = "The capital of France is Paris."


async def test_v1_answers_whole_and_streamed_from_the_deployment(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_azure(router, fake.base_url, fake.key, deployments="gpt-4=prod-4")
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            whole = await client.responses.create(model="gpt-4", input="Capital of France?")
            async with client.responses.stream(model="gpt-4", input="Again?") as stream:
                streamed = await stream.get_final_response()
            kept = await client.responses.retrieve(whole.id)
            await client.responses.delete(whole.id)
    rows = await logged_rows(router.db_url)  # once the router has written its log
    assert whole.output_text == streamed.output_text == ANSWER
    assert kept.id == whole.id and fake.stored == {}  # retrieved and deleted at Azure
    posts = [r for r in fake.requests if r.method == "POST"]
    assert [r.path for r in posts] == ["/openai/v1/responses"] * 2
    assert {r.json["model"] for r in posts} == {"prod-4"}  # the deployment, not the alias
    assert all(r.headers["api-key"] == fake.key for r in fake.requests)
    others = [(r.method, r.path) for r in fake.requests if r.method != "POST"]
    assert others == [
        ("GET", f"/openai/v1/responses/{whole.id}"),
        ("DELETE", f"/openai/v1/responses/{whole.id}"),
    ]
    assert [(r["endpoint"], r["status"], r["cost"]) for r in rows] == [
        ("responses", 200, TEXT_COST)
    ] * 2


async def test_a_dated_preview_version_uses_the_resource_level_path(tmp_path) -> None:
    async with (
        FakeOpenAI("unused") as unused,
        FakeAzure() as fake,
        running_router(tmp_path, unused) as router,
    ):
        await use_azure(router, fake.base_url, fake.key, api_version="2025-03-01-preview")
        async with openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url) as client:
            answer = await client.responses.create(model="gpt-4", input="Capital of France?")
    assert answer.output_text == ANSWER
    request = fake.requests[0]
    assert (request.path, request.query) == (
        "/openai/responses",
        "api-version=2025-03-01-preview",
    )
    assert request.json["model"] == "gpt-4"  # no deployments listed: named like the model
