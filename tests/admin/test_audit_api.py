"""The audit trail through the admin API, on SQLite and PostgreSQL.

Every route of the admin API other than GET is in ``STEPS`` (sent in order to one
router): a new route fails ``test_every_admin_route_is_classified`` until its author
decides. A step that changes the configuration must leave audit rows, all by
``token:<id>`` of the admin key that called (and, where given, the object and action
expected); any other must leave none. The channel keys sent never appear in the audit
table or in GET /api/audit, which filters as `audit list` does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from burncloud.config import Settings
from burncloud.db import Database, open_database
from burncloud.server import create_app
from tests.conftest import CANARY_PREFIX
from tests.fakes import FakeOpenAI
from tests.gateway.quota_db import BACKENDS, _drop_schema, _new_schema, require_postgres
from tests.gateway.router_harness import RunningRouter, free_port, running_router
from tests.key_fragments import fragments_in

CANARY = f"{CANARY_PREFIX}api-0123456789abcdefghijklmnopqrs"
CANARY_2 = f"{CANARY_PREFIX}api-rotated-zyxwvutsrqponmlkji98"
CANARY_ALERT = f"{CANARY_PREFIX}api-alert-secret-AbCdEfGhIjKl42"
CANARY_3 = f"{CANARY_PREFIX}api-third-key-QwErTyUiOpAsDfGh7731"
ANY = ("", "", "")  # a change whose objects are another service's to name: any row will do
CATALOG = json.dumps(  # a file: the body as it is
    {"format": "burncloud-prices/1", "prices": {"gpt-4o-mini": {"input": "0.15", "output": "0.6"}}}
)
PORT = free_port()  # nothing listens: the webhook's address


@dataclass(frozen=True, slots=True)
class Step:
    """One request (a dict body as JSON, its "{code}" filled from an earlier answer; a
    text body as it is); ``audit`` the (kind, id, action) it must record, ANY for any
    row, None for none."""

    method: str
    path: str
    body: Any = None
    audit: tuple[str, str, str] | None = ANY
    status: int = 200


def quiet(method: str, path: str, body: Any = None, status: int = 200) -> Step:
    return Step(method, path, body, None, status)


STEPS = [
    Step(
        "POST",
        "/api/channels",
        {"type": "openai", "name": "second", "key": CANARY, "models": "gpt-4o"},
        ("channel", "2", "create"),
        201,
    ),
    Step("PATCH", "/api/channels/2", {"key": CANARY_2, "weight": 3}, ("channel", "2", "update")),
    Step("POST", "/api/channels/2/disable", {"reason": "maint"}, ("channel", "2", "update")),
    Step("POST", "/api/channels/2/enable", None, ("channel", "2", "update")),
    Step("POST", "/api/channels/2/keys", {"keys": [CANARY_3]}, ("channel_key", "4", "create"), 201),
    Step("PATCH", "/api/channels/2/keys/4", {"weight": 2}, ("channel_key", "4", "update")),
    Step("DELETE", "/api/channels/2/keys/4", None, ("channel_key", "4", "delete")),
    Step(
        "PUT",
        "/api/channels/2/capabilities",
        {"capabilities": {"vision": False}},
        ("channel", "2", "update"),
    ),
    Step("PATCH", "/api/channels/2", {"tags": ["eu"], "rpm": 60}, ("channel", "2", "update")),
    Step("POST", "/api/channels/tagged/eu/disable", {"reason": "x"}, ("channel", "2", "update")),
    Step("POST", "/api/channels/tagged/eu/enable", None, ("channel", "2", "update")),
    quiet("POST", "/api/channels/1/models/sync", {"dry_run": True}),
    quiet("POST", "/api/channels/2/balance", None, 400),  # api.openai.com has no balance API
    Step("POST", "/api/channels/1/probe", {}),
    Step("POST", "/api/users", {"name": "bob"}, ("user", "2", "create"), 201),
    Step("PATCH", "/api/users/bob", {"rpm": 5}, ("user", "2", "update")),
    Step("POST", "/api/users/bob/disable", None, ("user", "2", "update")),
    Step("POST", "/api/users/bob/enable", None, ("user", "2", "update")),
    Step("PUT", "/api/users/bob/balance", {"amount": "5"}, ("user", "2", "update")),
    Step("POST", "/api/users/bob/balance/add", {"amount": "1"}, ("user", "2", "update")),
    Step("PUT", "/api/users/bob/budgets", {"amount": "3", "period": "day"}),
    Step("DELETE", "/api/users/bob/budgets/day"),
    Step("POST", "/api/tokens", {"name": "laptop", "user": "bob"}, ("token", "3", "create"), 201),
    Step("PATCH", "/api/tokens/3", {"name": "laptop-2"}, ("token", "3", "update")),
    Step("PUT", "/api/tokens/3/quota", {"amount": "10"}, ("token", "3", "update")),
    Step("POST", "/api/tokens/3/quota/add", {"amount": "5"}, ("token", "3", "update")),
    Step("PUT", "/api/tokens/3/budgets", {"amount": "20", "period": "month"}),
    Step("DELETE", "/api/tokens/3/budgets/month"),
    Step("POST", "/api/tokens/3/revoke", None, ("token", "3", "update")),
    Step("DELETE", "/api/tokens/3", None, ("token", "3", "delete")),
    Step(
        "PUT", "/api/prices/gpt-4o", {"input": "2.5", "output": "10"}, ("price", "gpt-4o", "create")
    ),
    Step(
        "PUT",
        "/api/price-tiers/gpt-4o",
        {"above": 200000, "input": "5", "output": "20"},
        ("price", "gpt-4o", "update"),
    ),
    Step("DELETE", "/api/price-tiers/gpt-4o?above=200000", None, ("price", "gpt-4o", "update")),
    Step(
        "PUT",
        "/api/price-units/gpt-4o",
        {"per": "call", "tool": "web_search", "usd": "10"},
        ("price", "gpt-4o", "update"),
    ),
    Step(
        "DELETE",
        "/api/price-units/gpt-4o?per=call&tool=web_search",
        None,
        ("price", "gpt-4o", "update"),
    ),
    Step(
        "PUT",
        "/api/prices/gpt-4o?channel_id=2",
        {"input": "2", "output": "8"},
        ("channel-price", "2:gpt-4o", "create"),
    ),
    Step("DELETE", "/api/prices/gpt-4o", None, ("price", "gpt-4o", "delete")),
    quiet("POST", "/api/price-catalog?dry_run=true", CATALOG),
    Step("POST", "/api/price-catalog", CATALOG, ("price", "gpt-4o-mini", "create")),
    quiet("POST", "/api/bill-replay", CATALOG),
    Step("PUT", "/api/groups/vip", {"ratio": "0.8"}, ("group", "vip", "create")),
    Step("DELETE", "/api/groups/vip", None, ("group", "vip", "delete")),
    Step("POST", "/api/redemptions", {"quota": "1"}, ("redemption", "1", "create"), 201),
    Step(
        "POST",
        "/api/redemptions/use",
        {"code": "{code}", "user": "bob"},
        ("redemption", "1", "update"),
    ),
    Step("POST", "/api/plans", {"name": "pro", "budgets": ["20/month"]}, ANY, 201),
    Step("PATCH", "/api/plans/pro", {"rpm": 7}),
    Step("PUT", "/api/users/bob/plan", {"plan": "pro"}),
    Step("PUT", "/api/default-plan", {"plan": "pro"}),
    Step("DELETE", "/api/plans/pro"),
    Step(
        "POST",
        "/api/alerts",
        {
            "url": f"http://127.0.0.1:{PORT}/hook",
            "events": ["channel-disabled"],
            "secret": CANARY_ALERT,
        },
        ANY,
        201,
    ),
    quiet("POST", "/api/alerts/1/test"),
    Step("DELETE", "/api/alerts/1"),
    *(
        quiet(method, "/api/no-such-thing", {}, 404)
        for method in ("POST", "PUT", "PATCH", "DELETE")
    ),
    Step("DELETE", "/api/channels/2", None, ("channel", "2", "delete")),
]


def _routes() -> set[tuple[str, str]]:
    """(endpoint, method) of every admin route but reads."""
    app = create_app(Settings(database_url="sqlite:///unused.db")).control
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods or ()
        if method not in ("GET", "HEAD", "OPTIONS")
    }


def test_every_admin_route_is_classified() -> None:
    """A new route goes into STEPS, with the audit row it must leave or as quiet."""
    app = create_app(Settings(database_url="sqlite:///unused.db")).control
    adapter = app.url_map.bind("localhost")
    covered = {
        (adapter.match(step.path.split("?")[0], step.method)[0], step.method) for step in STEPS
    }
    assert _routes() - covered == set()


@pytest.fixture(params=BACKENDS)
async def router(
    request: pytest.FixtureRequest, tmp_path: Path, upstream: FakeOpenAI
) -> AsyncIterator[RunningRouter]:
    url = None
    if request.param == "postgresql":
        await require_postgres()
        url = await _new_schema()
    try:
        async with running_router(tmp_path, upstream, db_url=url) as running:
            yield running
    finally:
        if url is not None:
            await _drop_schema(url)


async def _rows(db: Database) -> list[dict[str, Any]]:
    return await db.fetch_all("SELECT * FROM audit_log ORDER BY id")


async def _send(http: httpx.AsyncClient, step: Step, context: dict[str, str]) -> httpx.Response:
    if isinstance(step.body, str):
        return await http.request(step.method, step.path, content=step.body)
    body = step.body and {
        name: value.format(**context) if isinstance(value, str) else value
        for name, value in step.body.items()
    }
    return await http.request(step.method, step.path, json=body)


async def test_every_change_from_the_admin_api_is_audited_and_keys_never_are(
    router: RunningRouter, admin: httpx.AsyncClient
) -> None:
    db = await open_database(router.db_url)
    context: dict[str, str] = {}
    missing: list[str] = []
    try:
        for step in STEPS:
            before = await _rows(db)
            shown = f"{step.method} {step.path}"  # not the body: it may hold a key
            reply = await _send(admin, step, context)
            assert reply.status_code == step.status, (shown, reply.text)
            added = (await _rows(db))[len(before) :]
            if step.path == "/api/redemptions":
                context["code"] = reply.json()["codes"][0]
            if step.audit is None:
                assert added == [], shown
                continue
            if not added:
                missing.append(shown)
                continue
            assert {row["actor"] for row in added} == {f"token:{router.admin_token_id}"}, shown
            if step.audit != ANY:
                found = {(r["object_kind"], r["object_id"], r["action"]) for r in added}
                assert step.audit in found, (shown, found)
        rows = await _rows(db)
    finally:
        await db.close()
    assert missing == [], f"these changes left no audit row: {missing}"
    listed = await admin.get("/api/audit", params={"limit": 1000})
    assert len(listed.json()["data"]) == len(rows)
    everything = orjson.dumps(rows).decode() + listed.text
    for key in (CANARY, CANARY_2, CANARY_3, CANARY_ALERT):
        assert key not in everything
        assert fragments_in(everything, key) == []


async def test_the_audit_api_filters_as_the_cli_does(admin: httpx.AsyncClient) -> None:
    for ratio in ("0.8", "0.9"):
        assert (await admin.put("/api/groups/vip", json={"ratio": ratio})).status_code == 200
    reply = await admin.get("/api/audit", params={"object": "group:vip", "since": "1h"})
    assert [(e["action"], e["changes"]) for e in reply.json()["data"]] == [
        ("update", {"ratio": {"old": "0.8", "new": "0.9"}}),
        ("create", {"ratio": {"old": None, "new": "0.8"}}),
    ]
    newest = (await admin.get("/api/audit", params={"limit": 1})).json()["data"]
    assert [e["object"] for e in newest] == [{"kind": "group", "id": "vip", "name": "vip"}]
    later = await admin.get("/api/audit", params={"since": "2999-01-01"})
    assert later.json() == {"data": []}
    for params, message in (
        ({"since": "yesterday"}, "invalid since 'yesterday'"),
        ({"object": ":3"}, "invalid object ':3'"),
        ({"limit": "0"}, "limit must be from 1 to 1000"),
    ):
        refused = await admin.get("/api/audit", params=params)
        assert refused.status_code == 400
        assert message in refused.json()["error"]["message"]
