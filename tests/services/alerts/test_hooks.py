"""Webhooks: sealed URL and secret, only the origin shown, checked events, thresholds and
chat ids, and the same address guard as channel base URLs."""

from __future__ import annotations

from typing import Any

import pytest

from burncloud.db import Database
from burncloud.errors import InvalidRequest, NotFound
from burncloud.gateway.egress.upstream_guard import check_base_url
from burncloud.services.alerts import hooks
from burncloud.services.alerts.events import SUBSCRIBABLE, Event
from burncloud.services.alerts.outbox import raise_alone
from tests.services.alerts.conftest import BOX, T0

SLACK_URL = "https://hooks.slack.com/services/T0001/B0002/aaaaSECRETPATHbbbbcccc"
SECRET = "a-signing-secret-of-some-length"


async def _stored_text(db: Database) -> str:
    rows = await db.fetch_all("SELECT * FROM alert_hooks")
    return repr(rows)


async def test_the_url_and_secret_are_sealed_and_only_the_origin_is_shown(db: Database) -> None:
    hook, generated = await hooks.add_hook(
        db, BOX, url=SLACK_URL, events="budget,channel-disabled", format="slack", secret=SECRET
    )
    assert generated is None
    assert (hook.url_hint, hook.signed, hook.events) == (
        "https://hooks.slack.com/...",
        True,
        ("budget", "channel-disabled"),
    )
    stored = await _stored_text(db)
    assert "SECRETPATH" not in stored and SECRET not in stored
    listed = await hooks.list_hooks(db)
    assert [h.to_json() for h in listed] == [hook.to_json()]
    assert "SECRETPATH" not in repr(hook.to_json()) and SECRET not in repr(hook.to_json())
    row = await db.fetch_one("SELECT * FROM alert_hooks WHERE id = :id", {"id": hook.id})
    assert row is not None
    target = hooks.unseal_target(BOX, row)
    assert (target.url, target.secret, target.format) == (SLACK_URL, SECRET, "slack")


async def test_a_json_hook_without_a_secret_gets_one_made_and_shown_once(db: Database) -> None:
    hook, generated = await hooks.add_hook(db, BOX, url="http://127.0.0.1:9/x", events="fleet")
    assert generated is not None and generated.startswith("whsec_") and len(generated) > 40
    assert hook.signed
    assert generated not in await _stored_text(db)
    slack, none = await hooks.add_hook(db, BOX, url=SLACK_URL, events="fleet", format="slack")
    assert none is None and not slack.signed


async def test_all_is_every_event_but_test_and_thresholds_default(db: Database) -> None:
    hook, _ = await hooks.add_hook(db, BOX, url="http://127.0.0.1:9/", events="all")
    assert hook.events == SUBSCRIBABLE and "test" not in hook.events
    assert hook.thresholds == (50, 80, 95, 100)
    chosen, _ = await hooks.add_hook(
        db, BOX, url="http://127.0.0.1:9/", events=["budget"], thresholds="100,80%,80"
    )
    assert chosen.thresholds == (80, 100)
    assert chosen.to_json()["thresholds"] == [80, 100]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"format": "teams"}, "unknown format 'teams'"),
        ({"events": "budget,weather"}, "unknown event 'weather'"),
        ({"events": "test"}, "`alert test ID` sends one to any alert"),
        ({"events": ""}, "name at least one event"),
        ({"events": "fleet", "thresholds": "80"}, "thresholds are for budget alerts"),
        ({"thresholds": "0"}, "threshold '0' is not a percent from 1 to 100"),
        ({"thresholds": "101"}, "threshold '101' is not a percent"),
        ({"thresholds": "eighty"}, "threshold 'eighty' is not a percent"),
        ({"url": "ftp://example.com/hook"}, "starts with http:// or https://"),
        ({"url": "https:///nohost"}, "names a host"),
        ({"url": "https://example.com/a b"}, "no spaces"),
        ({"url": "https://example.com:99999999/"}, "not a valid URL"),
        ({"secret": "short"}, "at least 16 characters"),
        ({"format": "telegram"}, "a telegram alert needs a chat id"),
        ({"format": "telegram", "chat_id": "12; drop"}, "is not a number or an @channel"),
        ({"chat_id": "123"}, "a chat id is for telegram alerts only"),
    ],
)
async def test_a_wrong_field_is_refused_in_one_line(
    db: Database, fields: dict[str, str], message: str
) -> None:
    args: dict[str, Any] = {"url": "https://example.com/hook", "events": "budget", **fields}
    with pytest.raises(InvalidRequest) as refused:
        await hooks.add_hook(db, BOX, **args)
    assert message in refused.value.message and "\n" not in refused.value.message
    assert await hooks.list_hooks(db) == []


async def test_a_telegram_chat_id_comes_from_the_option_or_the_url(db: Database) -> None:
    bot = "https://api.telegram.org/bot123456:ABCDEFsecrettoken/sendMessage"
    from_url, _ = await hooks.add_hook(
        db, BOX, url=f"{bot}?chat_id=-100123&x=1", events="fleet", format="telegram"
    )
    given, _ = await hooks.add_hook(
        db, BOX, url=f"{bot}?chat_id=-1", events="fleet", format="telegram", chat_id="@ops_room"
    )
    assert (from_url.chat_id, given.chat_id) == ("-100123", "@ops_room")
    rows = await db.fetch_all("SELECT * FROM alert_hooks ORDER BY id")
    assert [hooks.unseal_target(BOX, row).url for row in rows] == [f"{bot}?x=1", bot]
    assert from_url.url_hint == "https://api.telegram.org/..."


async def table_dns(host: str) -> list[str]:
    return {"rebind.example": ["169.254.169.254"]}[host]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.google.internal/hook",
        "https://rebind.example/hook",
    ],
)
async def test_webhook_urls_pass_the_channel_address_guard(db: Database, url: str) -> None:
    async def guard(candidate: str) -> None:
        await check_base_url(candidate, False, table_dns)

    with pytest.raises(InvalidRequest) as refused:
        await hooks.add_hook(db, BOX, url=url, events="fleet", check_url=guard)
    assert refused.value.message.startswith("webhook URL host ")
    assert "BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS=1" in refused.value.message
    loopback, _ = await hooks.add_hook(
        db, BOX, url="http://127.0.0.1:8080/hook", events="fleet", check_url=guard
    )
    assert loopback.url_hint == "http://127.0.0.1:8080/..."


async def test_deleting_a_hook_drops_its_pending_deliveries(db: Database) -> None:
    kept, _ = await hooks.add_hook(db, BOX, url="http://127.0.0.1:9/a", events="fleet")
    gone, _ = await hooks.add_hook(db, BOX, url="http://127.0.0.1:9/b", events="fleet")
    await raise_alone(db, Event("fleet", "fleet:x", "Router joined."), T0)
    assert await hooks.delete_hook(db, gone.id) == 1
    left = await db.fetch_all("SELECT hook_id FROM alert_deliveries")
    assert [row["hook_id"] for row in left] == [kept.id]
    assert [h.id for h in await hooks.list_hooks(db)] == [kept.id]
    with pytest.raises(NotFound, match=f"no alert with id {gone.id}"):
        await hooks.delete_hook(db, gone.id)
    with pytest.raises(NotFound):
        await hooks.get_hook(db, 999)
