"""Bad input at every door of a real router: a clear error in the door's shape, never a 5xx,
nothing sent upstream, nothing charged, and no log row holding the garbage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from burncloud.db import open_database
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import RunningRouter, logged_rows, running_router

MESSAGES = [{"role": "user", "content": "hi"}]
GEMINI_CONTENTS = [{"role": "user", "parts": [{"text": "hi"}]}]


@dataclass(frozen=True, slots=True)
class Door:
    path: str
    body: dict[str, Any]  # a valid request
    shape: str  # the error shape: openai, anthropic or gemini
    relay: bool  # the relay itself (authenticates first, logs every authenticated request)

    def json(self, **changes: Any) -> bytes:
        return orjson.dumps({**self.body, **changes})


DOORS = {
    "chat": Door("/v1/chat/completions", {"model": "gpt-4", "messages": MESSAGES}, "openai", True),
    "completions": Door("/v1/completions", {"model": "gpt-4", "prompt": "hi"}, "openai", True),
    "embeddings": Door("/v1/embeddings", {"model": "gpt-4", "input": "hi"}, "openai", True),
    "messages": Door(
        "/v1/messages",
        {"model": "gpt-4", "max_tokens": 50, "messages": MESSAGES},
        "anthropic",
        False,
    ),
    "gemini": Door(
        "/v1beta/models/gpt-4:generateContent", {"contents": GEMINI_CONTENTS}, "gemini", False
    ),
}
# (status, code) as each door's error shape spells them.
CODES = {
    "openai": {
        400: "invalid_request",
        401: "invalid_token",
        404: "model_not_found",
        413: "request_too_large",
    },
    "anthropic": {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        413: "request_too_large",
    },
    "gemini": {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        404: "NOT_FOUND",
        413: "INVALID_ARGUMENT",
    },
}


def error_code(status: int, content: bytes, shape: str) -> str:
    """The error's code in ``shape``, after checking the body has exactly that shape."""
    body = orjson.loads(content)
    if shape == "anthropic":
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
        return body["error"]["type"]
    error = body["error"]
    if shape == "gemini":
        assert set(error) == {"code", "message", "status"} and error["code"] == status
        return error["status"]
    assert set(error) == {"message", "type", "code"}, body
    return error["code"]


def expect(response: httpx.Response, door: Door, status: int, case: str) -> str:
    """Assert the status and the door's code for it; the error message."""
    assert response.status_code == status, (case, response.status_code, response.text)
    code = error_code(response.status_code, response.content, door.shape)
    assert code == CODES[door.shape][status], (case, response.text)
    body = orjson.loads(response.content)
    return body["error"]["message"]


def bad_bodies(door: Door) -> dict[str, bytes]:
    """Bodies every door must refuse with a 400 before anything goes upstream."""
    valid = door.json()
    cases = {
        "malformed": b"{not json",
        "truncated": valid[: len(valid) // 2],
        "json array": b"[" + valid + b"]",
        "empty": b"",
        "invalid utf-8": valid.replace(b'"hi"', b'"h\xff\xfei"'),
        "lone surrogate escape": valid.replace(b'"hi"', b'"\\ud800"'),
        "deep nesting": valid[:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "NaN": valid[:-1] + b',"temperature":NaN}',
        "Infinity": valid[:-1] + b',"temperature":Infinity}',
        "-Infinity": valid[:-1] + b',"temperature":-Infinity}',
        "trailing garbage": valid + b"{}",
    }
    if door.shape != "gemini":  # the Gemini door takes its model from the URL
        cases |= {
            "numeric model": door.json(model=42),
            "list model": door.json(model=["gpt-4"]),
            "operator model": door.json(model={"$ne": None}),
            "CRLF in model": door.json(model="gpt-4\r\nX-Injected: 1"),
            "NUL in model": door.json(model="gpt-4\x00"),
            "overlong model": door.json(model="g" * 300),
        }
    assert valid not in cases.values()  # every replacement found its target
    return cases


@pytest.fixture
async def upstream():
    async with FakeOpenAI("sk-canary-upstream-key") as fake:
        yield fake


async def post(
    router: RunningRouter,
    path: str,
    body: bytes,
    content_type: str | None = "application/json",
    key: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": b"Bearer " + (key or router.key).encode()}  # UTF-8 allowed
    if content_type is not None:
        headers["Content-Type"] = content_type.encode()
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(root(router) + path, content=body, headers=headers)


def root(router: RunningRouter) -> str:
    return router.base_url.removesuffix("/v1")


async def spent(router: RunningRouter) -> int:
    db = await open_database(router.db_url)
    try:
        return await db.fetch_value("SELECT SUM(used) FROM tokens")
    finally:
        await db.close()


@pytest.mark.parametrize("name", DOORS)
async def test_malformed_bodies_are_400_and_reach_nobody(tmp_path, upstream, name: str) -> None:
    door = DOORS[name]
    cases = bad_bodies(door)
    async with running_router(tmp_path, upstream) as router:
        for case, body in cases.items():
            expect(await post(router, door.path, body), door, 400, case)
    assert upstream.request_count == 0
    rows = await logged_rows(router.db_url)
    assert await spent(router) == 0
    # Every door logs an authenticated caller's refusal, without the garbage (no model).
    assert len(rows) == len(cases)
    assert {(row["model"], row["status"], row["cost"]) for row in rows} <= {("", 400, 0)}


@pytest.mark.parametrize("name", DOORS)
async def test_a_non_json_content_type_is_400_naming_application_json(
    tmp_path, upstream, name: str
) -> None:
    door = DOORS[name]
    async with running_router(tmp_path, upstream) as router:
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "application/xml",
        ):
            response = await post(router, door.path, door.json(), content_type)
            message = expect(response, door, 400, content_type)
            assert "application/json" in message and content_type in message
        assert upstream.request_count == 0
        for accepted in (None, "application/json; charset=utf-8", "Application/JSON", ""):
            response = await post(router, door.path, door.json(), accepted)
            assert response.status_code == 200, (accepted, response.text)
    assert upstream.request_count == 4
    refused = [row for row in await logged_rows(router.db_url) if row["status"] != 200]
    assert len(refused) == 4  # logged by every door: the key was accepted
    assert all((row["status"], row["model"], row["cost"]) == (400, "", 0) for row in refused)


@pytest.mark.parametrize("name", ["messages", "gemini"])
async def test_model_names_in_a_door_url_or_body_are_checked(tmp_path, upstream, name) -> None:
    door = DOORS[name]
    async with running_router(tmp_path, upstream) as router:
        if name == "gemini":
            crlf = await post(router, "/v1beta/models/gpt-4%0D%0AX:generateContent", door.json())
            traversal = await post(
                router, "/v1beta/models/..%2F..%2Fapi%2Fchannels:generateContent", door.json()
            )
            # Decoded once by the server: "%2D" stays literal, it must not become "gpt-4".
            double = await post(router, "/v1beta/models/gpt%252D4:generateContent", door.json())
        else:
            crlf = await post(router, door.path, door.json(model="gpt-4\r\nX: 1"))
            traversal = await post(router, door.path, door.json(model="../../api/channels"))
            double = await post(router, door.path, door.json(model="gpt%2D4"))
        expect(crlf, door, 400, "CRLF")
        expect(traversal, door, 404, "traversal")
        expect(double, door, 404, "double-encoded")
    assert upstream.request_count == 0
    rows = await logged_rows(router.db_url)
    assert [(row["model"], row["status"]) for row in rows] == [
        ("", 400),
        ("../../api/channels", 404),  # an unknown model, recorded as asked
        ("gpt%2D4", 404),
    ]


@pytest.mark.parametrize(
    "key",
    [
        "' OR '1'='1",
        "sk-x'; DROP TABLE tokens; --",
        '" OR 1=1 --',
        "sk-%' UNION SELECT key_hash FROM tokens --",
        "sk-" + "A" * 10_000,
        "sk-ünïcødé",
    ],
)
async def test_sql_injection_in_the_bearer_key_is_401(tmp_path, upstream, key: str) -> None:
    async with running_router(tmp_path, upstream) as router:
        for door in DOORS.values():
            response = await post(router, door.path, door.json(), key=key)
            expect(response, door, 401, door.path)
        async with httpx.AsyncClient() as http:
            for path in ("/v1/models", "/api/tokens"):
                response = await http.get(
                    root(router) + path, headers={"Authorization": b"Bearer " + key.encode()}
                )
                expect(response, DOORS["chat"], 401, path)
        db = await open_database(router.db_url)
        try:
            assert await db.fetch_value("SELECT COUNT(*) FROM tokens") == 2
        finally:
            await db.close()
    assert upstream.request_count == 0
    assert await logged_rows(router.db_url) == []  # refused before authentication
