"""One attempt over HTTP against real servers on 127.0.0.1: headers, signature, masked
reasons, no redirects, a time limit, the address guard at send and at connect time, and
hooks sent side by side."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from burncloud.db import Database
from burncloud.errors import InvalidRequest, NotFound
from burncloud.gateway.egress.upstream_guard import UpstreamResolver
from burncloud.services.alerts import hooks
from burncloud.services.alerts.delivery import Courier, open_session
from burncloud.services.alerts.events import Event
from burncloud.services.alerts.hooks import UrlCheck
from burncloud.services.alerts.outbox import Due, claim_due, raise_alone
from burncloud.services.alerts.signing import verify
from tests.services.alerts.conftest import BOX, T0
from tests.services.alerts.receiver import serving

SECRET = "whsec_delivery-test-secret"
PATH = "/services/PATH-SECRET-123456"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session() as opened:
        yield opened


def courier(
    session: aiohttp.ClientSession, timeout: float = 5.0, check_url: UrlCheck | None = None
) -> Courier:
    return Courier(session, BOX, "router-a", timeout, 30, check_url=check_url, clock=lambda: T0)


async def _due(db: Database, url: str) -> Due:
    await hooks.add_hook(db, BOX, url=url, events="fleet", secret=SECRET)
    await raise_alone(db, Event("fleet", "fleet:1", "Router a joined the fleet.", {"n": 1}), T0)
    [due] = await claim_due(db, "router-a", T0, 30, 10)
    return due


async def _row(db: Database) -> dict:
    row = await db.fetch_one("SELECT * FROM alert_deliveries")
    assert row is not None
    return row


async def test_a_delivery_is_posted_signed_with_the_event_id(
    db: Database, session: aiohttp.ClientSession
) -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def accept(request: web.Request) -> web.Response:
        seen.append((request.path, dict(request.headers), await request.read()))
        return web.Response(status=200)

    async with serving(accept) as base:
        due = await _due(db, base + PATH)
        assert await courier(session).deliver(db, due) == "delivered"
    [(path, headers, body)] = seen
    assert path == PATH
    assert headers["X-Burncloud-Event-Id"] == str(due.event.id)
    assert headers["X-Burncloud-Event"] == "fleet"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("burncloud-alerts/")
    assert verify(SECRET, headers["X-Burncloud-Signature"], body, T0)
    assert orjson.loads(body)["text"] == "Router a joined the fleet."
    row = await _row(db)
    assert (row["status"], row["last_status"], row["finished_at"]) == ("delivered", 200, T0)


async def test_a_refusal_is_recorded_with_what_is_secret_masked(
    db: Database, session: aiohttp.ClientSession
) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=403, text=f"bad token for {request.url} with {SECRET}")

    async with serving(echo) as base:
        due = await _due(db, base + PATH)
        assert await courier(session).deliver(db, due) == "pending"
    row = await _row(db)
    assert row["last_status"] == 403
    assert row["last_error"].startswith(f"HTTP 403: bad token for {base}")
    assert "PATH-SECRET" not in row["last_error"] and SECRET not in row["last_error"]
    assert row["next_attempt_at"] > T0


async def test_a_redirect_is_not_followed(db: Database, session: aiohttp.ClientSession) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/")

    async with serving(redirect) as base:
        outcome = await courier(session).attempt(await _due(db, base + PATH))
    assert (outcome.delivered, outcome.status) == (False, 302)
    assert outcome.error == "HTTP 302 (a redirect: alerts follow none)"


async def test_a_webhook_that_does_not_answer_in_time_fails_the_attempt(
    db: Database, session: aiohttp.ClientSession
) -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response()

    async with serving(hang) as base:
        outcome = await courier(session, timeout=0.2).attempt(await _due(db, base + PATH))
    assert (outcome.delivered, outcome.error) == (False, "no answer within 0.2 s")


async def test_a_closed_port_is_a_failed_attempt(
    db: Database, session: aiohttp.ClientSession
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcome = await courier(session).attempt(await _due(db, f"http://127.0.0.1:{port}{PATH}"))
    assert not outcome.delivered
    assert outcome.error.startswith(f"could not connect to 127.0.0.1:{port}: [Errno 111]")
    assert "PATH-SECRET" not in outcome.error


async def test_the_address_guard_is_asked_again_before_each_attempt(
    db: Database, session: aiohttp.ClientSession
) -> None:
    asked: list[str] = []

    async def guard(url: str) -> None:
        asked.append(url)
        raise InvalidRequest("base URL host hooks.example.com resolves to 169.254.169.254")

    due = await _due(db, "https://hooks.example.com" + PATH)
    outcome = await courier(session, check_url=guard).attempt(due)
    assert asked == ["https://hooks.example.com" + PATH]
    assert outcome.error == "webhook URL host hooks.example.com resolves to 169.254.169.254"


class Rebinding(AbstractResolver):
    """A name that resolves to the cloud metadata address by the time we connect."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "169.254.169.254",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        pass


async def test_a_name_resolving_to_a_refused_address_at_connect_time_is_refused(
    db: Database,
) -> None:
    due = await _due(db, "http://rebind.example" + PATH)
    async with open_session(UpstreamResolver(False, inner=Rebinding())) as guarded:
        outcome = await courier(guarded).attempt(due)
    assert not outcome.delivered
    assert "host rebind.example resolves to an address that is not allowed" in outcome.error


async def test_due_deliveries_are_sent_side_by_side(
    db: Database, session: aiohttp.ClientSession
) -> None:
    started: list[str] = []
    slow_done = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        started.append(request.path)
        if request.path == "/slow":
            await asyncio.sleep(0.3)
            slow_done.set()
        else:
            assert not slow_done.is_set()  # started while the slow one was still waiting
        return web.Response(status=204)

    async with serving(handler) as base:
        for path in ("/slow", "/fast"):
            await hooks.add_hook(db, BOX, url=base + path, events="fleet")
        await raise_alone(db, Event("fleet", "fleet:1", "Router a joined."), T0)
        assert await courier(session).send_due(db) == ["delivered", "delivered"]
    assert sorted(started) == ["/fast", "/slow"]


async def test_alert_test_sends_one_event_to_that_hook_only(
    db: Database, session: aiohttp.ClientSession
) -> None:
    events: list[str] = []

    async def accept(request: web.Request) -> web.Response:
        events.append(request.headers["X-Burncloud-Event"])
        return web.Response(status=200)

    async with serving(accept) as base:
        other, _ = await hooks.add_hook(db, BOX, url=base + "/other", events="all")
        tested, _ = await hooks.add_hook(db, BOX, url=base + PATH, events="fleet", secret=SECRET)
        trial = await courier(session).test(db, tested.id)
        assert (trial.outcome.delivered, trial.status) == (True, "delivered")
        with pytest.raises(NotFound):
            await courier(session).test(db, other.id + 100)
    assert events == ["test"]
    rows = await db.fetch_all("SELECT hook_id, status FROM alert_deliveries")
    assert rows == [{"hook_id": tested.id, "status": "delivered"}]
