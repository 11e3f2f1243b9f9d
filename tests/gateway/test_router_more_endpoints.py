"""End to end: GET /v1/models/{id}, POST /v1/moderations and POST /v1/rerank through the
router, and routing only to channels that serve the request's endpoint. The official
openai SDK drives models and moderations, httpx drives rerank (the SDK has none), against
the strict FakeOpenAI; every log row is checked for its units and exact cost."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import httpx
import openai
import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.db.base import Database
from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.money import format_usd, parse_usd
from burncloud.services.channels import add_channel, update_channel
from burncloud.services.logged_usage import decode_units
from burncloud.services.price_edits import set_rates, set_unit
from burncloud.services.prices import set_price
from burncloud.services.pricing import Rates, UnitPrice, UnitUse
from burncloud.services.tokens import create_token
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import SECRET, RunningRouter, logged_rows, running_router
from tests.gateway.router_harness import wait_for_reload as reloaded

MODERATION = "omni-moderation-latest"
RERANKER = "jina-reranker-v2"
SLASHED = "meta-llama/Llama-3.1-8B-Instruct"
NANO_PER_TOKEN_AT_1_USD = 1_000  # 1 USD per 1M tokens
NANO_PER_SEARCH = 1_000_000  # 1 USD per 1,000 searches
RERANK_BODY = {"model": RERANKER, "query": "red fruit", "documents": ["an apple is red", "sky"]}


@pytest.fixture
async def upstream():
    async with FakeOpenAI("sk-canary-upstream-key") as fake:
        yield fake


async def change(router: RunningRouter, edit: Callable[[Database], Awaitable[object]]) -> None:
    """Apply ``edit`` to the router's database, then wait until the router serves it."""
    db = await open_database(router.db_url)
    try:
        await edit(db)
    finally:
        await db.close()
    await reloaded(router)


def serve_models(*models: str, **fields: object) -> Callable[[Database], Awaitable[object]]:
    """An edit making the seeded channel serve ``models`` (plus other channel fields)."""

    async def edit(db: Database) -> object:
        box = SecretBox.from_passphrase(SECRET)
        return await update_channel(db, box, 1, models=models, **fields)  # type: ignore[arg-type]

    return edit


def priced(model: str, input_usd: str, per_search_block: str | None = None):
    async def edit(db: Database) -> None:
        async with db.transaction() as tx:
            await set_price(tx, model, parse_usd(input_usd), 0)
            if per_search_block is not None:
                await set_unit(tx, model, UnitPrice("search", parse_usd(per_search_block)))

    return edit


def sdk(router: RunningRouter, key: str | None = None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=key or router.key, base_url=router.base_url, max_retries=0)


async def post(router: RunningRouter, path: str, body: dict) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{router.base_url}{path}",
            content=orjson.dumps(body),
            headers={"Authorization": f"Bearer {router.key}"},
        )


def only_row(rows: list[dict]) -> dict:
    assert len(rows) == 1, rows
    return rows[0]


# GET /v1/models/{id}


async def test_models_retrieve_returns_a_model_the_key_may_use_slashes_included(
    tmp_path, upstream
) -> None:
    async with running_router(tmp_path, upstream) as router:
        await change(router, serve_models("gpt-4", SLASHED))
        client = sdk(router)
        found = await client.models.retrieve(SLASHED)
        plain = await client.models.retrieve("gpt-4")
        await client.close()
    assert (found.id, found.object, plain.id) == (SLASHED, "model", "gpt-4")
    assert upstream.request_count == 0  # answered from the router's own configuration


async def test_models_retrieve_is_a_404_for_models_the_key_may_not_use(tmp_path, upstream) -> None:
    async def scoped_key(db: Database) -> None:
        _, key = await create_token(db, "scoped", models=["gpt-4"])
        keys.append(key)

    keys: list[str] = []
    async with running_router(tmp_path, upstream) as router:
        await change(router, serve_models("gpt-4", "gpt-4o"))
        await change(router, scoped_key)
        client = sdk(router, keys[0])
        assert (await client.models.retrieve("gpt-4")).id == "gpt-4"
        errors = []
        for model in ("gpt-4o", "no-such-model", "gpt-4/extra"):
            with pytest.raises(openai.NotFoundError) as caught:
                await client.models.retrieve(model)
            errors.append(caught.value)
        await client.close()
    for error, model in zip(errors, ("gpt-4o", "no-such-model", "gpt-4/extra"), strict=True):
        assert error.code == "model_not_found" and model not in error.message  # no echo


# POST /v1/moderations


async def test_moderations_default_the_model_and_bill_the_estimated_input(
    tmp_path, upstream
) -> None:
    text = "I will kill the bug in this code before lunch."
    async with running_router(tmp_path, upstream) as router:
        await change(router, serve_models("gpt-4", MODERATION))
        await change(router, priced(MODERATION, "1"))
        client = sdk(router)
        answer = await client.moderations.create(input=text)
        await client.close()
        assert upstream.last_request.json == {"input": text}  # went up as sent
    assert answer.results[0].flagged and answer.results[0].categories.violence
    tokens = await TokenEstimator().prompt_tokens({"input": text}, MODERATION)
    row = only_row(await logged_rows(router.db_url))
    assert (row["model"], row["endpoint"], row["status"]) == (MODERATION, "moderations", 200)
    assert (row["prompt_tokens"], row["completion_tokens"], row["estimated"]) == (tokens, 0, 1)
    assert tokens > 5 and row["cost"] == tokens * NANO_PER_TOKEN_AT_1_USD


async def test_moderations_priced_per_request_only_bill_that_flat_price(tmp_path, upstream) -> None:
    async def flat(db: Database) -> None:
        async with db.transaction() as tx:
            await set_rates(tx, MODERATION, Rates(input=0, output=0, request=parse_usd("0.0002")))

    async with running_router(tmp_path, upstream) as router:
        await change(router, serve_models("gpt-4", MODERATION))
        await change(router, flat)
        client = sdk(router)
        await client.moderations.create(input="a long enough sentence to count some tokens")
        await client.close()
    row = only_row(await logged_rows(router.db_url))
    assert row["prompt_tokens"] > 0 and row["cost"] == 200_000  # 0.0002 USD


async def test_moderations_of_an_unpriced_model_are_refused(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        await change(router, serve_models("gpt-4", MODERATION))
        client = sdk(router)
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await client.moderations.create(input=["one", "two"], model=MODERATION)
        await client.close()
    assert caught.value.code == "model_price_not_set"
    assert upstream.request_count == 0


# POST /v1/rerank


@pytest.mark.parametrize(
    ("reported", "units", "tokens", "searches"),
    [
        ("tokens", 1, 50, 1),  # Jina / vLLM: usage.total_tokens, billed as input
        ("search_units", 3, 0, 3),  # Cohere: meta.billed_units.search_units
        ("none", 1, 0, 1),  # nothing reported: one search per request
    ],
)
async def test_rerank_bills_searches_and_reported_tokens_exactly(
    tmp_path, upstream, reported: str, units: int, tokens: int, searches: int
) -> None:
    upstream.rerank_usage, upstream.search_units, upstream.prompt_tokens = reported, units, 50
    async with running_router(tmp_path, upstream) as router:
        edit = serve_models("gpt-4", RERANKER, type="openai-compatible", endpoints=["chat,rerank"])
        await change(router, edit)
        await change(router, priced(RERANKER, "2", per_search_block="1"))
        answer = await post(router, "/rerank", {**RERANK_BODY, "return_documents": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0] == {
        "index": 0,
        "relevance_score": 0.5,  # "red" of "red fruit"
        "document": {"text": "an apple is red"},
    }
    row = only_row(await logged_rows(router.db_url))
    assert (row["endpoint"], row["prompt_tokens"], row["estimated"]) == ("rerank", tokens, 0)
    assert decode_units(row["units"]) == (UnitUse("search", Decimal(searches)),)
    assert row["cost"] == tokens * 2 * NANO_PER_TOKEN_AT_1_USD + searches * NANO_PER_SEARCH


async def test_a_rerank_burst_priced_per_search_spends_a_quota_exactly(tmp_path, upstream) -> None:
    """The reservation holds the searches too (not only tokens): a quota for 5 searches lets
    exactly 5 of 20 through, and ends at zero with every search billed."""
    upstream.rerank_usage = "none"  # one search each
    quota = format_usd(5 * NANO_PER_SEARCH)
    async with running_router(tmp_path, upstream, quota=quota) as router:
        edit = serve_models("gpt-4", RERANKER, type="openai-compatible", endpoints=["chat,rerank"])
        await change(router, edit)
        await change(router, priced(RERANKER, "0", per_search_block="1"))
        answers = await asyncio.gather(*(post(router, "/rerank", RERANK_BODY) for _ in range(20)))
    rows = await logged_rows(router.db_url)  # written when the router stopped
    db = await open_database(router.db_url)
    try:
        token = await db.fetch_one(
            "SELECT quota, used FROM tokens WHERE id = :id", {"id": router.token_id}
        )
    finally:
        await db.close()
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 5 and statuses.count(402) == 15
    assert sum(row["cost"] for row in rows) == 5 * NANO_PER_SEARCH
    assert token is not None and (token["quota"], token["used"]) == (0, 5 * NANO_PER_SEARCH)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"model": RERANKER, "documents": ["a"]}, "'query'"),
        ({"model": RERANKER, "query": "q"}, "'documents'"),
        ({"model": RERANKER, "query": "q", "documents": []}, "'documents'"),
    ],
)
async def test_a_malformed_rerank_request_is_a_400(tmp_path, upstream, body, says) -> None:
    async with running_router(tmp_path, upstream) as router:
        answer = await post(router, "/rerank", body)
    assert answer.status_code == 400 and says in answer.json()["error"]["message"]
    assert upstream.request_count == 0


# Routing by endpoint


async def test_rerank_on_a_channel_that_does_not_serve_it_names_endpoint_and_model(
    tmp_path, upstream
) -> None:
    async with running_router(tmp_path, upstream) as router:
        answer = await post(router, "/rerank", {**RERANK_BODY, "model": "gpt-4"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "endpoint_not_served"
    message = answer.json()["error"]["message"]
    assert "rerank endpoint" in message and "'gpt-4'" in message and "openai" in message
    assert upstream.request_count == 0


async def test_routing_skips_channels_that_do_not_serve_the_endpoint(tmp_path, upstream) -> None:
    async with FakeOpenAI("sk-second-upstream-key") as second:

        async def second_channel(db: Database) -> None:
            await add_channel(
                db,
                SecretBox.from_passphrase(SECRET),
                type="openai-compatible",
                name="second",
                key=second.key,
                base_url=second.base_url,
                models=["gpt-4"],
                priority=-1,  # a fallback: tried after the first channel, when that serves
            )

        async with running_router(tmp_path, upstream) as router:
            first = serve_models("gpt-4", type="openai-compatible", endpoints=["chat"])
            await change(router, first)
            await change(router, second_channel)
            client = sdk(router)
            await client.embeddings.create(model="gpt-4", input="hello")
            await client.chat.completions.create(
                model="gpt-4", messages=[{"role": "user", "content": "hi"}]
            )
            await client.close()
        assert [r.path for r in upstream.requests] == ["/v1/chat/completions"]
        assert [r.path for r in second.requests] == ["/v1/embeddings"]
    rows = await logged_rows(router.db_url)
    assert [(r["endpoint"], r["channel_id"]) for r in rows] == [
        ("embeddings", 2),
        ("chat.completions", 1),
    ]
