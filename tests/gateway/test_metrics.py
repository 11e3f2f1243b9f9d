"""``GET /metrics``: real requests through the router, the scrape parsed with
prometheus-client's own parser and checked against the log rows; two workers summed."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from burncloud.db import open_database
from burncloud.gateway import metrics as metrics_module
from burncloud.gateway.doors.metrics import MetricsEndpoint
from burncloud.gateway.metrics import MULTIPROC_ENV, RouterMetrics, multiprocess_dir
from burncloud.services.tokens import create_token
from tests.fakes import FakeOpenAI, running_fake_openai
from tests.gateway.router_harness import logged_rows, running_router, seed, wait_for_reload
from tests.gateway.router_process import router_process

MESSAGES = [{"role": "user", "content": "hello there"}]
COST = 15_000_000  # 100 prompt * 30_000 + 200 completion * 60_000 nano-USD
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape by (sample name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def values(scraped: Samples, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """The samples named ``name``, keyed by the given labels' values."""
    return {
        tuple(dict(pairs)[label] for label in labels): value
        for (sample, pairs), value in scraped.items()
        if sample == name
    }


async def scrape(base_url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        response = await http.get(base_url.removesuffix("/v1") + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


@pytest.fixture
async def upstream():
    async with FakeOpenAI(
        "sk-canary-upstream-key", prompt_tokens=100, completion_tokens=200
    ) as fake:
        yield fake


async def _broke_key(db_url: str) -> str:
    db = await open_database(db_url)
    try:
        return (await create_token(db, "broke", quota_units=0))[1]
    finally:
        await db.close()


async def _send_mix(base_url: str, key: str, broke_key: str, upstream: FakeOpenAI) -> None:
    """3 chat + 2 streamed chat + 1 legacy completion (200), then a 404, a 402 and a 502."""
    client = openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0)
    broke = openai.AsyncOpenAI(api_key=broke_key, base_url=base_url, max_retries=0)
    try:
        for _ in range(3):
            await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
        for _ in range(2):
            stream = await client.chat.completions.create(
                model="gpt-4", messages=MESSAGES, stream=True
            )
            assert [chunk async for chunk in stream]
        await client.completions.create(model="gpt-4", prompt="hello there")
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="gpt-nope", messages=MESSAGES)
        with pytest.raises(openai.APIStatusError) as refused:
            await broke.chat.completions.create(model="gpt-4", messages=MESSAGES)
        assert refused.value.status_code == 402
        upstream.fail_with(500)
        with pytest.raises(openai.APIStatusError) as failed:
            await client.chat.completions.create(model="gpt-4", messages=MESSAGES)
        assert failed.value.status_code == 502
    finally:
        await client.close()
        await broke.close()


async def test_request_counts_tokens_and_spend_match_the_log_rows(tmp_path, upstream) -> None:
    async with running_router(tmp_path, upstream) as router:
        broke_key = await _broke_key(router.db_url)
        await wait_for_reload(router)  # the router knows keys from its snapshot
        await _send_mix(router.base_url, router.key, broke_key, upstream)
        scraped = await scrape(router.base_url)
    rows = await logged_rows(router.db_url)
    labels = ("model", "channel", "endpoint", "status", "stream")
    requests = values(scraped, "burncloud_requests_total", *labels)
    assert requests == {
        ("gpt-4", "1", "chat.completions", "200", "false"): 3,
        ("gpt-4", "1", "chat.completions", "200", "true"): 2,
        ("gpt-4", "1", "completions", "200", "false"): 1,
        ("gpt-nope", "", "chat.completions", "404", "false"): 1,
        ("gpt-4", "", "chat.completions", "402", "false"): 1,
        ("gpt-4", "1", "chat.completions", "502", "false"): 1,
    }
    assert requests == Counter(
        (r["model"], _channel(r), r["endpoint"], str(r["status"]), _flag(r)) for r in rows
    )
    # The legacy completion stops at its default max_tokens, 16: 100 * 30_000 + 16 * 60_000.
    _assert_tokens_and_spend(scraped, rows, 600, 5 * 200 + 16, 5 * COST + 3_960_000)
    durations = values(
        scraped, "burncloud_request_duration_seconds_count", "model", "endpoint", "stream"
    )
    assert durations == Counter((r["model"], r["endpoint"], _flag(r)) for r in rows)
    ttfts = values(scraped, "burncloud_ttft_seconds_count", "model")
    assert ttfts == Counter((r["model"],) for r in rows if r["ttft_ms"] is not None)
    assert ttfts == {("gpt-4",): 6}
    assert values(scraped, "burncloud_in_flight_requests") == {(): 0}


def _assert_tokens_and_spend(
    scraped: Samples, rows: list[dict], tokens_in: int, tokens_out: int, spend_nano: int
) -> None:
    """Token and spend counters equal the log rows' sums and the expected totals; requests
    refused before any channel (the 402, the 404) add no series."""
    tokens = values(scraped, "burncloud_tokens_total", "model", "channel", "direction")
    assert tokens == {("gpt-4", "1", "input"): tokens_in, ("gpt-4", "1", "output"): tokens_out}
    assert sum(r["prompt_tokens"] for r in rows) == tokens_in
    assert sum(r["completion_tokens"] for r in rows) == tokens_out
    spend = values(scraped, "burncloud_spend_usd_total", "model", "channel")
    assert list(spend) == [("gpt-4", "1")]
    assert round(spend["gpt-4", "1"] * 1e9) == sum(r["cost"] for r in rows) == spend_nano


def _channel(row: dict) -> str:
    return "" if row["channel_id"] is None else str(row["channel_id"])


def _flag(row: dict) -> str:
    return "true" if row["stream"] else "false"


async def test_an_open_stream_is_in_flight_until_it_ends(tmp_path, upstream) -> None:
    upstream.chunks, upstream.chunk_delay = 3, 0.5  # the stream stays open about a second
    async with running_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(api_key=router.key, base_url=router.base_url)
        stream = await client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
        first = await anext(aiter(stream))
        during = await scrape(router.base_url)
        rest = [chunk async for chunk in stream]
        await client.close()
        after = await scrape(router.base_url)
    assert first.choices and rest
    assert values(during, "burncloud_in_flight_requests") == {(): 1}
    assert values(during, "burncloud_requests_total", "status") == {}
    assert values(after, "burncloud_in_flight_requests") == {(): 0}
    assert values(after, "burncloud_requests_total", "status") == {("200",): 1}


def test_channel_states_follow_the_configuration() -> None:
    metrics = RouterMetrics()
    metrics.set_channel_states({1: True, 2: False, 3: True})
    assert _channel_up(metrics) == {("1",): 1, ("2",): 0, ("3",): 1}
    metrics.set_channel_states({1: False, 2: True})  # 3 was deleted
    assert _channel_up(metrics) == {("1",): 0, ("2",): 1, ("3",): 0}


def _channel_up(metrics: RouterMetrics) -> dict[tuple[str, ...], float]:
    return values(samples(metrics.render().decode()), "burncloud_channel_up", "channel")


def test_client_chosen_model_names_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_module, "MAX_MODELS", 2)
    metrics = RouterMetrics()
    for model in ("gpt-4", "gpt-4o", "made-up-1", "made-up-2", "gpt-4"):
        metrics.request_started()
        metrics.request_finished(model, 1, "chat.completions", 200, False, 10, 0, 300, 0.2, 0.1)
    scraped = samples(metrics.render().decode())
    by_model = {("gpt-4",): 2, ("gpt-4o",): 1, ("(other)",): 2}
    assert values(scraped, "burncloud_requests_total", "model") == by_model
    assert values(scraped, "burncloud_ttft_seconds_count", "model") == by_model
    tokens = values(scraped, "burncloud_tokens_total", "model", "direction")
    assert tokens == {(m, "input"): 10 * n for (m,), n in by_model.items()} | {
        (m, "output"): 0 for (m,) in by_model
    }
    assert values(scraped, "burncloud_in_flight_requests") == {(): 0}


async def test_a_metrics_token_guards_the_scrape() -> None:
    metrics = RouterMetrics()
    metrics.set_channel_states({7: True})
    app = MetricsEndpoint(metrics, token="scrape-secret")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as http:
        missing = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.json()["error"]["code"] == "invalid_token"
    assert values(samples(right.text), "burncloud_channel_up", "channel") == {("7",): 1}


def test_the_multiprocess_directory_is_fresh_exported_and_removed(monkeypatch) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_dir(1) as none:
        assert none is None and MULTIPROC_ENV not in os.environ
    with multiprocess_dir(2) as path:
        assert path is not None and path.is_dir() and not any(path.iterdir())
        assert os.environ[MULTIPROC_ENV] == str(path)
    assert not path.exists() and MULTIPROC_ENV not in os.environ


# Two worker processes: the scrape, answered by either, sums both workers' files.


@pytest.mark.slow
def test_two_workers_counts_are_summed_across_workers(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path}/metrics.db"
    with running_fake_openai(
        "sk-canary-upstream-key", prompt_tokens=100, completion_tokens=200
    ) as fake:
        _, key = asyncio.run(seed(db_url, fake))
        with router_process(db_url, workers=2) as (base_url, process):
            directory, sent, scrapes = asyncio.run(
                _until_both_workers_served(base_url, key, process)
            )
        assert not directory.exists()  # the router removed its metric files on exit
    rows = asyncio.run(logged_rows(db_url))
    assert len(rows) == sent and {r["status"] for r in rows} == {200}
    for scraped in scrapes:  # whichever worker answered, the same totals
        requests = values(scraped, "burncloud_requests_total", "model", "channel", "status")
        assert requests == {("gpt-4", "1", "200"): sent, ("", "", "401"): 1}  # 401: no log row
        _assert_tokens_and_spend(scraped, rows, 100 * sent, 200 * sent, COST * sent)
        assert values(scraped, "burncloud_in_flight_requests") == {(): 0}
        assert values(scraped, "burncloud_channel_up", "channel") == {("1",): 1}


async def _until_both_workers_served(
    base_url: str, key: str, process
) -> tuple[Path, int, list[Samples]]:
    """Send rounds of 40 concurrent requests, each round on fresh connections (kept-alive
    ones would stay with the worker that accepted them), until each worker has counted
    some (at most 25 rounds); the metrics directory, how many were sent, four scrapes."""
    workers = _children(process.pid)
    assert len(workers) == 2
    directory = Path(_environ(workers[0])[MULTIPROC_ENV])
    sent = 0
    for _ in range(25):
        async with openai.AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0) as client:
            await _concurrently(40, lambda client=client: _chat(client))
        sent += 40
        if all((directory / f"counter_{pid}.db").exists() for pid in workers):
            break
    else:
        pytest.fail(f"one worker served none of {sent} requests on fresh connections")
    async with openai.AsyncOpenAI(api_key="sk-wrong", base_url=base_url, max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            await _chat(bad)
    return directory, sent, [await scrape(base_url) for _ in range(4)]


async def _chat(client: openai.AsyncOpenAI) -> None:
    await client.chat.completions.create(model="gpt-4", messages=MESSAGES)


async def _concurrently(count: int, call: Callable[[], Awaitable[None]]) -> None:
    await asyncio.gather(*(call() for _ in range(count)))


def _children(pid: int) -> list[int]:
    """The worker processes of the router ``pid``."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    children = [int(child) for child in text.split()]
    worker = b"burncloud.serving.worker"
    return [c for c in children if worker in Path(f"/proc/{c}/cmdline").read_bytes()]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
