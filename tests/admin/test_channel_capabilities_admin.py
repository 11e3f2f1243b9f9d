"""/api/channels/<id>/capabilities and /probe, on the blueprint alone (``admin/blueprint.py``
mounts it under /api/ behind the admin-key check, which its own tests cover)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from quart import Quart

from burncloud.admin.channel_capabilities import channel_capabilities_blueprint
from burncloud.config import Settings
from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import BurncloudError
from burncloud.services import channels
from burncloud.services.audit import AuditFilter, list_changes
from burncloud.services.capabilities import PROBE, CapabilitySpec, set_capabilities
from tests.fakes.model_support import ModelSupport
from tests.fakes.openai_upstream import FakeOpenAI

BOX = SecretBox.from_passphrase("test-secret")
KEY = "sk-canary-admin-probe-0123456789"


@dataclass
class _Runtime:
    """What the blueprint uses of the worker's runtime."""

    db: Database
    secret_box: SecretBox
    settings: Settings


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Quart]:
    app = Quart("test")
    runtime: Any = _Runtime(db, BOX, Settings())
    app.register_blueprint(channel_capabilities_blueprint(runtime), url_prefix="/api")

    @app.errorhandler(BurncloudError)
    async def burncloud_error(error: BurncloudError):  # type: ignore[no-untyped-def]
        return error.to_body(), error.status

    yield app


async def add(db: Database, base_url: str = "http://127.0.0.1:9/v1") -> int:
    channel = await channels.add_channel(
        db, BOX, type="openai", name="main", key=KEY, models=["gpt-4o", "o3"], base_url=base_url
    )
    return channel.id


async def test_put_replaces_the_operators_entries_and_get_shows_what_applies(
    app: Quart, db: Database
) -> None:
    channel_id = await add(db)
    await set_capabilities(db, channel_id, [CapabilitySpec("o3", "reasoning", True)], PROBE)
    client = app.test_client()
    path = f"/api/channels/{channel_id}/capabilities"
    first = await client.put(path, json={"capabilities": {"vision": False, "tools": "false"}})
    assert first.status_code == 200
    second = await client.put(
        path, json={"capabilities": {"vision": "false", "gpt-4o:context": 128000}}
    )
    shown = await (await client.get(path)).get_json()
    assert shown == await second.get_json()
    assert shown["every_model"] == {"vision": False}  # tools went with the first PUT
    assert shown["models"] == {
        "gpt-4o": {"vision": False, "context": 128_000},
        "o3": {"reasoning": True, "vision": False},
    }
    assert [(e["model"], e["name"], e["source"]) for e in shown["entries"]] == [
        (None, "vision", "operator"),
        ("gpt-4o", "context", "operator"),
        ("o3", "reasoning", "probe"),
    ]
    [latest] = await list_changes(db, AuditFilter(kind="channel", object_id=str(channel_id)), 1)
    assert latest.changes == {
        "capability gpt-4o:context": (None, "128000"),
        "capability tools": ("false", None),
    }
    cleared = await client.put(path, json={"capabilities": {}})
    assert [e["source"] for e in (await cleared.get_json())["entries"]] == ["probe"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"capabilities": {"vision": "perhaps"}}, 400, "vision must be true or false"),
        ({"capabilities": {"vision": [True]}}, 400, "must be true, false, a number or a string"),
        ({"capabilities": ["vision=false"]}, 400, "capabilities must be an object"),
        ({"capabilities": {"gpt-5:vision": False}}, 400, "does not serve model 'gpt-5'"),
        ({"vision": False}, 400, "unknown field 'vision'"),
    ],
)
async def test_put_refuses_what_it_cannot_store(
    app: Quart, db: Database, body: dict[str, Any], status: int, says: str
) -> None:
    channel_id = await add(db)
    reply = await app.test_client().put(f"/api/channels/{channel_id}/capabilities", json=body)
    assert reply.status_code == status
    assert says in (await reply.get_json())["error"]["message"]


async def test_an_unknown_channel_is_a_404(app: Quart) -> None:
    reply = await app.test_client().get("/api/channels/42/capabilities")
    assert reply.status_code == 404


async def test_probe_runs_now_and_answers_its_findings(app: Quart, db: Database) -> None:
    async with FakeOpenAI(KEY, support=ModelSupport(tools=False)) as fake:
        channel_id = await add(db, fake.base_url)
        reply = await app.test_client().post(
            f"/api/channels/{channel_id}/probe", json={"model": "gpt-4o"}
        )
    assert reply.status_code == 200
    report = await reply.get_json()
    [model] = report["models"]
    values = {entry["name"]: entry["value"] for entry in model["capabilities"]}
    assert (values["tools"], values["vision"], values["context"]) == (False, True, 128_000)
    shown = await (
        await app.test_client().get(f"/api/channels/{channel_id}/capabilities")
    ).get_json()
    assert shown["models"]["gpt-4o"]["tools"] is False
    assert KEY not in str(report)
