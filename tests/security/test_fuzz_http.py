"""Schemathesis against a running router, from the OpenAPI document the router serves: with a
user's key and with an admin's key, valid and invalid requests alike never get a 5xx, and
every error has its door's shape. Bounded and derandomized: the same cases every run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.specs.openapi.schemas import OpenApiSchema

from burncloud.db import open_database
from burncloud.services.bootstrap import ADMIN_NAME
from burncloud.services.tokens import create_token
from burncloud.services.users import add_user
from tests.gateway.router_harness import RunningRouter, logged_rows, wait_for_reload
from tests.security.test_bad_input import error_code
from tests.security.threaded_router import ThreadedRouter, threaded_router

EXAMPLES = 10  # per operation and generation mode
USER_NAME = "fuzz-user"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[ThreadedRouter]:
    with threaded_router(tmp_path) as router:
        yield router


def shape_of(path: str) -> str:
    """Which error shape a path answers in: the front doors keep their own."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    gemini = path.startswith(("/v1beta/models/", "/v1/models/")) and ":" in path
    return "gemini" if gemini else "openai"


def check_answer(case: Case, status: int, content: bytes) -> None:
    """No 5xx; an error is an error object of the door's shape."""
    where = f"{case.method} {case.formatted_path} {case.body!r:.300}"
    assert status < 500, f"{status} for {where}: {content[:300]!r}"
    if status >= 400:
        error_code(status, content, shape_of(case.path))


def fuzz(
    schema: OpenApiSchema,
    live: ThreadedRouter,
    key: str,
    wanted: Callable[[str], bool],
    skip: Callable[[Case], bool] = lambda case: False,
) -> set[tuple[str, str]]:
    """Run every wanted operation with EXAMPLES valid and EXAMPLES invalid cases; the
    (method, path) of those that ran."""
    operations = [op.ok() for op in schema.get_all_operations()]
    operations = [op for op in operations if wanted(op.path)]
    for operation in operations:
        _fuzz_operation(operation, GenerationMode.POSITIVE, live, key, skip)
        if _has_inputs(operation):  # else there is nothing to make invalid
            _fuzz_operation(operation, GenerationMode.NEGATIVE, live, key, skip)
    return {(operation.method.upper(), operation.path) for operation in operations}


def _has_inputs(operation: APIOperation) -> bool:
    return any(
        len(inputs)
        for inputs in (
            operation.body,
            operation.path_parameters,
            operation.query,
            operation.headers,
        )
    )


def _fuzz_operation(
    operation: APIOperation,
    mode: GenerationMode,
    live: ThreadedRouter,
    key: str,
    skip: Callable[[Case], bool],
) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), routed=st.booleans())
    def run(case: Case, routed: bool) -> None:
        assume(not skip(case))
        if routed:  # half the valid-looking requests name a model the router serves
            _route_to_served_model(case)
        response = case.call(
            base_url=live.root, headers={"Authorization": f"Bearer {key}"}, timeout=20
        )
        check_answer(case, response.status_code, response.content)

    run()


def _route_to_served_model(case: Case) -> None:
    if isinstance(case.body, dict) and "model" in case.body:
        case.body["model"] = "gpt-4"
    if case.path_parameters and "model" in case.path_parameters and ":" in case.path:
        case.path_parameters["model"] = "gpt-4"


async def _add_user_key(router: RunningRouter) -> str:
    db = await open_database(router.db_url)
    try:
        await add_user(db, name=USER_NAME, balance=-1)
        _, key = await create_token(db, "fuzz", user_ref=USER_NAME)
    finally:
        await db.close()
    await wait_for_reload(router)
    return key


async def _spending(router: RunningRouter) -> tuple[int, int]:
    """What the fuzz user's tokens were charged, and the costs its log rows record."""
    sql = "SELECT SUM(x.{0}) FROM {1} x JOIN users u ON u.id = x.user_id WHERE u.name = :n"
    db = await open_database(router.db_url)
    try:
        charged = await db.fetch_value(sql.format("used", "tokens"), {"n": USER_NAME})
        logged = await db.fetch_value(sql.format("cost", "logs"), {"n": USER_NAME})
    finally:
        await db.close()
    return charged, logged


def _is_admin(path: str) -> bool:
    return path.startswith("/api/")


def _documented(live: ThreadedRouter, wanted: Callable[[str], bool]) -> set[tuple[str, str]]:
    """The served document's operations, but its own (schemathesis leaves it out)."""
    paths = httpx.get(live.root + "/openapi.json").json()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if wanted(path) and path != "/openapi.json"
    }


def test_a_users_key_never_gets_a_5xx(tmp_path: Path) -> None:
    with threaded_router(tmp_path) as live:
        key = live.run(_add_user_key(live.router))
        schema = schemathesis.openapi.from_url(live.root + "/openapi.json")
        everything = fuzz(schema, live, key, lambda path: True)  # the admin API: all 403
        assert everything == _documented(live, lambda path: True)
        assert live.upstream.request_count > 0  # some cases got through to the upstream
    # The router has stopped and flushed its log: every row is sane, and the user was
    # charged exactly what the rows say.
    rows = asyncio.run(logged_rows(live.router.db_url))
    assert all(row["status"] < 500 and row["cost"] >= 0 for row in rows)
    assert all(len(row["model"]) <= 256 and row["model"].isprintable() for row in rows)
    used, logged = asyncio.run(_spending(live.router))
    assert used == logged > 0


def test_an_admins_key_never_gets_a_5xx(live: ThreadedRouter) -> None:
    schema = schemathesis.openapi.from_url(live.root + "/openapi.json")
    own = live.router.admin_token_id

    def left_out(case: Case) -> bool:
        """Cases that would revoke or demote the fuzzing admin itself."""
        params = {**(case.path_parameters or {}), **(case.query or {})}
        return params.get("token_id") == own or params.get("user_ref") in ("1", ADMIN_NAME)

    ran = fuzz(schema, live, live.router.admin_key, _is_admin, left_out)
    assert ran == _documented(live, _is_admin)
    assert live.upstream.request_count == 0
