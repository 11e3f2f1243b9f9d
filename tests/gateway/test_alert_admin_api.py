"""/api/alerts: add (a generated secret shown once), list, show, test, the delivery log and
delete; wrong fields and refused addresses are OpenAI-shaped 400s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from burncloud.services.alerts.signing import verify
from tests.admin.conftest import client
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import RunningRouter, running_router
from tests.services.alerts.receiver import WebhookReceiver


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[RunningRouter]:
    async with FakeOpenAI() as fake, running_router(tmp_path, fake) as running:
        yield running


@pytest.fixture
async def admin(router: RunningRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with client(router, router.admin_key) as http:
        yield http


async def test_an_alert_round_trip(admin: httpx.AsyncClient) -> None:
    async with WebhookReceiver() as receiver:
        created = await admin.post(
            "/api/alerts",
            json={"url": receiver.url, "events": ["budget", "fleet"], "thresholds": [80, "100"]},
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        secret = hook.pop("secret")
        assert secret.startswith("whsec_")
        assert hook["url"] == f"{receiver.url.removesuffix('/hook')}/..."
        assert (hook["events"], hook["thresholds"], hook["signed"]) == (
            ["budget", "fleet"],
            [80, 100],
            True,
        )
        assert (await admin.get("/api/alerts")).json() == {"data": [hook]}
        assert (await admin.get(f"/api/alerts/{hook['id']}")).json() == hook
        tested = await admin.post(f"/api/alerts/{hook['id']}/test")
        assert tested.status_code == 200, tested.text
        assert tested.json()["delivered"] is True and tested.json()["http_status"] == 200
        [sent] = receiver.received
        assert sent.event == "test"
        assert verify(
            secret, sent.headers["X-Burncloud-Signature"], sent.body, int(sent.json()["created_at"])
        )
    log = (await admin.get("/api/alerts/log", params={"alert": hook["id"]})).json()["data"]
    assert [(d["event"], d["status"], d["result"]) for d in log] == [
        ("test", "delivered", "HTTP 200")
    ]
    assert (await admin.get("/api/alerts/log", params={"status": "failed"})).json() == {"data": []}
    gone = await admin.delete(f"/api/alerts/{hook['id']}")
    assert gone.json() == {"id": hook["id"], "deleted": True, "pending_dropped": 0}
    assert (await admin.get("/api/alerts")).json() == {"data": []}
    assert secret not in (await admin.get("/api/alerts/log")).text


async def test_a_failed_test_delivery_is_reported_and_left_to_retry(
    admin: httpx.AsyncClient,
) -> None:
    async with WebhookReceiver(fail_first=1) as receiver:
        hook = (
            await admin.post(
                "/api/alerts", json={"url": receiver.url, "events": "fleet", "format": "slack"}
            )
        ).json()
        assert "secret" not in hook and hook["signed"] is False
        tested = (await admin.post(f"/api/alerts/{hook['id']}/test")).json()
    assert (tested["delivered"], tested["status"], tested["http_status"]) == (False, "pending", 500)
    assert tested["error"] == "HTTP 500: nope"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        (
            "POST",
            "/api/alerts",
            {"url": "http://127.0.0.1:9/", "events": "weather"},
            400,
            "unknown event",
        ),
        ("POST", "/api/alerts", {"url": "http://127.0.0.1:9/"}, 400, "name at least one event"),
        ("POST", "/api/alerts", {"events": "fleet"}, 400, "url is required"),
        (
            "POST",
            "/api/alerts",
            {"url": "http://169.254.169.254/", "events": "fleet"},
            400,
            "webhook URL host 169.254.169.254",
        ),
        (
            "POST",
            "/api/alerts",
            {"url": "http://127.0.0.1:9/", "events": "budget", "thresholds": [True]},
            400,
            "thresholds must be",
        ),
        (
            "POST",
            "/api/alerts",
            {"url": "http://127.0.0.1:9/", "events": "fleet", "colour": "red"},
            400,
            "unknown field 'colour'",
        ),
        ("GET", "/api/alerts/99", None, 404, "no alert with id 99"),
        ("DELETE", "/api/alerts/99", None, 404, "no alert with id 99"),
        ("POST", "/api/alerts/99/test", None, 404, "no alert with id 99"),
        ("GET", "/api/alerts/log?status=lost", None, 400, "status must be one of"),
        ("GET", "/api/alerts/log?limit=0", None, 400, "limit must be from 1 to 1000"),
    ],
)
async def test_wrong_requests_get_an_openai_shaped_error(
    admin: httpx.AsyncClient, method: str, path: str, body: dict | None, status: int, message: str
) -> None:
    answer = await admin.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert message in error["message"] and set(error) == {"message", "type", "code"}
