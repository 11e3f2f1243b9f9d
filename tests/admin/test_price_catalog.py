"""/api/price-catalog: the same catalog and diff as `price export` and `price import`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.conftest import client

LITELLM = (
    Path(__file__).resolve().parents[1] / "fixtures/litellm/model_prices_and_context_window.json"
)
SEEDED = {"format": "burncloud-prices/1", "prices": {"gpt-4": {"input": "30", "output": "60"}}}


async def test_export_then_import_changes_nothing(admin) -> None:
    exported = await admin.get("/api/price-catalog")
    assert exported.status_code == 200, exported.text
    assert exported.json() == {**SEEDED, "channels": {}}
    reply = await admin.post("/api/price-catalog", content=exported.text)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "changes": [], "added": 0, "changed": 0, "removed": 0, "kept": 0, "applied": False,
    }  # fmt: skip


async def test_import_answers_the_diff_and_applies_it(admin) -> None:
    body = (
        '{"prices": {"gpt-4": {"input": "30", "output": "90"}, "mini": {"alias": "gpt-4"}},'
        ' "channels": {"#1": {"gpt-4": {"input": 9, "output": 18}}}}'
    )
    dry = await admin.post("/api/price-catalog", params={"dry_run": "true"}, content=body)
    assert dry.status_code == 200, dry.text
    assert dry.json()["applied"] is False
    assert [(c["action"], c["model"], c["channel"]) for c in dry.json()["changes"]] == [
        ("changed", "gpt-4", None),
        ("added", "mini", None),
        ("added", "gpt-4", "fake"),  # channel 1, keyed by its name
    ]
    assert dry.json()["changes"][0]["fields"] == {"output": {"old": "60", "new": "90"}}
    assert (await admin.get("/api/prices/gpt-4")).json()["output"] == "60"
    applied = await admin.post("/api/price-catalog", content=body)
    assert applied.json()["applied"] is True
    assert (await admin.get("/api/prices/mini")).json()["output"] == "90"
    cost = await admin.get("/api/prices/gpt-4", params={"channel_id": 1})
    assert cost.json()["input"] == "9"


async def test_yaml_and_prune(admin) -> None:
    body = "prices:\n  other: {input: 1, output: 2}\n"
    reply = await admin.post(
        "/api/price-catalog", params={"format": "yaml", "prune": "1"}, content=body
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["added"], reply.json()["removed"]) == (1, 1)
    assert [p["model"] for p in (await admin.get("/api/prices")).json()["data"]] == ["other"]


async def test_litellms_file_with_only(admin) -> None:
    reply = await admin.post(
        "/api/price-catalog",
        params={"format": "litellm", "only": "claude-sonnet-4-5", "dry_run": "true"},
        content=LITELLM.read_bytes(),
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["added"] == 1 and reply.json()["kept"] == 1
    assert reply.json()["litellm"]["ignored_fields"] == {
        "cache_creation_input_token_cost_batches": 1,
        "cache_read_input_token_cost_batches": 1,
        "input_cost_per_token_batches": 1,
        "output_cost_per_token_batches": 1,
    }


@pytest.mark.parametrize(
    ("params", "body", "message"),
    [
        ({}, '{"prices": {"m": {"input": "1"}}}', "prices.m: output is required"),
        ({}, "{", "not valid JSON"),
        ({"format": "csv"}, "{}", "unknown format 'csv'"),
        ({"dry_run": "maybe"}, '{"prices": {}}', "dry_run must be true or false"),
        ({"only": "m"}, '{"prices": {}}', "only selects models of LiteLLM's file"),
        ({"format": "litellm", "only": "nope"}, "{}", "not in the LiteLLM file: nope"),
        ({}, '{"prices": {"m": {"alias": "missing"}}}', "'missing' has no price"),
    ],
)
async def test_a_bad_import_is_a_400_and_applies_nothing(admin, params, body, message) -> None:
    reply = await admin.post("/api/price-catalog", params=params, content=body)
    assert reply.status_code == 400, reply.text
    assert message in reply.json()["error"]["message"]
    assert (await admin.get("/api/price-catalog")).json() == {**SEEDED, "channels": {}}


async def test_the_catalog_needs_an_admin_key(router, user_key) -> None:
    async with client(router, user_key) as http:
        assert (await http.get("/api/price-catalog")).status_code == 403
        assert (await http.post("/api/price-catalog", content="{}")).status_code == 403
