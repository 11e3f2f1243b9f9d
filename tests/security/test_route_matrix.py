"""Every route the router serves x every kind of caller: no key, a bad key, a user's key, an
admin user's ordinary (relay) key, a relay key of a user made admin after it was issued, an
admin key, and an admin key made with --relay. The routes are read from the app itself
(``BurncloudApp.routes``), so a route added without a row here fails; everything under /api/
is the admin API by construction, and is then checked to behave like it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx
import pytest

from burncloud.config import Settings
from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.server import create_app
from burncloud.services.admin_keys import create_admin_key
from burncloud.services.tokens import create_token
from burncloud.services.users import add_user, update_user
from tests.admin.conftest import client, wait_for_key
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import RunningRouter, running_router, wait_for_reload

ANONYMOUS, BAD_KEY, USER = "anonymous", "bad key", "user key"
ADMINS_RELAY_KEY = "an admin user's ordinary token"
PROMOTED = "a relay key of a user who is later made admin"
ADMIN, ADMIN_RELAY = "admin key", "admin key made with --relay"
ROLES = (ANONYMOUS, BAD_KEY, USER, ADMINS_RELAY_KEY, PROMOTED, ADMIN, ADMIN_RELAY)
RELAY_KEYS = (USER, ADMINS_RELAY_KEY, PROMOTED)  # no admin scope, whoever owns them
BAD_KEY_VALUE = "sk-not-a-real-key-0000000000000000000000000000"
METRICS_TOKEN = "scrape-secret-7f3a"


class Access(Enum):
    PUBLIC = "anyone"
    CALLER = "any relay key"  # the relay, the front doors, the account endpoints
    ADMIN = "admin keys only"
    METRICS = "the metrics token when one is set, else anyone"


@dataclass(frozen=True, slots=True)
class Row:
    access: Access
    path: str | None = None  # a concrete request path (default: the pattern itself)
    body: dict[str, Any] | None = None
    status: int | None = 200  # what an allowed caller gets; None: any non-auth answer < 500


MESSAGES = [{"role": "user", "content": "hi"}]
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
TABLE: dict[tuple[str, str], Row] = {
    ("POST", "/v1/chat/completions"): Row(
        Access.CALLER, body={"model": "gpt-4", "messages": MESSAGES}
    ),
    ("POST", "/v1/completions"): Row(Access.CALLER, body={"model": "gpt-4", "prompt": "hi"}),
    ("POST", "/v1/embeddings"): Row(Access.CALLER, body={"model": "gpt-4", "input": "hi"}),
    ("POST", "/v1/responses"): Row(Access.CALLER, body={"model": "gpt-4", "input": "hi"}),
    ("POST", "/v1/responses/input_tokens"): Row(
        Access.CALLER, body={"model": "gpt-4", "input": "hi"}
    ),
    ("GET", "/v1/responses/{response_id}"): Row(
        Access.CALLER, "/v1/responses/resp_none", status=404
    ),
    ("DELETE", "/v1/responses/{response_id}"): Row(
        Access.CALLER, "/v1/responses/resp_none", status=404
    ),
    ("GET", "/v1/responses/{response_id}/input_items"): Row(
        Access.CALLER, "/v1/responses/resp_none/input_items", status=404
    ),
    ("POST", "/v1/messages"): Row(
        Access.CALLER, body={"model": "gpt-4", "max_tokens": 8, "messages": MESSAGES}
    ),
    ("POST", "/v1/messages/count_tokens"): Row(
        Access.CALLER, body={"model": "gpt-4", "messages": MESSAGES}
    ),
    ("POST", "/v1beta/models/{model}:generateContent"): Row(
        Access.CALLER, "/v1beta/models/gpt-4:generateContent", GEMINI
    ),
    ("POST", "/v1beta/models/{model}:streamGenerateContent"): Row(
        Access.CALLER, "/v1beta/models/gpt-4:streamGenerateContent?alt=sse", GEMINI
    ),
    ("POST", "/v1/models/{model}:generateContent"): Row(
        Access.CALLER, "/v1/models/gpt-4:generateContent", GEMINI
    ),
    ("POST", "/v1/models/{model}:streamGenerateContent"): Row(
        Access.CALLER, "/v1/models/gpt-4:streamGenerateContent?alt=sse", GEMINI
    ),
    ("POST", "/v1/moderations"): Row(Access.CALLER, body={"model": "gpt-4", "input": "hi"}),
    # The matrix's router has no rerank channel: an allowed caller gets past the key to 404.
    ("POST", "/v1/rerank"): Row(
        Access.CALLER, body={"model": "rerank-x", "query": "q", "documents": ["d"]}, status=404
    ),
    # Images and audio: the matrix's router serves no such model (a 404 past the key), and
    # a multipart endpoint refuses a body that is not multipart (a 400 past the key).
    ("POST", "/v1/images/generations"): Row(
        Access.CALLER, body={"model": "dall-e-3", "prompt": "a fox"}, status=404
    ),
    ("POST", "/v1/images/edits"): Row(Access.CALLER, status=400),
    ("POST", "/v1/images/variations"): Row(Access.CALLER, status=400),
    ("POST", "/v1/audio/speech"): Row(
        Access.CALLER, body={"model": "tts-1", "input": "hi", "voice": "alloy"}, status=404
    ),
    ("POST", "/v1/audio/transcriptions"): Row(Access.CALLER, status=400),
    ("POST", "/v1/audio/translations"): Row(Access.CALLER, status=400),
    ("GET", "/v1/models"): Row(Access.CALLER),
    ("GET", "/v1/models/<path:model>"): Row(Access.CALLER, "/v1/models/gpt-4"),
    ("GET", "/v1/dashboard/billing/subscription"): Row(Access.CALLER),
    ("GET", "/v1/dashboard/billing/usage"): Row(Access.CALLER),
    ("GET", "/healthz"): Row(Access.PUBLIC),
    ("GET", "/openapi.json"): Row(Access.PUBLIC),  # the API description, no data
    # Quart's default static route: there is no static folder, so it serves nothing.
    ("GET", "/static/<path:filename>"): Row(Access.PUBLIC, "/static/router.db", status=404),
    ("GET", "/metrics"): Row(Access.METRICS),
}


def concrete(pattern: str) -> str:
    """A request path for a Werkzeug rule, naming ids and names that do not exist, so that
    an admin's request reaches its handler and changes nothing."""
    path = re.sub(r"<int:[^>]+>", "999999", pattern)
    return re.sub(r"<[^>]+>", "no-such-thing", path)


def classify(method: str, pattern: str) -> Row | None:
    """The table's row for a served route; every /api/ route is the admin API's."""
    row = TABLE.get((method, pattern))
    if row is None and pattern.startswith("/api/"):
        body = None if method in ("GET", "DELETE") else {}
        return Row(Access.ADMIN, concrete(pattern), body, status=None)
    return row


def served_routes() -> list[tuple[str, str]]:
    """The (method, pattern) pairs a router app serves, read from a fresh app."""
    return create_app(Settings(database_url="sqlite:///unused.db")).routes()


def auth_refusal(response: httpx.Response) -> str | None:
    """``invalid_token`` / ``permission_denied`` if the answer is such a refusal, in the
    OpenAI, Anthropic or Gemini error shape; else None."""
    if response.status_code not in (401, 403):
        return None
    error = response.json().get("error", {})
    names = {error.get("code"), error.get("type"), error.get("status")}
    if names & {"invalid_token", "authentication_error", "UNAUTHENTICATED"}:
        return "invalid_token"
    if names & {"permission_denied", "permission_error", "PERMISSION_DENIED"}:
        return "permission_denied"
    return None


def expected_refusal(access: Access, role: str, metrics_token: str | None) -> str | None:
    """The refusal ``role`` must get on a route of ``access`` (None: it is let through)."""
    if access is Access.PUBLIC or (access is Access.METRICS and metrics_token is None):
        return None
    if access is Access.METRICS or role in (ANONYMOUS, BAD_KEY):
        return "invalid_token"
    if access is Access.ADMIN and role in RELAY_KEYS:
        return "permission_denied"
    if access is Access.CALLER and role == ADMIN:
        return "permission_denied"
    return None


def mismatch(row: Row, response: httpx.Response, refusal: str | None) -> str | None:
    """Why ``response`` is not what the row expects of a caller (None when it is)."""
    got = auth_refusal(response)
    if refusal is not None:
        return None if got == refusal else f"wanted {refusal}, got {response.status_code}"
    if got is not None or response.status_code >= 500:
        return f"wanted access, got {response.status_code} {response.text[:120]}"
    if row.status is not None and response.status_code != row.status:
        return f"wanted {row.status}, got {response.status_code} {response.text[:120]}"
    return None


async def user_key(router: RunningRouter, name: str = "alice") -> str:
    """A working key of a new ordinary user with 5 USD, once the router knows it."""
    db = await open_database(router.db_url)
    try:
        await add_user(db, name=name, balance=parse_usd("5"))
        _, key = await create_token(db, f"{name}-key", user_ref=name)
    finally:
        await db.close()
    await wait_for_key(router, key, 403)
    return key


async def promoted_user_key(router: RunningRouter) -> str:
    """A relay key issued to an ordinary user who is made an admin afterwards."""
    key = await user_key(router, "bob")
    db = await open_database(router.db_url)
    try:
        await update_user(db, "bob", role="admin")
    finally:
        await db.close()
    await wait_for_reload(router)
    return key


async def admin_key(router: RunningRouter, *, relay: bool) -> str:
    """A new admin key (also a relay key if ``relay``), once the router knows it."""
    db = await open_database(router.db_url)
    try:
        _, key = await create_admin_key(db, "matrix-admin", relay=relay)
    finally:
        await db.close()
    await wait_for_key(router, key, 200)
    return key


async def role_keys(router: RunningRouter) -> dict[str, str | None]:
    """A key for every role of the matrix."""
    return {
        ANONYMOUS: None,
        BAD_KEY: BAD_KEY_VALUE,
        USER: await user_key(router),
        ADMINS_RELAY_KEY: router.key,
        PROMOTED: await promoted_user_key(router),
        ADMIN: router.admin_key,
        ADMIN_RELAY: await admin_key(router, relay=True),
    }


def test_every_served_route_is_classified() -> None:
    routes = served_routes()
    assert [route for route in routes if classify(*route) is None] == []
    assert len(routes) >= 55  # the listing itself works: relay, doors, account, admin


@pytest.mark.parametrize("metrics_token", [None, METRICS_TOKEN])
async def test_every_route_answers_every_role_as_classified(
    tmp_path, metrics_token: str | None
) -> None:
    routes = served_routes()
    wrong: list[str] = []
    async with (
        FakeOpenAI("sk-upstream-matrix") as upstream,
        running_router(tmp_path, upstream, metrics_token=metrics_token) as router,
    ):
        keys = await role_keys(router)
        for role in ROLES:
            async with client(router, keys[role]) as http:
                for method, pattern in routes:
                    row = classify(method, pattern)
                    assert row is not None
                    response = await http.request(method, row.path or pattern, json=row.body)
                    refusal = expected_refusal(row.access, role, metrics_token)
                    why = mismatch(row, response, refusal)
                    if why:
                        wrong.append(f"{role}: {method} {pattern}: {why}")
        async with client(router, metrics_token) as http:
            scrape = await http.get("/metrics")
    assert wrong == []
    assert scrape.status_code == 200 and "burncloud_requests_total" in scrape.text


async def test_no_variant_of_a_guarded_route_answers_without_a_key(tmp_path) -> None:
    """A trailing slash, HEAD or OPTIONS never gets a guarded route's data anonymously."""
    wrong: list[str] = []
    async with (
        FakeOpenAI("sk-upstream-matrix") as upstream,
        running_router(tmp_path, upstream, metrics_token=METRICS_TOKEN) as router,
        client(router, None) as http,
    ):
        for method, pattern in served_routes():
            row = classify(method, pattern)
            assert row is not None
            if row.access is Access.PUBLIC:
                continue
            path = (row.path or pattern).split("?")[0]
            slashed = await http.request(method, path + "/", json=row.body)
            options = await http.options(path)
            if slashed.status_code not in (401, 404):
                wrong.append(f"{method} {path}/: {slashed.status_code}")
            if options.status_code < 400 and options.content:
                wrong.append(f"OPTIONS {path}: {options.status_code} {options.text[:80]}")
            if method == "GET" and (await http.head(path)).status_code not in (401, 404):
                wrong.append(f"HEAD {path}: answered")  # /metrics is GET only: 404
    assert wrong == []
