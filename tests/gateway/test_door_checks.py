"""Every door checks the key before it looks at the body, and logs what it refuses once the
key was accepted (``log``, ``stats`` and ``dash`` read those rows)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import logged_rows, running_router

NOT_JSON = b'{"model": "gpt-4", "messages": [oops'
DOORS = {
    "chat": ("/v1/chat/completions", "authorization", "Bearer {key}"),
    "messages": ("/v1/messages", "x-api-key", "{key}"),
    "count_tokens": ("/v1/messages/count_tokens", "x-api-key", "{key}"),
    "gemini v1beta": ("/v1beta/models/gpt-4:generateContent", "x-goog-api-key", "{key}"),
    "gemini v1": ("/v1/models/gpt-4:generateContent", "x-goog-api-key", "{key}"),
    "gemini bad method": ("/v1/models/gpt-4:explode", "x-goog-api-key", "{key}"),
}


@pytest.fixture
async def router(tmp_path):
    async with (
        FakeOpenAI("sk-canary-upstream-key", prompt_tokens=10, completion_tokens=5) as fake,
        running_router(tmp_path, fake) as router,
    ):
        yield router


async def _post(router, door: str, key: str, body: bytes, **headers: str) -> httpx.Response:
    path, header, form = DOORS[door]
    async with httpx.AsyncClient() as client:
        return await client.post(
            router.base_url.removesuffix("/v1") + path,
            content=body,
            headers={header: form.format(key=key), "anthropic-version": "2023-06-01", **headers},
        )


@pytest.mark.parametrize("door", DOORS)
async def test_a_wrong_key_is_401_before_the_body_is_read(router, door) -> None:
    response = await _post(router, door, "sk-wrong", NOT_JSON)
    assert response.status_code == 401, response.text
    assert await logged_rows(router.db_url) == []  # nobody to bill or blame


async def test_a_key_in_the_gemini_url_is_checked_first(router) -> None:
    async with httpx.AsyncClient() as client:
        root = router.base_url.removesuffix("/v1")
        wrong = await client.post(f"{root}/v1/models/gpt-4:explode?key=sk-wrong", content=b"[")
        right = await client.post(f"{root}/v1/models/gpt-4:explode?key={router.key}", content=b"{}")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["status"] == "UNAUTHENTICATED"
    assert right.status_code == 404 and right.json()["error"]["status"] == "NOT_FOUND"


REFUSALS = [
    ("chat", NOT_JSON, 400, "chat.completions", "not valid JSON"),
    ("messages", NOT_JSON, 400, "messages", "not valid JSON"),
    ("messages", b'{"model":"gpt-9","max_tokens":5,"messages":[]}', 404, "messages", "gpt-9"),
    (
        "messages",  # an OpenAI channel cannot take this block: the conversion refuses
        b'{"model":"gpt-4","max_tokens":5,"messages":[{"role":"user",'
        b'"content":[{"type":"container_upload","file_id":"f"}]}]}',
        400,
        "messages",
        "container_upload",
    ),
    ("count_tokens", NOT_JSON, 400, "count_tokens", "not valid JSON"),
    ("gemini v1", NOT_JSON, 400, "generateContent", "not valid JSON"),
    ("gemini bad method", b"{}", 404, "generateContent", "explode"),
]


@pytest.mark.parametrize(
    ("door", "body", "status", "endpoint", "reason"),
    REFUSALS,
    ids=[f"{r[0]}-{r[2]}-{r[4]}" for r in REFUSALS],
)
async def test_a_refusal_after_authentication_is_logged(
    router, door, body, status, endpoint, reason
) -> None:
    response = await _post(router, door, router.key, body)
    assert response.status_code == status, response.text
    rows = await _rows_when_written(router.db_url)
    assert [(r["endpoint"], r["status"], r["token_id"], r["cost"]) for r in rows] == [
        (endpoint, status, router.token_id, 0)
    ]
    assert reason in rows[0]["error"]
    assert rows[0]["request_id"] == response.headers["x-request-id"]


async def _rows_when_written(db_url: str) -> list[dict]:
    """The log rows, once the log writer's batch (0.2 s) has reached the database."""
    for _ in range(100):
        rows = await logged_rows(db_url)
        if rows:
            return rows
        await asyncio.sleep(0.05)
    return []
