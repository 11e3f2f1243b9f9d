"""Bounded work before admission: a caller who cannot pay gets 402 before its large body is
kept, and a body of too many JSON values is 413 before it is parsed."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from burncloud.errors import RequestTooLarge
from burncloud.gateway.relay.body_budget import (
    LARGE_BODY,
    MAX_JSON_ELEMENTS,
    check_json_elements,
    is_large,
    json_elements,
)
from tests.fakes import FakeOpenAI, running_fake_openai
from tests.gateway.router_harness import logged_rows, running_router, seed
from tests.gateway.router_process import router_process

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
)


def _values(value: object) -> int:
    if isinstance(value, list):
        return 1 + sum(_values(item) for item in value)
    if isinstance(value, dict):
        return 1 + sum(1 + _values(item) for item in value.values())  # keys are values too
    return 1


@given(JSON_VALUES)
def test_the_element_count_is_an_upper_bound_of_the_values(value: object) -> None:
    assert json_elements(orjson.dumps(value)) >= _values(value)


def _tiny_messages(count: int) -> bytes:
    message = b'{"role":"user","content":"a"}'
    return b'{"model":"gpt-4","messages":[' + b",".join([message] * count) + b"]}"


def test_a_body_of_too_many_values_is_refused_unparsed() -> None:
    with pytest.raises(RequestTooLarge, match="too many JSON values"):
        check_json_elements(_tiny_messages(MAX_JSON_ELEMENTS // 4))


def test_a_large_body_of_prose_is_not_refused() -> None:
    prose = b"Commas, colons: and [brackets] in text count too, so real prompts are checked. "
    body = orjson.dumps({"model": "gpt-4", "messages": [{"role": "user", "content": ""}]})
    body = body.replace(b'""', b'"' + prose * 200_000 + b'"')  # 16 MB, 800k structural bytes
    check_json_elements(body)


def test_which_bodies_are_large() -> None:
    assert is_large({}) is True  # chunked: its length is unknown
    assert is_large({b"content-length": str(LARGE_BODY + 1).encode()}) is True
    assert is_large({b"content-length": b"1000"}) is False


@pytest.fixture
async def fake():
    async with FakeOpenAI("sk-canary-upstream-key", prompt_tokens=10, completion_tokens=5) as f:
        yield f


async def test_a_funded_key_with_too_many_values_gets_413_and_a_log_row(tmp_path, fake) -> None:
    async with running_router(tmp_path, fake) as router, httpx.AsyncClient() as client:
        response = await client.post(
            router.base_url + "/chat/completions",
            content=_tiny_messages(MAX_JSON_ELEMENTS // 4),
            headers={"authorization": f"Bearer {router.key}"},
        )
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "request_too_large"
        rows = await _rows(router.db_url)
    assert [(r["status"], r["cost"]) for r in rows] == [(413, 0)]
    assert fake.request_count == 0


async def test_a_key_with_nothing_left_gets_402_for_a_large_body(tmp_path, fake) -> None:
    async with running_router(tmp_path, fake, quota="0") as router, httpx.AsyncClient() as client:
        big = await client.post(
            router.base_url + "/chat/completions",
            content=_tiny_messages(100_000),  # 3 MB: the balance is checked before reading
            headers={"authorization": f"Bearer {router.key}"},
        )
        small = await client.post(
            router.base_url + "/chat/completions",
            json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {router.key}"},
        )
        rows = await _rows(router.db_url, 2)
    assert (big.status_code, small.status_code) == (402, 402)
    assert big.json()["error"]["code"] == "insufficient_quota"
    assert sorted(r["status"] for r in rows) == [402, 402]
    assert fake.request_count == 0


async def _rows(db_url: str, count: int = 1) -> list[dict]:
    for _ in range(100):
        rows = await logged_rows(db_url)
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    return await logged_rows(db_url)


# -- the memory figure, in a real router process ----------------------------------------

BODY_MB = 30
CONCURRENT = 6


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a supervised router's workers are its children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def _upload(base_url: str, key: str, body: bytes) -> int:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            base_url + "/chat/completions", content=body, headers={"authorization": f"Bearer {key}"}
        )
        return response.status_code


async def _uploads(base_url: str, key: str, body: bytes) -> list[int]:
    return await asyncio.gather(*(_upload(base_url, key, body) for _ in range(CONCURRENT)))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_six_30_mb_bodies_from_a_key_with_nothing_left_leave_memory_flat(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path}/memory.db"
    body = _tiny_messages(BODY_MB * 1_000_000 // 30)
    with running_fake_openai("sk-canary-upstream-key") as upstream:
        _, key = asyncio.run(seed(db_url, upstream, quota="0"))
        with router_process(db_url, workers=1) as (base_url, process):
            small = orjson.dumps(
                {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}
            )
            assert asyncio.run(_uploads(base_url, key, small)) == [402] * CONCURRENT
            idle = {pid: _memory_kb(pid, "VmRSS") for pid in _tree(process.pid)}
            statuses = asyncio.run(_uploads(base_url, key, body))
            grown = {
                pid: _memory_kb(pid, "VmHWM") - idle[pid]
                for pid in idle
                if os.path.exists(f"/proc/{pid}")
            }
    assert statuses == [402] * CONCURRENT
    assert max(grown.values()) < 100 * 1024, grown  # KiB: within 100 MB of idle
