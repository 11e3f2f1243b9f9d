"""Secrets: keys rest as hashes or ciphertexts, a fresh install has no default credentials,
and a channel key never leaves burncloud, whatever the upstream echoes and at DEBUG.

Canary channel keys (``sk-canary-<random>``) go to openai, anthropic, gemini and azure
channels; then the answers to traffic (answers and streams through every door, upstream
500s, upstream 401s that auto-disable their channel, and its probes), every admin GET route,
the channel writes, /metrics and the CLI are searched for the key, URL-encoded and in
base64, as is every log record of the test and the stderr of a `burncloud router` at
LOG_LEVEL=debug. Upstream errors that quote the key get a test of their own.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import secrets
import sqlite3
import sys
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from aiohttp import web
from typer.testing import CliRunner

from burncloud.cli.app import app as cli_app
from burncloud.config import Settings
from burncloud.crypto import SecretBox, hash_secret
from burncloud.db import Database, open_database, parse_database_url
from burncloud.server import create_app
from burncloud.services.admin_keys import create_admin_key, rotate_admin_key
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.channel_keys import usable_key
from burncloud.services.channels import add_channel
from burncloud.services.tokens import create_token
from tests.admin.conftest import eventually
from tests.conftest import CANARY_PREFIX
from tests.fakes import FakeOpenAI
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.azure_upstream import FakeAzure
from tests.fakes.gemini_upstream import FakeGemini
from tests.gateway.quota_db import BACKENDS, database_factory
from tests.gateway.router_harness import SECRET, free_port, running_router, seed, wait_for_reload
from tests.gateway.router_process import _run
from tests.security.test_route_matrix import admin_key, served_routes

BOX = SecretBox.from_passphrase(SECRET)
TYPES = ("openai", "anthropic", "gemini", "azure")
KEY_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")
FIXED_GUESSES = [
    "admin", "password", "changeme", "123456", "root", "burncloud", "sk-admin", "sk-1234",
    "sk-burncloud", "sk-" + "0" * 48, "null",
]  # fmt: skip
MESSAGES = [{"role": "user", "content": "hi"}]


def canary(kind: str) -> str:
    return f"{CANARY_PREFIX}{kind}-{secrets.token_hex(12)}"


def key_forms(key: str) -> set[str]:
    """The key as sent, URL-encoded and in base64 (both alphabets, without padding)."""
    raw = key.encode()
    b64 = (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode())
    return {key, quote(key, safe=""), *(form.rstrip("=") for form in b64)}


def leaked(text: str, keys: Iterable[str]) -> set[str]:
    """The forms of ``keys`` (and the bare canary prefix) that ``text`` holds."""
    forms = {CANARY_PREFIX, base64.b64encode(CANARY_PREFIX.encode()).decode()[:12]}
    forms |= {form for key in keys for form in key_forms(key)}
    return {form for form in forms if form in text}


def seen(response: httpx.Response) -> str:
    """Everything a client gets: status line, headers and body."""
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    return f"{response.status_code}\n{headers}\n{response.text}"


class KeyEcho:
    """An upstream that fails every request with the status its base URL names: base URL
    ``/500n`` answers 500 with a plain error, ``/400q`` answers 400 with an error quoting the
    key it was sent (raw, URL-encoded and base64), in a body that the OpenAI, Anthropic and
    Gemini error parsers all read."""

    def __init__(self) -> None:
        self.requests = 0
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def url(self, status: int, quote_key: bool = False) -> str:
        return f"{self.base_url}/{status}{'q' if quote_key else 'n'}"

    async def _answer(self, request: web.Request) -> web.Response:
        self.requests += 1
        mode = request.path.split("/")[1]
        status, quote_key = int(mode[:3]), mode.endswith("q")
        key = next((request.headers[h] for h in KEY_HEADERS if h in request.headers), "")
        key = key.removeprefix("Bearer ")
        message = "the upstream failed"
        if quote_key:
            encoded = base64.b64encode(key.encode()).decode()
            message = f"Incorrect API key provided: {key} ({quote(key, safe='')}, {encoded})"
        kind = "invalid_request_error" if status < 500 else "api_error"
        code = "INVALID_ARGUMENT" if status < 500 else "INTERNAL"
        error = {"type": kind, "message": message, "code": "bad_key", "status": code}
        return web.json_response({"type": "error", "error": error}, status=status)

    async def __aenter__(self) -> KeyEcho:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


# Keys at rest.


async def _dump_tables(db: Database) -> bytes:
    """Every row of every table, as JSON."""
    if db.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT table_name AS name FROM information_schema.tables"
        sql += " WHERE table_schema = current_schema()"
    tables = [row["name"] for row in await db.fetch_all(sql)]
    assert {"tokens", "channels", "users"} <= set(tables)
    rows = {table: await db.fetch_all(f'SELECT * FROM "{table}"') for table in tables}
    return orjson.dumps(rows, default=str)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_admin_and_api_keys_rest_hashed_and_channel_keys_encrypted(backend, tmp_path):
    channel_key = canary("at-rest")
    async with database_factory(backend, tmp_path) as connect:
        db = await connect()
        first = await ensure_admin(db)
        assert first is not None and await ensure_admin(db) is None
        rotated = (await rotate_admin_key(db)).key
        _, api_key = await create_token(db, "app")
        channel = await add_channel(db, BOX, type="openai", name="c", key=channel_key, models=["m"])
        dump = await _dump_tables(db)
        hashes = {row["key_hash"] for row in await db.fetch_all("SELECT key_hash FROM tokens")}
        stored_key = (await usable_key(db, BOX, channel.id)).key
    for key in (first, rotated, api_key, channel_key):
        assert key[3:].encode() not in dump
    assert hashes == {hash_secret(rotated), hash_secret(api_key)}
    assert stored_key == channel_key
    if backend == "sqlite":  # the file itself, with its write-ahead log
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*"))
        assert hash_secret(rotated).encode() in stored
        for key in (first, rotated, api_key, channel_key):
            assert key[3:].encode() not in stored


# No default credentials.


async def _fresh_start(db_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    app = create_app(Settings(database_url=db_url, secret=SECRET, config_poll_seconds=0.1))
    await app.runtime.start()
    await app.control.startup()
    return app, capsys.readouterr().err


async def _stop(app: Any) -> None:
    await app.control.shutdown()
    await app.runtime.stop()


async def test_a_fresh_database_gets_one_random_admin_key_printed_once(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # shown on a terminal only
    printed: list[str] = []
    for name in ("one", "two"):
        app, stderr = await _fresh_start(f"sqlite:///{tmp_path}/{name}.db", capsys)
        printed += re.findall(r"sk-[A-Za-z0-9]{48}", stderr)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://router"
        ) as http:
            refused = [
                await http.get(path, headers={"Authorization": f"Bearer {guess}"})
                for guess in FIXED_GUESSES
                for path in ("/api/users", "/v1/models")
            ]
            admin = await http.get("/api/users", headers={"Authorization": f"Bearer {printed[-1]}"})
        await _stop(app)
        assert {r.status_code for r in refused} == {401}
        assert admin.status_code == 200 and [u["name"] for u in admin.json()["data"]] == ["admin"]
    again, stderr = await _fresh_start(f"sqlite:///{tmp_path}/one.db", capsys)
    await _stop(again)
    assert len(printed) == 2 and printed[0] != printed[1]
    assert "sk-" not in stderr


async def test_no_table_holds_a_password(db: Database) -> None:
    columns = await db.fetch_all("SELECT name FROM pragma_table_info('users')")
    assert not any("pass" in row["name"] for row in columns)
    assert await db.fetch_value("SELECT COUNT(*) FROM users") == 0


# Canary keys: never in a response, a log record, a metric or CLI output.


@asynccontextmanager
async def canary_upstreams(keys: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
    """The fakes, each wanting its canary key, and the key-echoing upstream."""
    async with (
        FakeOpenAI(keys["openai"]) as openai_fake,
        FakeAnthropic(keys["anthropic"]) as anthropic_fake,
        FakeGemini(keys["gemini"]) as gemini_fake,
        FakeAzure(keys["azure"]) as azure_fake,
        KeyEcho() as echo,
    ):
        yield {
            "openai": openai_fake,
            "anthropic": anthropic_fake,
            "gemini": gemini_fake,
            "azure": azure_fake,
            "echo": echo,
        }


Route = tuple[str, str, "str | None"]  # channel type, base URL, key (None: a new canary)


async def add_channels(db_url: str, routes: dict[str, Route]) -> list[str]:
    """One channel per model, named after it; the keys they were given."""
    keys = []
    db = await open_database(db_url)
    try:
        for model, (kind, url, key) in routes.items():
            keys.append(key or canary(model))
            await add_channel(
                db, BOX, type=kind, name=model, key=keys[-1], models=[model],
                base_url=url.removesuffix("/v1") + ("/v1" if kind == "openai" else ""),
                config={"deployment": "gpt-4"} if kind == "azure" else {},
            )  # fmt: skip
    finally:
        await db.close()
    return keys


async def add_canary_channels(db_url: str, fakes: dict[str, Any]) -> list[str]:
    """Per type: ``<type>-ok`` to its fake, ``<type>-500`` and ``<type>-401`` to the echo
    (channel 1, the openai fake's, serves ``gpt-4``); their keys."""
    routes: dict[str, Route] = {}
    for kind in TYPES:
        routes[f"{kind}-ok"] = (kind, fakes[kind].base_url, fakes[kind].key)
        for status in (500, 401):
            routes[f"{kind}-{status}"] = (kind, fakes["echo"].url(status), None)
    return await add_channels(db_url, routes)


async def drive_traffic(http: httpx.AsyncClient) -> list[httpx.Response]:
    """Answers and streams from every type through each door, then upstream 500s, then
    upstream 401s (which auto-disable their channels)."""
    replies = [await http.post("/v1/embeddings", json={"model": "gpt-4", "input": "hi"})]
    gemini = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    for outcome in ("ok", "500", "401"):
        for kind in TYPES:
            model = f"{kind}-{outcome}"
            for stream in (False, True):
                body = {"model": model, "messages": MESSAGES, "stream": stream}
                replies.append(await http.post("/v1/chat/completions", json=body))
            native = {"model": model, "max_tokens": 8, "messages": MESSAGES}
            replies.append(await http.post("/v1/messages", json=native))
            path = f"/v1beta/models/{model}:streamGenerateContent?alt=sse"
            replies.append(await http.post(path, json=gemini))
    return replies


GET_SAMPLES = {"model": "gpt-4", "name": "default", "user_ref": "admin"}


def admin_get_paths(channel_ids: list[int]) -> list[str]:
    """Every GET route of the app, with each channel's id, token 1 and real names."""
    paths = []
    for method, pattern in served_routes():
        if method != "GET":
            continue
        if "<int:channel_id>" in pattern:
            paths += [pattern.replace("<int:channel_id>", str(i)) for i in channel_ids]
            continue
        path = re.sub(r"<int:[^>]+>", "1", pattern)
        paths.append(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: GET_SAMPLES.get(m[1], "x"), path))
    return paths


async def admin_sweep(http: httpx.AsyncClient) -> tuple[list[dict], list[httpx.Response]]:
    """The channel list, then every GET route and the channel writes (one sets a new
    canary key, one adds a channel with one)."""
    listed = await http.get("/api/channels")
    channels = listed.json()["data"]
    ids = [channel["id"] for channel in channels]
    replies = [listed, *[await http.get(path) for path in admin_get_paths(ids)]]
    replies.append(await http.patch(f"/api/channels/{ids[0]}", json={"key": canary("new")}))
    replies.append(await http.post(f"/api/channels/{ids[-1]}/disable", json={"reason": "x"}))
    replies.append(await http.post(f"/api/channels/{ids[-1]}/enable"))
    added = {"type": "openai", "name": "n", "key": canary("added"), "models": "m"}
    replies.append(await http.post("/api/channels", json=added))
    return channels, replies


def cli_outputs(db_url: str, channel_ids: list[int]) -> list[str]:
    """What `channel list/show/test/add`, `log list` print (tests reach the upstreams).
    Each command runs its own event loop: call this in a thread from async tests."""
    runner = CliRunner()
    env = {"DATABASE_URL": db_url, "BURNCLOUD_SECRET": SECRET}
    commands = [["channel", "list"], ["channel", "list", "--json"], ["log", "list", "--json"]]
    for channel_id in channel_ids:
        commands.append(["channel", "show", str(channel_id), "--json"])
        commands.append(["channel", "test", str(channel_id), "--json"])
    add = ["channel", "add", "--type", "openai", "--name", "c", "--models", "m"]
    commands.append([*add, "--key", canary("cli"), "--json"])
    results = [(command, runner.invoke(cli_app, command, env=env)) for command in commands]
    failed = [(c, r.output) for c, r in results if r.exit_code != 0 and c[1] != "test"]
    assert failed == []  # a failing `channel test` exits 1 with its error
    return [result.stdout + result.stderr for _, result in results]


def stored_keys(db_url: str) -> list[str]:
    """Every channel key the database holds, decrypted."""
    with closing(sqlite3.connect(parse_database_url(db_url).sqlite_path)) as conn:
        rows = conn.execute("SELECT key_enc FROM channel_keys").fetchall()
    return [BOX.decrypt(row[0]) for row in rows]


def record_text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text


def leaks_in(
    replies: list[httpx.Response], outputs: list[str], records: list[logging.LogRecord],
    keys: list[str],
) -> dict[str, list[set[str]]]:  # fmt: skip
    """Where any form of ``keys`` shows up; empty lists when nowhere."""
    found = {
        "responses": [leaked(seen(r), keys) for r in replies],
        "cli": [leaked(output, keys) for output in outputs],
        "logs": [leaked(record_text(record), keys) for record in records],
    }
    return {where: [forms for forms in all_forms if forms] for where, all_forms in found.items()}


def debug_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("burncloud").setLevel(logging.DEBUG)


async def test_canary_keys_never_reach_responses_logs_metrics_or_the_cli(tmp_path, caplog):
    debug_logging(caplog)
    keys = {kind: canary(kind) for kind in TYPES}
    async with (
        canary_upstreams(keys) as fakes,
        running_router(
            tmp_path, fakes["openai"], allow_free_models=True, failover_attempts=1,
            probe_seconds=0.1,
        ) as router,
    ):  # fmt: skip
        every_key = [*keys.values(), *await add_canary_channels(router.db_url, fakes)]
        await wait_for_reload(router)
        root = router.base_url.removesuffix("/v1")
        auth = {"Authorization": f"Bearer {router.key}"}
        admin_auth = {"Authorization": f"Bearer {await admin_key(router, relay=True)}"}
        async with (
            httpx.AsyncClient(base_url=root, headers=auth, timeout=10) as http,
            httpx.AsyncClient(base_url=root, headers=admin_auth, timeout=10) as admin,
        ):
            replies = await drive_traffic(http)
            probed = fakes["echo"].requests
            await eventually(lambda: _more(fakes["echo"], probed))  # disabled ones are probed
            channels, admin_replies = await admin_sweep(admin)
            metrics = await http.get("/metrics")
        ids = [channel["id"] for channel in channels]
        outputs = await asyncio.to_thread(cli_outputs, router.db_url, ids)
        every_key += stored_keys(router.db_url)
    ok = [r.status_code for r in replies[: 1 + 4 * len(TYPES)]]
    assert ok == [200] * len(ok), [r.text for r in replies if r.status_code != 200][:3]
    disabled = {c["name"] for c in channels if c["status"] == "auto_disabled"}
    assert disabled == {f"{kind}-401" for kind in TYPES}
    assert "burncloud_channel_up" in metrics.text
    written = {key.split("-")[2] for key in every_key}  # keys set by the admin API and CLI
    assert {"new", "added", "cli"} <= written, written
    everything = [*replies, *admin_replies, metrics]
    assert leaks_in(everything, outputs, caplog.records, every_key) == {
        "responses": [],
        "cli": [],
        "logs": [],
    }


async def test_an_upstream_error_quoting_the_key_is_masked_everywhere(tmp_path, caplog):
    debug_logging(caplog)
    async with (
        KeyEcho() as echo,
        FakeOpenAI(canary("unused")) as unused,
        running_router(tmp_path, unused, allow_free_models=True, failover_attempts=1) as router,
    ):
        routes: dict[str, Route] = {
            f"{kind}-{status}": (kind, echo.url(status, quote_key=True), None)
            for kind in TYPES
            for status in (400, 404, 429, 500)
        }
        keys = await add_channels(router.db_url, routes)
        await wait_for_reload(router)
        root = router.base_url.removesuffix("/v1")
        auth = {"Authorization": f"Bearer {router.key}"}
        async with httpx.AsyncClient(base_url=root, headers=auth, timeout=10) as http:
            replies = []
            for model in routes:
                body = {"model": model, "messages": MESSAGES}
                replies.append(await http.post("/v1/chat/completions", json=body))
            native = {"model": "anthropic-400", "max_tokens": 8, "messages": MESSAGES}
            replies.append(await http.post("/v1/messages", json=native))
            admin_auth = {"Authorization": f"Bearer {router.admin_key}"}
            replies.append(await http.get("/api/logs", headers=admin_auth))
        ids = list(range(2, 2 + len(routes)))
        outputs = await asyncio.to_thread(cli_outputs, router.db_url, ids)
    assert echo.requests >= 2 * len(routes)  # each one reached by the relay and by the test
    assert replies[-1].status_code == 200  # the admin API's logs were read, not refused
    assert leaks_in(replies, outputs, caplog.records, keys) == {
        "responses": [],
        "cli": [],
        "logs": [],
    }


async def _more(echo: KeyEcho, than: int) -> bool:
    return echo.requests > than


@contextmanager
def debug_router(db_url: str) -> Iterator[tuple[str, list[str]]]:
    """`burncloud router` at LOG_LEVEL=debug; its stderr lands in the yielded list once it
    has stopped."""
    stderr: list[str] = []
    env = {
        **os.environ,
        "BURNCLOUD_SECRET": SECRET,
        "LOG_LEVEL": "debug",
        "BURNCLOUD_ALLOW_FREE_MODELS": "true",
        "BURNCLOUD_FAILOVER_ATTEMPTS": "1",
        "BURNCLOUD_PROBE_SECONDS": "0.1",
        "BURNCLOUD_STATE_FILE": f"{parse_database_url(db_url).sqlite_path}.state",
    }
    with tempfile.TemporaryFile() as log:
        with contextmanager(_run)(db_url, free_port(), env, log, 1, 5.0) as (base_url, _):
            yield base_url, stderr
        log.seek(0)
        stderr.append(log.read().decode(errors="replace"))


async def _relaying_admin_key(db_url: str) -> str:
    """An admin key that relays too, so the admin sweep's GETs of /v1/... answer."""
    db = await open_database(db_url)
    try:
        return (await create_admin_key(db, "sweep", relay=True))[1]
    finally:
        await db.close()


@pytest.mark.slow
async def test_a_debug_router_process_logs_no_canary_key(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path}/router.db"
    keys = {kind: canary(kind) for kind in TYPES}
    async with canary_upstreams(keys) as fakes:
        _, api_key = await seed(db_url, fakes["openai"])
        sweeper = await _relaying_admin_key(db_url)
        every_key = [*keys.values(), *await add_canary_channels(db_url, fakes)]
        with debug_router(db_url) as (base_url, stderr):
            auth = {"Authorization": f"Bearer {api_key}"}
            admin_auth = {"Authorization": f"Bearer {sweeper}"}
            root = base_url.removesuffix("/v1")
            async with (
                httpx.AsyncClient(base_url=root, headers=auth, timeout=10) as http,
                httpx.AsyncClient(base_url=root, headers=admin_auth, timeout=10) as admin,
            ):
                replies = await drive_traffic(http)
                probed = fakes["echo"].requests
                await eventually(lambda: _more(fakes["echo"], probed))
                replies += (await admin_sweep(admin))[1]
                replies.append(await http.get("/metrics"))
        every_key += stored_keys(db_url)
    assert " DEBUG " in stderr[0] and "auto-disabled" in stderr[0]  # it did log, at DEBUG
    assert leaks_in(replies, stderr, [], every_key) == {"responses": [], "cli": [], "logs": []}
