"""The manifest file: a documented example read exactly (YAML and JSON), every malformed
field refused with its path and what was expected, and what is written reads back as the
same manifest, deterministically, in each secrets mode."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings

from burncloud.errors import InvalidRequest
from burncloud.money import UNLIMITED, parse_usd
from burncloud.services.budgets import BudgetSpec
from burncloud.services.manifest.channel_form import env_value, secret_header
from burncloud.services.manifest.codec import (
    dump_manifest,
    key_variable,
    load_manifest,
    manifest_data,
    parse_manifest,
)
from burncloud.services.manifest.model import (
    FORMAT,
    ChannelSpec,
    Manifest,
    PlanSpec,
    RedemptionSpec,
    TokenSpec,
    UserSpec,
)
from burncloud.services.manifest.reading import (
    CHANNEL_FIELDS,
    PLAN_FIELDS,
    SECTIONS,
    TOKEN_FIELDS,
    USER_FIELDS,
)
from burncloud.services.price_catalog import Catalog, read_document
from burncloud.services.pricing import Price
from tests.services.manifest.strategies import manifest

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None)
HASH_A = "3f2a" + "0" * 60
HASH_B = "9c1e" + "1" * 60

EXAMPLE = f"""\
format: burncloud/1
settings:
  invite_reward_inviter: "1"
  invite_reward_invitee: 0.5
groups:
  default: "1"
  vip: 0.8
channels:
  - name: openai-main
    type: openai
    base_url: https://API.openai.com/
    key: ${{BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY}}
    key_selection: round-robin
    models: [gpt-4o, gpt-4o-mini]
    groups: [default, vip]
    tags: [prod, "openai,us"]
    weight: 3
    priority: -1
    model_map: {{gpt-4o: gpt-4o-2024-08-06}}
    config: {{timeout_connect: 5, region: "eu"}}
    cost_ratio: "0.80"
    rpm: 500
    tpm: 0
    max_concurrency: 20
    overrides:
      set_headers: {{X-Org: acme}}
      set_params: {{top_k: 40}}
      drop_params: [user]
    auto_sync: 24h
    balance_api: openai-billing
    balance_every: 1800
    balance_alert_below: "5.0"
    enabled: false
    renamed_from: openai-old
  - name: claude
    type: anthropic
    keys: [sk-ant-a, sk-ant-b]
    models: [claude-sonnet]
prices:
  gpt-4o: {{input: "2.5", output: 10, cached: 1.25}}
  gpt-latest: {{alias: gpt-4o}}
channel_prices:
  openai-main:
    gpt-4o: {{input: "2", output: "8"}}
plans:
  - name: pro
    models: [gpt-4o]
    rpm: 60
    tpm: 100000
    group: vip
    budgets: ["gpt-4o=10/day", 20/month, "5/5h"]
    default: true
  - name: free
    budgets: [0.5/daily]
users:
  - name: bob
    role: admin
    balance: unlimited
  - name: alice
    group: vip
    plan: pro
    enabled: true
    balance: "25"
    used: "3.5"
    rpm: 60
    tpm: -1
    budgets: [2/week]
    invite_code: Ab12cd
    inviter: bob
tokens:
  - user: alice
    name: laptop
    quota: unlimited
    used: "0"
    expires: never
    models: [gpt-4o]
    ips: [10.0.0.0/8, 192.168.1.7]
    rpm: 10
    budgets: [1.5/24h, openai/gpt-4o=1/day]
    scopes: [relay]
    active: true
    key_sha256: {HASH_A}
    key_hint: sk-abcd...wxyz
  - user: alice
    name: ci
    quota: "12.5"
    expires: 2027-01-31T00:00:00Z
    scopes: [relay, admin]
    active: false
redemptions:
  - {{code_sha256: {HASH_B}, quota: "5", hint: "Ab12***"}}
"""
ENV = {"BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY": "sk-secret\nsk-secret-2\n"}

EXPECTED = Manifest(
    settings={"invite_reward_inviter": "1000000000", "invite_reward_invitee": "500000000"},
    groups={"default": Decimal(1), "vip": Decimal("0.8")},
    channels=(
        ChannelSpec(
            name="claude",
            type="anthropic",
            models=("claude-sonnet",),
            keys=("sk-ant-a", "sk-ant-b"),
        ),
        ChannelSpec(
            name="openai-main",
            type="openai",
            models=("gpt-4o", "gpt-4o-mini"),
            base_url="https://api.openai.com/v1",
            keys=("sk-secret", "sk-secret-2"),
            groups=("default", "vip"),
            weight=3,
            priority=-1,
            model_map={"gpt-4o": "gpt-4o-2024-08-06"},
            config={"timeout_connect": "5", "region": "eu"},
            cost_ratio=Decimal("0.8"),
            enabled=False,
            renamed_from="openai-old",
            key_selection="round-robin",
            tags=("prod", "openai", "us"),
            rpm=500,
            max_concurrency=20,
            overrides={
                "set_headers": {"X-Org": "acme"},
                "set_params": {"top_k": 40},
                "drop_params": ["user"],
            },
            auto_sync=86400,
            balance_api="openai-billing",
            balance_every=1800,
            balance_alert_below="5.0",
        ),
    ),
    prices=Catalog(
        prices={
            "gpt-4o": Price("gpt-4o", 2_500_000_000, 10**10, cached=1_250_000_000),
            "gpt-latest": Price("gpt-latest", 0, 0, alias_of="gpt-4o"),
        },
        channels={"openai-main": {"gpt-4o": Price("gpt-4o", 2 * 10**9, 8 * 10**9)}},
    ),
    plans=(
        PlanSpec(name="free", budgets=(BudgetSpec(parse_usd("0.5"), "day"),)),
        PlanSpec(
            name="pro",
            models=("gpt-4o",),
            rpm=60,
            tpm=100000,
            group="vip",
            budgets=(
                BudgetSpec(parse_usd("5"), "5h"),
                BudgetSpec(parse_usd("20"), "month"),
                BudgetSpec(parse_usd("10"), "day", "gpt-4o"),
            ),
            default=True,
        ),
    ),
    users=(
        UserSpec(
            name="alice",
            group="vip",
            plan="pro",
            balance=parse_usd("25"),
            used=parse_usd("3.5"),
            rpm=60,
            budgets=(BudgetSpec(parse_usd("2"), "week"),),
            invite_code="Ab12cd",
            inviter="bob",
        ),
        UserSpec(name="bob", role="admin", balance=UNLIMITED),
    ),
    tokens=(
        TokenSpec(
            user="alice",
            name="ci",
            quota=parse_usd("12.5"),
            expires_at=1801353600,
            scopes=frozenset({"admin", "relay"}),
            active=False,
        ),
        TokenSpec(
            user="alice",
            name="laptop",
            models=("gpt-4o",),
            ips=("10.0.0.0/8", "192.168.1.7/32"),
            rpm=10,
            budgets=(
                BudgetSpec(parse_usd("1.5"), "24h"),
                BudgetSpec(parse_usd("1"), "day", "openai/gpt-4o"),
            ),
            key_sha256=HASH_A,
            key_hint="sk-abcd...wxyz",
        ),
    ),
    redemptions=(RedemptionSpec(code_sha256=HASH_B, quota=parse_usd("5"), hint="Ab12***"),),
)


def refused(sections: dict[str, Any]) -> str:
    """The message parse_manifest refuses a document of ``sections`` with."""
    with pytest.raises(InvalidRequest) as caught:
        parse_manifest({"format": FORMAT, **sections})
    return caught.value.message


def read(sections: dict[str, Any]) -> Manifest:
    return parse_manifest({"format": FORMAT, **sections})


def test_the_documented_example_reads_exactly() -> None:
    assert load_manifest(EXAMPLE, "yaml", ENV) == EXPECTED


def test_the_same_document_as_json_reads_the_same() -> None:
    data = read_document(EXAMPLE, "yaml")
    data["tokens"][1]["expires"] = "2027-01-31T00:00:00Z"  # YAML read it as a datetime
    text = json.dumps(data, default=str)
    assert load_manifest(text, "json", ENV) == EXPECTED


def test_an_absent_section_is_unmanaged_and_an_empty_one_is_the_empty_set() -> None:
    assert read({}) == Manifest()
    assert read({"channels": None, "users": None}) == Manifest()
    empty: dict[str, Any] = {
        "channels": [],
        "users": [],
        "tokens": [],
        "redemptions": [],
        "groups": {},
        "plans": [],
    }
    assert read({**empty, "settings": {}, "prices": {}, "channel_prices": {}}) == Manifest(
        channels=(),
        plans=(),
        users=(),
        tokens=(),
        redemptions=(),
        groups={},
        settings={},
        prices=Catalog(prices={}, channels={}),
    )


def test_defaults_are_filled_in() -> None:
    found = read(
        {
            "channels": [{"name": "c", "type": "openai", "models": ["m"]}],
            "plans": [{"name": "p"}],
            "users": [{"name": "u"}],
            "tokens": [{"user": "u", "name": "t"}],
            "redemptions": [{"code_sha256": HASH_A, "quota": 1}],
        }
    )
    assert found == Manifest(
        channels=(ChannelSpec(name="c", type="openai", models=("m",)),),
        plans=(PlanSpec(name="p"),),
        users=(UserSpec(name="u"),),
        tokens=(TokenSpec(user="u", name="t"),),
        redemptions=(RedemptionSpec(code_sha256=HASH_A, quota=parse_usd("1")),),
    )


def test_values_are_normalised_as_the_services_do() -> None:
    found = read(
        {
            "channels": [
                {
                    "name": "  my   channel ",
                    "type": "OpenAI",
                    "models": ["a, b", "a"],
                    "key": " sk-1 ",
                    "base_url": "http://Local:8080",
                }
            ],
            "users": [{"name": " alice "}],
            "tokens": [{"user": "alice", "name": " t ", "models": [" m ", "m"], "ips": ["::1"]}],
        }
    )
    assert found.channels == (
        ChannelSpec(
            name="my channel",
            type="openai",
            models=("a", "b"),
            keys=("sk-1",),
            base_url="http://local:8080/v1",
        ),
    )
    assert found.users == (UserSpec(name="alice"),)
    assert found.tokens == (TokenSpec(user="alice", name="t", models=("m",), ips=("::1/128",)),)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("never", None),
        (None, None),
        (-1, None),
        (1801353600, 1801353600),
        ("1801353600", 1801353600),
        ("2027-01-31", 1801439999),  # a date: valid through its last second, as the CLI
        ("2027-01-31T00:00:00Z", 1801353600),
        ("2027-01-31T00:00:00", 1801353600),  # no offset: UTC
        ("2027-01-31T02:00:00+02:00", 1801353600),
        ("2000-01-01T00:00:00Z", 946684800),  # past: kept (an imported token may have expired)
    ],
)
def test_expiry_forms(written: Any, seconds: int | None) -> None:
    tokens = read({"tokens": [{"user": "u", "name": "t", "expires": written}]}).tokens
    assert tokens is not None and tokens[0].expires_at == seconds


def test_yaml_dates_and_times_are_expiries() -> None:
    for written, seconds in [
        ("2027-01-31", 1801439999),
        ("2027-01-31T00:00:00Z", 1801353600),
        ("2027-01-31 02:00:00+02:00", 1801353600),
    ]:
        text = f"format: burncloud/1\ntokens:\n- {{user: u, name: t, expires: {written}}}\n"
        tokens = load_manifest(text, "yaml", {}).tokens
        assert tokens is not None and tokens[0].expires_at == seconds, written


def test_limits_and_money_forms() -> None:
    users = read(
        {
            "users": [
                {"name": "a", "rpm": -1, "tpm": None, "balance": -1, "used": 2},
                {"name": "b", "max_concurrency": 2147483647, "balance": Decimal("0.000000001")},
            ]
        }
    ).users
    assert users == (
        UserSpec(name="a", balance=UNLIMITED, used=parse_usd("2")),
        UserSpec(name="b", max_concurrency=2147483647, balance=1),
    )
    tokens = read({"tokens": [{"user": "a", "name": "t", "quota": "-1"}]}).tokens
    assert tokens is not None and tokens[0].quota == UNLIMITED


def test_tokens_of_different_users_may_share_a_name() -> None:
    tokens = read({"tokens": [{"user": "b", "name": "t"}, {"user": "a", "name": "t"}]}).tokens
    assert tokens == (TokenSpec(user="a", name="t"), TokenSpec(user="b", name="t"))


def test_budgets_are_read_in_one_order_whatever_order_they_are_written_in() -> None:
    written = ["m=1/week", " 2 / Monthly ", "m=3/5h", "4/week", "5/168h", "6/12h", "7/1D"]
    [found] = read({"tokens": [{**TOKEN, "budgets": written}]}).tokens or ()
    assert found.budgets == (
        BudgetSpec(parse_usd("6"), "12h"),
        BudgetSpec(parse_usd("7"), "day"),
        BudgetSpec(parse_usd("5"), "168h"),
        BudgetSpec(parse_usd("4"), "week"),
        BudgetSpec(parse_usd("2"), "month"),
        BudgetSpec(parse_usd("3"), "5h", "m"),
        BudgetSpec(parse_usd("1"), "week", "m"),
    )
    [again] = read({"tokens": [{**TOKEN, "budgets": written[::-1]}]}).tokens or ()
    assert again == found


def test_a_budget_of_a_model_whose_name_holds_the_separators_reads_back() -> None:
    [plan] = read({"plans": [{"name": "p", "budgets": ["org/a=b=2.5/5h"]}]}).plans or ()
    assert plan.budgets == (BudgetSpec(parse_usd("2.5"), "5h", "org/a=b"),)
    assert manifest_data(Manifest(plans=(plan,)), "omit")["plans"][0]["budgets"] == [
        "org/a=b=2.5/5h"
    ]


CHANNEL = {"name": "a", "type": "openai", "models": ["m"]}
USER = {"name": "alice"}
TOKEN = {"user": "alice", "name": "t"}
REDEMPTION = {"code_sha256": HASH_A, "quota": "1"}
KINDS = "openai, openai-compatible, azure, anthropic, gemini, qwen, bedrock"


def channel(**fields: Any) -> dict[str, Any]:
    return {"channels": [{**CHANNEL, **fields}]}


def user(**fields: Any) -> dict[str, Any]:
    return {"users": [{**USER, **fields}]}


def token(**fields: Any) -> dict[str, Any]:
    return {"tokens": [{**TOKEN, **fields}]}


DOCUMENT_ERRORS = [
    ({"wieght": 1}, "wieght: unknown field (expected one of: " + ", ".join(SECTIONS) + ")"),
    ({"format": "burncloud-prices/1"}, "format: expected 'burncloud/1', got 'burncloud-prices/1'"),
    (
        {"settings": {"theme": "dark"}},
        "settings.theme: unknown field (expected one of:"
        " invite_reward_invitee, invite_reward_inviter)",
    ),
    (
        {"settings": {"invite_reward_inviter": "-1"}},
        "settings.invite_reward_inviter: amount must not be negative: -1",
    ),
    (
        {"settings": {"invite_reward_inviter": True}},
        'settings.invite_reward_inviter: expected a USD amount such as "2.5", got true',
    ),
    ({"settings": []}, "settings: expected a mapping, got a list"),
    ({"groups": ["vip"]}, "groups: expected a mapping, got a list"),
    ({"groups": {"v ip": "1"}}, "groups['v ip']: invalid group name 'v ip': no spaces or commas"),
    ({"groups": {5: "1"}}, "groups.5: the key 5 must be text (quote it)"),
    ({"groups": {"a,b": "1"}}, "groups.a,b: invalid group name 'a,b': no spaces or commas"),
    ({"groups": {"vip": "x"}}, "groups.vip: ratio is not a decimal number: 'x'"),
    ({"groups": {"vip": 1001}}, "groups.vip: ratio must be at most 1000: 1001"),
    ({"groups": {"vip": None}}, 'groups.vip: expected a decimal number such as "0.8", got null'),
    (
        {"prices": {}},
        "channel_prices: required field is missing (it is managed together with"
        " prices; write channel_prices: {} for none)",
    ),
    (
        {"channel_prices": {}},
        "prices: required field is missing (it is managed together with"
        " channel_prices; write prices: {} for none)",
    ),
    ({"prices": [], "channel_prices": {}}, "prices: expected a mapping, got a list"),
    (
        {"prices": {"m": {"input": "1"}}, "channel_prices": {}},
        "prices.m: output is required (or alias)",
    ),
    (
        {"prices": {"m": {"input": "1", "output": "x"}}, "channel_prices": {}},
        "prices.m.output: not a decimal amount: 'x'",
    ),
    (
        {"prices": {}, "channel_prices": {"c": {"m": {"alias": "n"}}}},
        "channel_prices.c.m: a channel's cost price cannot be an alias",
    ),
    (
        {"prices": {}, "channel_prices": {"c": []}},
        "channel_prices.c: expected a mapping, got a list",
    ),
    (
        {"prices": {}, "channel_prices": {5: {}}},
        "channel_prices.5: the key 5 must be text (quote it)",
    ),
]

CHANNEL_ERRORS = [
    ({"channels": {"a": CHANNEL}}, "channels: expected a list, got a mapping"),
    ({"channels": ["a"]}, "channels[0]: expected a mapping, got 'a'"),
    (
        channel(wieght=2),
        "channels[0].wieght: unknown field (expected one of: " + ", ".join(CHANNEL_FIELDS) + ")",
    ),
    (
        {"channels": [{"type": "openai", "models": ["m"]}]},
        "channels[0].name: required field is missing",
    ),
    ({"channels": [{"name": "a", "models": ["m"]}]}, "channels[0].type: required field is missing"),
    (
        {"channels": [{"name": "a", "type": "openai"}]},
        "channels[0].models: required field is missing",
    ),
    (channel(name=" "), "channels[0].name: a channel needs a name"),
    (channel(name=7), "channels[0].name: expected text, got 7"),
    (
        channel(type="oneapi"),
        f"channels[0].type: unknown channel type 'oneapi': use one of {KINDS}",
    ),
    (channel(models=[]), "channels[0].models: a channel needs at least one model"),
    (channel(models="m"), "channels[0].models: expected a list, got 'm'"),
    (channel(models=["m", 4]), "channels[0].models[1]: expected text, got 4"),
    (channel(models=["a b"]), "channels[0].models: a model name must not contain whitespace"),
    (
        channel(base_url="ftp://x"),
        "channels[0].base_url: base URL must start with http:// or https://: 'ftp://x'",
    ),
    (channel(key=12345), "channels[0].key: expected text"),
    (channel(key="sk 1"), "channels[0].key: a channel key must not contain whitespace"),
    (channel(key=""), "channels[0].key: a channel needs a key"),
    (channel(key="\n \n"), "channels[0].key: a channel needs a key"),
    (channel(key="sk-1\nsk 2"), "channels[0].key: a channel key must not contain whitespace"),
    (channel(key="sk-1\nsk-2\nsk-1"), "channels[0].key: key 3 repeats key 1 (give each key once)"),
    (channel(key="sk-1", keys=["sk-2"]), "channels[0].keys: give key or keys, not both"),
    (channel(keys=[]), "channels[0].keys: a channel needs a key"),
    (channel(keys="sk-1"), "channels[0].keys: expected a list, got 'sk-1'"),
    (channel(keys=["sk-1", 5]), "channels[0].keys[1]: expected text"),
    (
        channel(keys=["sk-1", "sk 2"]),
        "channels[0].keys[1]: a channel key must not contain whitespace",
    ),
    (
        channel(keys=["sk-1", "sk-2\nsk-1"]),
        "channels[0].keys: key 3 repeats key 1 (give each key once)",
    ),
    (
        channel(key_selection="fifo"),
        "channels[0].key_selection: unknown key selection 'fifo': use random or round-robin",
    ),
    (channel(tags="prod"), "channels[0].tags: expected a list, got 'prod'"),
    (channel(tags=["a b"]), "channels[0].tags: a tag name must not contain whitespace"),
    (channel(rpm=-1), "channels[0].rpm: expected a whole number >= 0 (0 for no cap), got -1"),
    (channel(tpm="1k"), "channels[0].tpm: expected a whole number >= 0 (0 for no cap), got '1k'"),
    (
        channel(max_concurrency=True),
        "channels[0].max_concurrency: expected a whole number >= 0 (0 for no cap), got true",
    ),
    (channel(overrides=[]), "channels[0].overrides: expected a mapping, got a list"),
    (
        channel(overrides={"set_params": {5: 1}}),
        "channels[0].overrides.set_params: the key 5 must be text (quote it)",
    ),
    (
        channel(overrides={"set_params": {"seed": date(2027, 1, 31)}}),
        "channels[0].overrides.set_params.seed: expected a JSON value (text, a number, true,"
        " false, null, a list or a mapping), got 2027-01-31",
    ),
    (
        channel(overrides={"set_params": {"seed": 2**64}}),
        "channels[0].overrides.set_params.seed: expected a whole number of at most 64 bits,"
        " got 18446744073709551616",
    ),
    (
        channel(overrides={"set_params": {"t": [Decimal("NaN")]}}),
        "channels[0].overrides.set_params.t[0]: expected a finite number, got NaN",
    ),
    (
        channel(auto_sync="daily"),
        "channels[0].auto_sync: expected seconds or an interval such as 24h, 30m (or never),"
        " got 'daily'",
    ),
    (
        channel(balance_every=-60),
        "channels[0].balance_every: expected seconds or an interval such as 24h, 30m (or"
        " never), got -60",
    ),
    (
        channel(balance_api="paypal"),
        "channels[0].balance_api: unknown balance API 'paypal': use one of openrouter,"
        " deepseek, siliconflow, moonshot, openai-billing",
    ),
    (
        channel(balance_alert_below="-1"),
        "channels[0].balance_alert_below: expected a decimal number of 0 or more, got '-1'",
    ),
    (
        channel(balance_alert_below="ten"),
        "channels[0].balance_alert_below: expected a decimal number such as \"10\", got 'ten'",
    ),
    (channel(groups=[]), "channels[0].groups: a channel needs at least one group"),
    (channel(weight="x"), "channels[0].weight: expected a whole number >= 0, got 'x'"),
    (channel(weight=-1), "channels[0].weight: expected a whole number >= 0, got -1"),
    (channel(weight=True), "channels[0].weight: expected a whole number >= 0, got true"),
    (channel(weight=None), "channels[0].weight: expected a whole number >= 0, got null"),
    (channel(priority=Decimal("1.5")), "channels[0].priority: expected a whole number, got 1.5"),
    (channel(model_map={"m": 1}), "channels[0].model_map.m: expected text, got 1"),
    (channel(model_map={True: "m"}), "channels[0].model_map: the key true must be text (quote it)"),
    (channel(model_map=[]), "channels[0].model_map: expected a mapping, got a list"),
    (channel(config={"x": False}), "channels[0].config.x: expected text or a number, got false"),
    (
        channel(cost_ratio="-1"),
        "channels[0].cost_ratio: cost ratio must be a non-negative finite number: '-1'",
    ),
    (
        channel(cost_ratio=[1]),
        'channels[0].cost_ratio: expected a decimal number such as "0.8", got a list',
    ),
    (channel(enabled="yes"), "channels[0].enabled: expected true or false, got 'yes'"),
    (
        {"channels": [CHANNEL, {**CHANNEL, "type": "anthropic"}]},
        "channels[1].name: duplicate channel name 'a'",
    ),
    (
        {"channels": [CHANNEL, {**CHANNEL, "name": " a "}]},
        "channels[1].name: duplicate channel name 'a'",
    ),
    (
        {"channels": [CHANNEL, {**CHANNEL, "name": "b", "renamed_from": "a"}]},
        "channels[1].renamed_from: channel name 'a' is still in the file",
    ),
    (channel(renamed_from="a"), "channels[0].renamed_from: channel name 'a' is still in the file"),
    (
        {
            "channels": [
                {**CHANNEL, "renamed_from": "x"},
                {**CHANNEL, "name": "b", "renamed_from": "x"},
            ]
        },
        "channels[1].renamed_from: channel name 'x' is renamed twice",
    ),
]

USER_ERRORS = [
    (
        user(nme="x"),
        "users[0].nme: unknown field (expected one of: " + ", ".join(USER_FIELDS) + ")",
    ),
    ({"users": [{"role": "user"}]}, "users[0].name: required field is missing"),
    (user(name="123"), "users[0].name: a user name cannot be all digits (read as an id): '123'"),
    (user(role="root"), "users[0].role: unknown role 'root': use one of admin, user"),
    (user(group="v ip"), "users[0].group: invalid group name 'v ip': no spaces or commas"),
    (user(group=None), "users[0].group: expected text, got null"),
    (user(balance="-2"), "users[0].balance: amount must not be negative: -2"),
    (
        user(balance=Decimal("1.5E-10")),
        "users[0].balance: amount has more than 9 decimal places: 1.5E-10",
    ),
    (
        user(balance=None),
        'users[0].balance: expected a USD amount such as "2.5" or unlimited, got null',
    ),
    (user(used="unlimited"), "users[0].used: not a decimal amount: 'unlimited'"),
    (user(used=-1), "users[0].used: amount must not be negative: -1"),
    (
        user(rpm="ten"),
        "users[0].rpm: expected a whole number from 1 to 2147483647 (or -1 for no limit),"
        " got 'ten'",
    ),
    (
        user(rpm=0),
        "users[0].rpm: expected a whole number from 1 to 2147483647 (or -1 for no limit), got 0",
    ),
    (
        user(tpm=2**31),
        "users[0].tpm: expected a whole number from 1 to 2147483647 (or -1 for no limit),"
        " got 2147483648",
    ),
    (user(invite_code="a b"), "users[0].invite_code: expected a name without spaces, got 'a b'"),
    (
        user(inviter="42"),
        "users[0].inviter: a user name cannot be all digits (read as an id): '42'",
    ),
    ({"users": USER}, "users: expected a list, got a mapping"),
    ({"users": [USER, {"name": "alice"}]}, "users[1].name: duplicate user name 'alice'"),
    (
        {"users": [USER, {"name": "bob", "renamed_from": "alice"}]},
        "users[1].renamed_from: user name 'alice' is still in the file",
    ),
]

TOKEN_ERRORS = [
    (
        token(key="sk-x"),
        "tokens[0].key: unknown field (expected one of: " + ", ".join(TOKEN_FIELDS) + ")",
    ),
    ({"tokens": "t"}, "tokens: expected a list, got 't'"),
    ({"tokens": [{"name": "t"}]}, "tokens[0].user: required field is missing"),
    ({"tokens": [{"user": "alice"}]}, "tokens[0].name: required field is missing"),
    (token(name="  "), "tokens[0].name: a token needs a name"),
    (token(quota="lots"), "tokens[0].quota: not a decimal amount: 'lots'"),
    (token(quota=-2), "tokens[0].quota: amount must not be negative: -2"),
    (token(quota=Decimal("Infinity")), "tokens[0].quota: not a finite amount: Decimal('Infinity')"),
    (
        token(expires="soon"),
        "tokens[0].expires: invalid expiry 'soon': use -1 (never), a unix"
        " time, a date (2027-01-31) or 2027-01-31T12:00:00Z",
    ),
    (token(expires=-5), "tokens[0].expires: expected a time from 1970 to 9999, got -5"),
    (
        token(expires=10**12),
        "tokens[0].expires: expected a time from 1970 to 9999, got 1000000000000",
    ),
    (
        token(expires="1969-12-31T00:00:00Z"),
        "tokens[0].expires: expected a time from 1970 to 9999, got '1969-12-31T00:00:00Z'",
    ),
    (
        token(expires=True),
        "tokens[0].expires: expected never, a unix time or a date such as"
        " 2027-01-31T00:00:00Z, got true",
    ),
    (token(models=["a,b"]), "tokens[0].models: invalid model name: 'a,b'"),
    (
        token(ips=["10.0.0.1/8"]),
        "tokens[0].ips: 10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?",
    ),
    (token(ips=["nope"]), "tokens[0].ips: invalid IP address or CIDR network: 'nope'"),
    (token(ips="10.0.0.0/8"), "tokens[0].ips: expected a list, got '10.0.0.0/8'"),
    (token(scopes=["root"]), "tokens[0].scopes: expected [relay], [admin] or both, got ['root']"),
    (token(scopes=[]), "tokens[0].scopes: expected [relay], [admin] or both, got []"),
    (token(scopes="relay"), "tokens[0].scopes: expected a list, got 'relay'"),
    (token(scopes=["relay", 1]), "tokens[0].scopes[1]: expected text, got 1"),
    (token(active="no"), "tokens[0].active: expected true or false, got 'no'"),
    (
        token(key_sha256="3F2A" + "0" * 60),
        "tokens[0].key_sha256: expected a SHA-256 as 64"
        f" lowercase hex digits, got '3F2A{'0' * 60}'",
    ),
    (
        token(key_sha256="abc"),
        "tokens[0].key_sha256: expected a SHA-256 as 64 lowercase hex digits, got 'abc'",
    ),
    (token(key_hint=5), "tokens[0].key_hint: expected text, got 5"),
    (
        {"tokens": [TOKEN, {"user": "alice", "name": "t"}]},
        "tokens[1].name: duplicate token 'alice/t'",
    ),
    (
        {"tokens": [TOKEN, {"user": "alice", "name": "u", "renamed_from": "t"}]},
        "tokens[1].renamed_from: token 'alice/t' is still in the file",
    ),
    (
        {"tokens": [{**TOKEN, "renamed_from": "o"}, {**TOKEN, "name": "u", "renamed_from": "o"}]},
        "tokens[1].renamed_from: token 'alice/o' is renamed twice",
    ),
]

PLAN = {"name": "pro"}


def plan(**fields: Any) -> dict[str, Any]:
    return {"plans": [{**PLAN, **fields}]}


PLAN_ERRORS = [
    ({"plans": {"pro": {}}}, "plans: expected a list, got a mapping"),
    ({"plans": [{"models": []}]}, "plans[0].name: required field is missing"),
    (plan(name=" "), "plans[0].name: a plan needs a name"),
    (plan(name="1"), "plans[0].name: a plan name cannot be all digits (read as an id): '1'"),
    (
        plan(budget=[]),
        "plans[0].budget: unknown field (expected one of: " + ", ".join(PLAN_FIELDS) + ")",
    ),
    (plan(models=["a,b"]), "plans[0].models: invalid model name: 'a,b'"),
    (
        plan(rpm=0),
        "plans[0].rpm: expected a whole number from 1 to 2147483647 (or -1 for no limit), got 0",
    ),
    (plan(group="a b"), "plans[0].group: invalid group name 'a b': no spaces or commas"),
    (plan(default="yes"), "plans[0].default: expected true or false, got 'yes'"),
    (plan(budgets="20/month"), "plans[0].budgets: expected a list, got '20/month'"),
    (
        plan(budgets=["5/5h", 20]),
        'plans[0].budgets[1]: expected a budget such as "20/month" or "gpt-4o=10/5h", got 20',
    ),
    (
        plan(budgets=["20"]),
        "plans[0].budgets[0]: budget '20' has no period: write AMOUNT/PERIOD such as 20/month"
        " or 5/5h",
    ),
    (
        plan(budgets=["20/moth"]),
        "plans[0].budgets[0]: unknown budget period 'moth': use day, week, month or a number"
        " of hours such as 5h",
    ),
    (
        plan(budgets=["1/745h"]),
        "plans[0].budgets[0]: unknown budget period '745h': use day, week, month or a number"
        " of hours such as 5h",
    ),
    (plan(budgets=["-1/month"]), "plans[0].budgets[0]: amount must not be negative: -1"),
    (plan(budgets=["lots/month"]), "plans[0].budgets[0]: not a decimal amount: 'lots'"),
    (
        plan(budgets=["=1/month"]),
        "plans[0].budgets[0]: budget '=1/month' names no model before '='",
    ),
    (
        plan(budgets=["20/month", "3/monthly"]),
        "plans[0].budgets[1]: a second monthly budget (one per period and model)",
    ),
    (
        plan(budgets=["a=2/5h", "b=2/5h", "a=1/5h"]),
        "plans[0].budgets[2]: a second 5-hour budget for a (one per period and model)",
    ),
    (
        {"plans": [{"name": "p", "default": True}, {"name": "q", "default": True}]},
        "plans[1].default: plan 'p' is the default already (one plan at most)",
    ),
    ({"plans": [PLAN, {"name": " pro"}]}, "plans[1].name: duplicate plan name 'pro'"),
    (
        {"plans": [PLAN, {"name": "max", "renamed_from": "pro"}]},
        "plans[1].renamed_from: plan name 'pro' is still in the file",
    ),
    (user(plan="12"), "users[0].plan: a plan name cannot be all digits (read as an id): '12'"),
    (user(plan=5), "users[0].plan: expected text, got 5"),
    (
        user(budgets=["5/day", "6/1d"]),
        "users[0].budgets[1]: a second daily budget (one per period and model)",
    ),
    (
        token(budgets=[None]),
        'tokens[0].budgets[0]: expected a budget such as "20/month" or "gpt-4o=10/5h", got null',
    ),
    (
        token(budgets=["1.0000000001/day"]),
        "tokens[0].budgets[0]: amount has more than 9 decimal places: 1.0000000001",
    ),
]

REDEMPTION_ERRORS = [
    ({"redemptions": [None]}, "redemptions[0]: expected a mapping, got null"),
    ({"redemptions": [{"quota": "1"}]}, "redemptions[0].code_sha256: required field is missing"),
    ({"redemptions": [{"code_sha256": HASH_A}]}, "redemptions[0].quota: required field is missing"),
    (
        {"redemptions": [{**REDEMPTION, "quota": "unlimited"}]},
        "redemptions[0].quota: not a decimal amount: 'unlimited'",
    ),
    (
        {"redemptions": [{**REDEMPTION, "code": "x"}]},
        "redemptions[0].code: unknown field (expected one of: code_sha256, quota, hint)",
    ),
    (
        {"redemptions": [{**REDEMPTION, "hint": None}]},
        "redemptions[0].hint: expected text, got null",
    ),
    (
        {"redemptions": [REDEMPTION, REDEMPTION]},
        f"redemptions[1].code_sha256: duplicate redemption code hash '{HASH_A}'",
    ),
]


@pytest.mark.parametrize(
    ("sections", "message"),
    DOCUMENT_ERRORS + CHANNEL_ERRORS + USER_ERRORS + TOKEN_ERRORS + PLAN_ERRORS + REDEMPTION_ERRORS,
)
def test_a_malformed_field_is_refused_with_its_path(sections: dict[str, Any], message: str) -> None:
    assert refused(sections) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "manifest: expected a mapping, got a list"),
        (None, "manifest: expected a mapping, got null"),
        ({}, "format: required field is missing"),
        ({"channels": []}, "format: required field is missing"),
    ],
)
def test_a_document_that_is_not_a_manifest_is_refused(data: Any, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_manifest(data)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("text", "file_format", "start"),
    [
        ("format: [", "yaml", "not valid YAML: "),
        ("a: &x 1\nb: *x\n", "yaml", "not valid YAML: "),  # aliases are refused
        ("format: burncloud/1\nformat: burncloud/1\n", "yaml", "not valid YAML: "),
        ('{"format": ', "json", "not valid JSON: "),
        ('{"format": "burncloud/1", "format": "burncloud/1"}', "json", "not valid JSON: "),
        ("format = 1", "toml", "unknown file format 'toml': use yaml or json"),
    ],
)
def test_text_that_does_not_parse_is_refused(text: str, file_format: str, start: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        load_manifest(text, file_format, {})
    assert caught.value.message.startswith(start)
    assert "\n" not in caught.value.message


def test_numbers_are_read_as_exact_decimals_never_floats() -> None:
    text = "format: burncloud/1\nusers:\n- {name: a, balance: 0.1, used: 0.2}\n"
    users = load_manifest(text, "yaml", {}).users
    assert users == (UserSpec(name="a", balance=parse_usd("0.1"), used=parse_usd("0.2")),)
    text = '{"format": "burncloud/1", "groups": {"vip": 0.1}}'
    assert load_manifest(text, "json", {}).groups == {"vip": Decimal("0.1")}


def test_a_reference_is_resolved_before_validation() -> None:
    text = (
        "format: burncloud/1\nchannels:\n- name: a\n  type: ${KIND}\n  models: [m]\n  key: ${K}\n"
    )
    channels = load_manifest(text, "yaml", {"KIND": "anthropic", "K": "sk-1"}).channels
    assert channels == (ChannelSpec(name="a", type="anthropic", models=("m",), keys=("sk-1",)),)
    with pytest.raises(InvalidRequest) as caught:
        load_manifest(text, "yaml", {"KIND": "anthropic"})
    assert caught.value.message == "channels[0].key: environment variable K is not set"


def test_the_example_is_written_in_the_documented_order_with_defaults() -> None:
    data = manifest_data(EXPECTED, "plain")
    assert list(data) == list(SECTIONS)
    claude, openai = data["channels"]
    assert claude == {
        "name": "claude",
        "type": "anthropic",
        "keys": ["sk-ant-a", "sk-ant-b"],
        "key_selection": "random",
        "models": ["claude-sonnet"],
        "groups": ["default"],
        "tags": [],
        "weight": 1,
        "priority": 0,
        "model_map": {},
        "config": {},
        "cost_ratio": "1",
        "overrides": {},
        "enabled": True,
    }
    unset = {"key", "tpm"}  # two keys are written as `keys`; tpm 0 is no cap
    assert list(openai) == [f for f in CHANNEL_FIELDS if f not in unset]
    assert openai["config"] == {"region": "eu", "timeout_connect": "5"}
    assert list(openai["config"]) == ["region", "timeout_connect"]
    assert openai["overrides"] == {
        "drop_params": ["user"],
        "set_headers": {"X-Org": "acme"},
        "set_params": {"top_k": 40},
    }
    assert (openai["auto_sync"], openai["balance_every"]) == ("1d", "30m")
    assert openai["balance_alert_below"] == "5.0" and openai["tags"] == ["prod", "openai", "us"]
    assert data["users"][1] == {
        "name": "bob",
        "role": "admin",
        "group": "default",
        "enabled": True,
        "balance": "unlimited",
        "used": "0",
        "budgets": [],
    }
    assert data["users"][0]["plan"] == "pro"
    assert data["users"][0]["budgets"] == ["2/week"]
    assert data["plans"] == [
        {"name": "free", "models": [], "budgets": ["0.5/day"], "default": False},
        {
            "name": "pro",
            "models": ["gpt-4o"],
            "rpm": 60,
            "tpm": 100000,
            "group": "vip",
            "budgets": ["5/5h", "20/month", "gpt-4o=10/day"],
            "default": True,
        },
    ]
    assert list(data["plans"][1]) == [f for f in PLAN_FIELDS if f != "renamed_from"]
    assert data["tokens"][1]["budgets"] == ["1.5/24h", "openai/gpt-4o=1/day"]
    unset = {"rpm", "tpm", "max_concurrency", "key_sha256", "key_hint", "renamed_from"}
    assert list(data["tokens"][0]) == [f for f in TOKEN_FIELDS if f not in unset]
    assert list(data["tokens"][1]) == [
        f for f in TOKEN_FIELDS if f not in ("tpm", "max_concurrency", "renamed_from")
    ]
    assert data["tokens"][0]["expires"] == "2027-01-31T00:00:00Z"
    assert data["tokens"][1]["expires"] == "never"
    assert data["settings"] == {"invite_reward_invitee": "0.5", "invite_reward_inviter": "1"}
    assert data["prices"]["gpt-4o"] == {"input": "2.5", "output": "10", "cached": "1.25"}
    assert data["redemptions"] == [{"code_sha256": HASH_B, "quota": "5", "hint": "Ab12***"}]


def test_a_section_that_is_none_is_not_written() -> None:
    assert manifest_data(Manifest(), "plain") == {"format": FORMAT}
    assert manifest_data(Manifest(channels=(), groups={}), "omit") == {
        "format": FORMAT,
        "groups": {},
        "channels": [],
    }


def test_objects_and_keys_are_written_sorted_whatever_order_they_come_in() -> None:
    assert EXPECTED.channels and EXPECTED.users and EXPECTED.tokens
    shuffled = replace(
        EXPECTED,
        channels=EXPECTED.channels[::-1],
        users=EXPECTED.users[::-1],
        tokens=EXPECTED.tokens[::-1],
        groups={"vip": Decimal("0.8"), "default": Decimal(1)},
    )
    for file_format in ("yaml", "json"):
        assert dump_manifest(shuffled, file_format, "plain") == dump_manifest(
            EXPECTED, file_format, "plain"
        )
    data = manifest_data(shuffled, "plain")
    assert [c["name"] for c in data["channels"]] == ["claude", "openai-main"]
    assert list(data["groups"]) == ["default", "vip"]


def test_secrets_omit_writes_no_key() -> None:
    data = manifest_data(EXPECTED, "omit")
    assert all("key" not in c for c in data["channels"])
    assert load_manifest(dump_manifest(EXPECTED, "yaml", "omit"), "yaml", {}) == replace(
        EXPECTED, channels=tuple(replace(c, keys=None) for c in EXPECTED.channels or ())
    )


def test_secrets_env_writes_a_reference_per_channel_and_reads_back_from_it() -> None:
    data = manifest_data(EXPECTED, "env")
    assert [c["key"] for c in data["channels"]] == [
        "${BURNCLOUD_CHANNEL_CLAUDE_KEY}",
        "${BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY}",
    ]
    text = dump_manifest(EXPECTED, "yaml", "env")
    assert "key: ${BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY}\n" in text
    assert "sk-secret" not in text
    env = {"BURNCLOUD_CHANNEL_CLAUDE_KEY": "sk-c", "BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY": "sk-secret"}
    channels = load_manifest(text, "yaml", env).channels or ()
    assert [c.keys for c in channels] == [("sk-c",), ("sk-secret",)]


def test_secrets_plain_writes_the_key_escaped_so_it_reads_back() -> None:
    spec = ChannelSpec(name="a", type="openai", models=("m",), keys=("sk-${HOME}x",))
    text = dump_manifest(Manifest(channels=(spec,)), "json", "plain")
    assert json.loads(text)["channels"][0]["key"] == "sk-$${HOME}x"
    assert load_manifest(text, "json", {"HOME": "/root"}).channels == (spec,)


MULTI = ChannelSpec(name="pool", type="openai", models=("m",), keys=("sk-1", "sk-2", "sk-3"))


def test_a_channel_with_several_keys_is_written_in_each_secrets_mode() -> None:
    single = ChannelSpec(name="one", type="openai", models=("m",), keys=("sk-9",))
    manifest = Manifest(channels=(single, MULTI))
    one, pool = manifest_data(manifest, "plain")["channels"]
    assert (one["key"], pool["keys"]) == ("sk-9", ["sk-1", "sk-2", "sk-3"])
    assert "keys" not in one and "key" not in pool
    assert [c.get("key") for c in manifest_data(manifest, "env")["channels"]] == [
        "${BURNCLOUD_CHANNEL_ONE_KEY}",
        "${BURNCLOUD_CHANNEL_POOL_KEY}",
    ]
    omitted = manifest_data(manifest, "omit")["channels"]
    assert all("key" not in c and "keys" not in c for c in omitted)
    text = dump_manifest(manifest, "yaml", "plain")
    assert "    keys:\n      - sk-1\n      - sk-2\n      - sk-3\n" in text
    assert load_manifest(text, "yaml", {}) == manifest


def test_one_variable_holds_a_channels_keys_one_per_line() -> None:
    text = dump_manifest(Manifest(channels=(MULTI,)), "yaml", "env")
    assert "key: ${BURNCLOUD_CHANNEL_POOL_KEY}\n" in text and "sk-1" not in text
    assert env_value(MULTI.keys or ()) == "sk-1\nsk-2\nsk-3"
    for value in ("sk-1\nsk-2\nsk-3", "\n sk-1 \r\n\nsk-2\nsk-3\n"):
        [read] = load_manifest(text, "yaml", {"BURNCLOUD_CHANNEL_POOL_KEY": value}).channels or ()
        assert read == MULTI
    [one] = load_manifest(text, "yaml", {"BURNCLOUD_CHANNEL_POOL_KEY": "sk-1"}).channels or ()
    assert one.keys == ("sk-1",)


def test_keys_items_may_each_be_a_reference_to_several() -> None:
    text = (
        "format: burncloud/1\nchannels:\n- name: pool\n  type: openai\n  models: [m]\n"
        "  keys: [sk-1, '${MORE}']\n"
    )
    [read] = load_manifest(text, "yaml", {"MORE": "sk-2\nsk-3"}).channels or ()
    assert read == MULTI


def test_intervals_caps_and_amounts_read_in_each_form_and_write_in_one() -> None:
    def written(**fields: Any) -> dict[str, Any]:
        spec = replace(MULTI, **fields)
        return dict(manifest_data(Manifest(channels=(spec,)), "omit")["channels"][0])

    for value, seconds, shown in [
        ("24h", 86400, "1d"),
        (5400, 5400, "90m"),
        ("90s", 90, "90s"),
        (3600, 3600, "1h"),
        (10**7 + 1, 10**7 + 1, 10**7 + 1),
        ("never", 0, "never"),
        (0, 0, "never"),
    ]:
        [found] = read(channel(balance_every=value)).channels or ()
        assert found.balance_every == seconds, value
        assert written(balance_every=seconds)["balance_every"] == shown
    [off] = read(channel(auto_sync="never", rpm=0, tpm=0, max_concurrency=0)).channels or ()
    assert (off.auto_sync, off.rpm, off.tpm, off.max_concurrency) == (None, None, None, None)
    assert not {"auto_sync", "rpm", "balance_every", "balance_api"} & set(written())
    [amounts] = read(channel(balance_alert_below=Decimal("12.50"))).channels or ()
    assert amounts.balance_alert_below == "12.50"
    assert read(channel(balance_alert_below="")).channels == read(channel()).channels


def test_override_numbers_read_back_as_the_json_they_were() -> None:
    text = (
        '{"format": "burncloud/1", "channels": [{"name": "a", "type": "openai", "models": ["m"],'
        ' "overrides": {"set_params": {"temperature": 0.2, "n": 2, "big": 1e3,'
        ' "stop": ["${X}", null, true], "extra": {"seed": -0.0}}}}]}'
    )
    [found] = load_manifest(text, "json", {"X": "###"}).channels or ()
    params = found.overrides["set_params"]
    assert params == {
        "temperature": 0.2,
        "n": 2,
        "big": 1000.0,
        "stop": ["###", None, True],
        "extra": {"seed": 0.0},
    }
    assert [type(params[k]) for k in ("temperature", "n", "big")] == [float, int, float]
    for file_format in ("yaml", "json"):
        dumped = dump_manifest(Manifest(channels=(found,)), file_format, "omit")
        assert load_manifest(dumped, file_format, {}).channels == (found,)
        assert dump_manifest(load_manifest(dumped, file_format, {}), file_format, "omit") == dumped
    # a float that is a whole number is written as one, however large
    whole = replace(found, overrides={"set_params": {"a": 2.0, "b": 3.1538613251571536e16}})
    written = manifest_data(Manifest(channels=(whole,)), "omit")["channels"][0]["overrides"]
    assert written == {"set_params": {"a": 2, "b": 31538613251571536}}


def test_a_credential_header_override_is_a_secret_like_a_key() -> None:
    headers = {"Authorization": "Bearer proxy-secret", "X-Api-Key": "k-1", "X-Org": "acme"}
    spec = replace(MULTI, overrides={"set_headers": headers, "drop_params": ["user"]})
    manifest = Manifest(channels=(spec,))
    plain = manifest_data(manifest, "plain")["channels"][0]["overrides"]
    assert plain["set_headers"] == headers
    for secrets in ("omit", "env"):
        text = dump_manifest(manifest, "yaml", secrets)
        assert "proxy-secret" not in text and "k-1" not in text
        written = manifest_data(manifest, secrets)["channels"][0]["overrides"]
        assert written == {
            "drop_params": ["user"],
            "set_headers": {"Authorization": None, "X-Api-Key": None, "X-Org": "acme"},
        }
        env = {"BURNCLOUD_CHANNEL_POOL_KEY": "sk-1"}
        [read] = load_manifest(text, "yaml", env).channels or ()
        assert read.overrides["set_headers"]["Authorization"] is None  # kept at apply


def test_channels_whose_names_share_a_variable_cannot_be_written_with_env() -> None:
    specs = tuple(ChannelSpec(name=n, type="openai", models=("m",)) for n in ("a-b", "a_b"))
    with pytest.raises(InvalidRequest) as caught:
        manifest_data(Manifest(channels=specs), "env")
    assert caught.value.message == (
        "channels 'a-b' and 'a_b' would both take their key from BURNCLOUD_CHANNEL_A_B_KEY:"
        " rename one, or use --secrets omit or plain"
    )
    assert manifest_data(Manifest(channels=specs), "omit")["channels"][1]["name"] == "a_b"


def test_an_unknown_secrets_mode_or_file_format_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="unknown secrets mode 'all': use one of omit, env"):
        manifest_data(EXPECTED, "all")
    with pytest.raises(InvalidRequest, match="unknown file format 'xml': use yaml or json"):
        dump_manifest(EXPECTED, "xml", "omit")


def test_key_variable_names() -> None:
    assert key_variable("openai-main") == "BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY"
    assert key_variable("My Channel #2") == "BURNCLOUD_CHANNEL_MY_CHANNEL_2_KEY"
    assert key_variable("a..b--c") == "BURNCLOUD_CHANNEL_A_B_C_KEY"
    assert key_variable("中a") == "BURNCLOUD_CHANNEL__A_KEY"


def test_yaml_is_block_style_ascii_without_aliases() -> None:
    shared = {"gpt-4o": "gpt-4o-x"}
    specs = tuple(
        ChannelSpec(name=n, type="openai", models=("gpt-4o",), model_map=shared, config={"é": "中"})
        for n in ("a", "b")
    )
    text = dump_manifest(Manifest(channels=specs), "yaml", "plain")
    assert "&id" not in text and "*id" not in text
    assert "{" not in text.replace("{}", "") and "[" not in text.replace("[]", "")
    assert text.isascii()
    assert (
        "channels:\n  - name: a\n    type: openai\n    key_selection: random\n    models:\n"
        "      - gpt-4o\n" in text
    )
    assert load_manifest(text, "yaml", {}) == Manifest(channels=specs)


def test_the_json_is_indented_ascii() -> None:
    text = dump_manifest(Manifest(groups={"vip": Decimal("0.8")}), "json", "omit")
    assert text == '{\n  "format": "burncloud/1",\n  "groups": {\n    "vip": "0.8"\n  }\n}\n'


@SETTINGS
@given(manifest())
def test_every_manifest_survives_its_data(m: Manifest) -> None:
    assert parse_manifest(manifest_data(m, "plain")) == m


@SETTINGS
@given(manifest())
def test_every_manifest_survives_its_yaml_and_json_text(m: Manifest) -> None:
    for file_format in ("yaml", "json"):
        text = dump_manifest(m, file_format, "plain")
        assert load_manifest(text, file_format, {}) == m
        assert dump_manifest(load_manifest(text, file_format, {}), file_format, "plain") == text


@SETTINGS
@given(manifest())
def test_every_manifest_survives_env_secrets(m: Manifest) -> None:
    names = [c.name for c in m.channels or ()]
    assume(len({key_variable(n) for n in names}) == len(names))
    env = {key_variable(c.name): env_value(c.keys or ("sk-x",)) for c in m.channels or ()}
    read_back = load_manifest(dump_manifest(m, "yaml", "env"), "yaml", env)
    expected = tuple(
        replace(c, keys=c.keys or ("sk-x",), overrides=_secret_headers_kept(c.overrides))
        for c in m.channels or ()
    )
    assert read_back == replace(m, channels=expected if m.channels is not None else None)


def _secret_headers_kept(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` as ``--secrets env`` writes them: credential headers' values null."""
    headers = overrides.get("set_headers")
    if headers is None:
        return dict(overrides)
    kept = {k: None if secret_header(k) else v for k, v in headers.items()}
    return {**overrides, "set_headers": kept}


@SETTINGS
@given(manifest())
def test_the_order_objects_are_written_in_does_not_change_what_is_read(m: Manifest) -> None:
    data = manifest_data(m, "plain")
    for section in ("channels", "plans", "users", "tokens", "redemptions"):
        if section in data:
            random.Random(len(data[section])).shuffle(data[section])
    for section in ("plans", "users", "tokens"):
        for item in data.get(section, []):
            random.Random(len(item["budgets"])).shuffle(item["budgets"])
    assert parse_manifest(data) == m
