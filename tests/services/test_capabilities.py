"""Channel capabilities: the spec syntax, which entry wins, what routing is told, and the
stored, audited, announced entries."""

from __future__ import annotations

import re

import pytest

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services import capabilities as caps
from burncloud.services import channels
from burncloud.services.audit import AuditFilter, list_changes
from burncloud.services.capabilities import (
    EVERY_MODEL,
    NO_CAPABILITIES,
    OPERATOR,
    PROBE,
    CapabilityRow,
    CapabilitySpec,
    Needs,
)
from burncloud.services.settings import read_config_version

BOX = SecretBox.from_passphrase("test-secret")
AT = 1_767_225_600


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caps, "now", lambda: AT)


async def add(db: Database, name: str = "main", models: tuple[str, ...] = ("gpt-4o", "o3")):
    return await channels.add_channel(
        db, BOX, type="openai", name=name, key="sk-upstream-0001", models=list(models)
    )


def row(model: str, name: str, value: bool | int, source: str) -> CapabilityRow:
    return CapabilityRow(model, name, value, source, AT)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("vision=false", CapabilitySpec("", "vision", False)),
        ("gpt-4o:vision=YES", CapabilitySpec("gpt-4o", "vision", True)),
        (" tools = on ", CapabilitySpec("", "tools", True)),
        ("context=128k", CapabilitySpec("", "context", 128_000)),
        ("context=1m", CapabilitySpec("", "context", 1_000_000)),
        ("context=32768", CapabilitySpec("", "context", 32_768)),
        ("reasoning=auto", CapabilitySpec("", "reasoning", None)),
        # Bedrock and Ollama ids hold ':': the name is after the last one.
        (
            "anthropic.claude-3-5-sonnet-20240620-v1:0:vision=true",
            CapabilitySpec("anthropic.claude-3-5-sonnet-20240620-v1:0", "vision", True),
        ),
        ("llama3:8b:tools=0", CapabilitySpec("llama3:8b", "tools", False)),
    ],
)
def test_specs_name_a_model_or_every_model(text: str, spec: CapabilitySpec) -> None:
    assert caps.parse_spec(text) == spec


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("vision", "use NAME=VALUE or MODEL:NAME=VALUE"),
        ("gpt-4o:=true", "use NAME=VALUE"),
        ("colour=true", "unknown capability 'colour'"),
        ("vision=maybe", "vision must be true or false (or auto), not 'maybe'"),
        ("context=lots", "context must be a token count"),
        ("context=0", "context must be a token count"),
        ("context=200m", "context must be a token count"),
    ],
)
def test_a_malformed_spec_says_what_is_accepted(text: str, says: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(says)):
        caps.parse_spec(text)


def test_the_last_spec_for_a_model_and_name_wins() -> None:
    specs = caps.parse_specs(["vision=false", "gpt-4o:vision=true", "vision=true"])
    assert specs == [CapabilitySpec("", "vision", True), CapabilitySpec("gpt-4o", "vision", True)]


def test_the_operator_wins_over_the_probe_and_a_model_over_every_model() -> None:
    resolved = caps.resolve(
        [
            row("", "vision", True, PROBE),
            row("", "tools", False, PROBE),
            row("gpt-4o", "tools", True, PROBE),
            row("gpt-4o", "context", 128_000, PROBE),
            row("", "context", 8_000, OPERATOR),
            row("gpt-4o", "vision", False, OPERATOR),
            row("o3", "reasoning", True, OPERATOR),
        ]
    )
    assert resolved.of("gpt-4o") == {
        "vision": False,  # the operator's for the model
        "tools": True,  # the probe's for the model over its channel-wide
        "context": 8_000,  # the operator's for every model over the probe's for the model
    }
    assert resolved.of("o3") == {
        "vision": True,
        "tools": False,
        "context": 8_000,
        "reasoning": True,
    }
    assert resolved.of("another") == {"vision": True, "tools": False, "context": 8_000}


def test_only_a_known_lack_rules_a_channel_out() -> None:
    known = caps.resolve([row("", "vision", False, OPERATOR), row("", "context", 8_192, PROBE)])
    images = Needs(("tools", "vision"), 100)
    shortfall = known.unmet("any", images)
    assert shortfall is not None and shortfall.reason == "no image input (vision=false)"
    assert known.unmet("any", Needs(("tools", "reasoning"), 8_192)) is None  # unknown: supported
    long = known.unmet("any", Needs((), 9_000))
    assert long is not None
    assert long.reason == "prompt of about 9000 tokens is over its context of 8192"
    assert NO_CAPABILITIES.unmet("any", images) is None


def test_needs_name_boolean_capabilities_only() -> None:
    assert caps.parse_needs(["vision", " tools", ""], 5_000) == Needs(("tools", "vision"), 5_000)
    assert not caps.parse_needs([])
    with pytest.raises(InvalidRequest, match="unknown need 'context'"):
        caps.parse_needs(["context"])


async def test_set_stores_audits_and_announces(db: Database) -> None:
    channel = await add(db)
    version = await read_config_version(db)
    specs = caps.parse_specs(["vision=false", "gpt-4o:vision=true", "gpt-4o:context=128k"])
    stored = await caps.set_capabilities(db, channel.id, specs)
    assert stored == [
        row(EVERY_MODEL, "vision", False, OPERATOR),
        row("gpt-4o", "context", 128_000, OPERATOR),
        row("gpt-4o", "vision", True, OPERATOR),
    ]
    assert await read_config_version(db) == version + 1
    [entry] = await list_changes(db, AuditFilter(kind="channel", object_id=str(channel.id)), 1)
    assert entry.changes == {
        "capability vision": (None, "false"),
        "capability gpt-4o:context": (None, "128000"),
        "capability gpt-4o:vision": (None, "true"),
    }
    loaded = await caps.load_capabilities(db)
    assert loaded[channel.id].of("gpt-4o") == {"vision": True, "context": 128_000}
    assert loaded[channel.id].of("o3") == {"vision": False}


async def test_a_new_value_replaces_and_auto_removes(db: Database) -> None:
    channel = await add(db)
    await caps.set_capabilities(db, channel.id, caps.parse_specs(["tools=false", "vision=false"]))
    after = await caps.set_capabilities(
        db, channel.id, caps.parse_specs(["tools=true", "vision=auto"])
    )
    assert after == [row("", "tools", True, OPERATOR)]
    [entry] = await list_changes(db, AuditFilter(kind="channel", object_id=str(channel.id)), 1)
    assert entry.changes == {
        "capability tools": ("false", "true"),
        "capability vision": ("false", None),
    }


async def test_the_probe_and_the_operator_keep_their_own_entries(db: Database) -> None:
    channel = await add(db)
    await caps.set_capabilities(db, channel.id, [CapabilitySpec("gpt-4o", "vision", False)], PROBE)
    await caps.set_capabilities(db, channel.id, [CapabilitySpec("gpt-4o", "vision", True)])
    assert {(r.source, r.value) for r in await caps.capability_rows(db, channel.id)} == {
        (PROBE, False),
        (OPERATOR, True),
    }
    replaced = await caps.set_capabilities(db, channel.id, [], OPERATOR, replace=True)
    assert replaced == [row("gpt-4o", "vision", False, PROBE)]
    assert await caps.clear_capabilities(db, channel.id, source=PROBE) == []


async def test_a_spec_names_a_model_of_the_channel(db: Database) -> None:
    channel = await add(db)
    version = await read_config_version(db)
    with pytest.raises(InvalidRequest, match="does not serve model 'gpt-5': its models are gpt-4o"):
        await caps.set_capabilities(db, channel.id, caps.parse_specs(["gpt-5:vision=false"]))
    with pytest.raises(NotFound, match="no channel with id 99"):
        await caps.set_capabilities(db, 99, caps.parse_specs(["vision=false"]))
    with pytest.raises(InvalidRequest, match="no capability given"):
        await caps.set_capabilities(db, channel.id, [])
    assert await read_config_version(db) == version
    assert await caps.capability_rows(db, channel.id) == []


async def test_entries_go_with_their_channel(db: Database) -> None:
    kept, dropped = await add(db, "kept"), await add(db, "dropped")
    for channel in (kept, dropped):
        await caps.set_capabilities(db, channel.id, caps.parse_specs(["vision=false"]))
    await channels.delete_channel(db, dropped.id)
    assert set(await caps.load_capabilities(db)) == {kept.id}


async def test_an_unreadable_stored_entry_is_ignored(db: Database) -> None:
    channel = await add(db)
    await db.execute(
        "INSERT INTO channel_capabilities VALUES (:id, '', 'vision', 'sometimes', 'probe', 0),"
        " (:id, '', 'telepathy', 'true', 'probe', 0)",
        {"id": channel.id},
    )
    assert await caps.load_capabilities(db) == {}


def test_describe_shows_what_applies_and_who_said_so() -> None:
    rows = [
        row("", "vision", False, OPERATOR),
        row("gpt-4o", "tools", True, PROBE),
        row("gpt-4o", "context", 128_000, PROBE),
        row("gpt-4o", "tools", False, OPERATOR),
    ]
    assert caps.describe(rows) == [
        "every model: vision=false (set)",
        "gpt-4o: tools=false (set), context=128000 (probed 2026-01-01)",
    ]
    assert caps.describe([]) == ["none recorded (unknown capabilities count as supported)"]
