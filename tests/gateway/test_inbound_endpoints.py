"""The rules of the moderations and rerank endpoints as requests arrive, and how a whole
rerank answer is metered."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from burncloud.errors import InvalidRequest
from burncloud.gateway.relay.inbound import CHAT, MODERATIONS, RERANK, parse_request
from burncloud.gateway.relay.metering import rerank_metered, rough_usage
from burncloud.services.pricing import UnitUse


def test_moderations_default_the_model_and_keep_the_body_as_sent() -> None:
    body = orjson.dumps({"input": ["a", "b"]})
    request = parse_request(MODERATIONS, body)
    assert (request.model, request.body, request.stream, request.answers) == (
        "omni-moderation-latest",
        body,
        False,
        1,
    )
    assert parse_request(MODERATIONS, b'{"model":"text-moderation-007","input":"x"}').model == (
        "text-moderation-007"
    )


def test_only_endpoints_with_a_default_model_take_a_request_without_one() -> None:
    with pytest.raises(InvalidRequest, match="model"):
        parse_request(CHAT, b'{"messages":[{"role":"user","content":"hi"}]}')
    with pytest.raises(InvalidRequest, match="'input'"):
        parse_request(MODERATIONS, b'{"model":"omni-moderation-latest"}')


@pytest.mark.parametrize("documents", [None, [], "one document", {"text": "a"}])
def test_rerank_needs_a_non_empty_array_of_documents(documents: object) -> None:
    body = {"model": "rerank", "query": "q", "documents": documents}
    with pytest.raises(InvalidRequest, match="'documents' must be a non-empty array"):
        parse_request(RERANK, orjson.dumps(body))


@pytest.mark.parametrize(
    ("answer", "tokens", "searches"),
    [
        ({"usage": {"total_tokens": 42}}, 42, Decimal(1)),
        ({"meta": {"billed_units": {"search_units": 2}}}, 0, Decimal(2)),
        ({"meta": {"billed_units": {"search_units": 1.5}}}, 0, Decimal("1.5")),
        ({"meta": {"billed_units": {"search_units": -3}}, "usage": {"total_tokens": "9"}}, 0, 1),
        (None, 0, Decimal(1)),  # not JSON: one search
    ],
)
def test_a_rerank_answer_bills_its_searches_and_reported_tokens(
    answer: object, tokens: int, searches: Decimal
) -> None:
    request = parse_request(RERANK, b'{"model":"r","query":"q","documents":["d"]}')
    usage = rough_usage(rerank_metered(request, answer))
    assert (usage.prompt_tokens, usage.completion_tokens) == (tokens, 0)
    assert usage.units == (UnitUse("search", Decimal(searches)),)


def test_a_rerank_reserves_a_search_per_100_documents_and_per_long_chunk() -> None:
    def searches(documents: list[object]) -> Decimal:
        body = orjson.dumps({"model": "r", "query": "q", "documents": documents})
        [unit] = parse_request(RERANK, body).reserved_units()
        assert unit.per == "search"
        return unit.quantity

    assert searches(["a"]) == 1
    assert searches(["a"] * 100) == 1
    assert searches(["a"] * 101) == 2
    assert searches(["x" * 15_000] * 10) == 2  # 10 documents of 11 chunks each: 110 chunks
    assert searches([{"text": "a"}] * 250) == 3
    chat = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert parse_request(CHAT, chat).reserved_units() == ()
