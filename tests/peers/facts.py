"""The key facts of a test peer database, the values tests assert against.

Money is in the peer's quota units (500,000 units = $1: the ``QuotaPerUnit`` option here).
Keys are as the peers store them: a token's 48 characters without ``sk-`` (clients send
``sk-`` + key), a redemption code's 32. ``peer_facts`` builds the same rows for both
flavours, except where the flavours differ (New API's soft-deleted token and its unknown
channel type, a Midjourney proxy).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

QUOTA_PER_UNIT = 500_000
FUTURE_EXPIRY = 1_893_456_000  # 2030-01-01T00:00:00Z
PAST_EXPIRY = 1_704_067_200  # 2024-01-01T00:00:00Z
# One API has no type 1000; New API's 2 is its Midjourney proxy: neither has a channel kind.
UNSUPPORTED_TYPE = {"oneapi": 1000, "newapi": 2}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class PeerChannel:
    id: int
    type: int
    name: str
    key: str
    base_url: str
    models: tuple[str, ...]
    groups: tuple[str, ...]
    priority: int
    weight: int
    model_mapping: Mapping[str, str]
    status: int = 1  # 1 enabled, 2 manually disabled, 3 auto-disabled
    other: str = ""  # Azure's API version (New API keeps it here, One API in config)
    tag: str | None = None  # New API only

    @property
    def enabled(self) -> bool:
        return self.status == 1

    def mapping_text(self) -> str:
        """``model_mapping`` as the peers' web UI saves it (indented JSON, or empty)."""
        return json.dumps(dict(self.model_mapping), indent=2) if self.model_mapping else ""


@dataclass(frozen=True, slots=True)
class PeerAbility:
    """One (group, model, channel) row of ``abilities``, as the peer derives it."""

    group: str
    model: str
    channel_id: int
    enabled: bool
    priority: int
    weight: int = 0  # New API only
    tag: str | None = None  # New API only


@dataclass(frozen=True, slots=True)
class PeerUser:
    id: int
    username: str
    role: int  # 1 common, 10 admin, 100 root
    status: int  # 1 enabled, 2 disabled
    quota: int  # remaining balance, in quota units
    used_quota: int
    group: str
    aff_code: str
    inviter_id: int = 0
    email: str = ""


@dataclass(frozen=True, slots=True)
class PeerToken:
    id: int
    user_id: int
    name: str
    key: str  # 48 characters, no `sk-`
    remain_quota: int
    used_quota: int = 0
    unlimited: bool = False
    expired_time: int = -1  # -1: never
    status: int = 1  # 1 enabled, 2 disabled, 3 expired, 4 exhausted
    models: tuple[str, ...] = ()  # One API `models`, New API `model_limits`
    ips: tuple[str, ...] = ()  # One API `subnet` (CIDRs), New API `allow_ips`
    deleted: bool = False  # New API soft delete (`deleted_at` set)


@dataclass(frozen=True, slots=True)
class PeerRedemption:
    id: int
    name: str
    key: str  # 32 hex characters
    quota: int
    status: int  # 1 unused, 2 disabled, 3 used
    used_user_id: int = 0

    @property
    def unused(self) -> bool:
        return self.status == 1


@dataclass(frozen=True, slots=True)
class PeerLog:
    id: int
    type: int  # 1 top-up, 2 consume, 3 manage, 4 system
    created_at: int
    user_id: int
    username: str
    content: str
    model_name: str = ""
    token_name: str = ""
    token_id: int = 0
    channel_id: int = 0
    quota: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    is_stream: bool = False
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class PeerFacts:
    """Everything in one test peer database."""

    flavor: str
    now: int
    channels: tuple[PeerChannel, ...]
    users: tuple[PeerUser, ...]
    tokens: tuple[PeerToken, ...]
    redemptions: tuple[PeerRedemption, ...]
    logs: tuple[PeerLog, ...]
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def abilities(self) -> tuple[PeerAbility, ...]:
        return tuple(a for c in self.channels for a in derive_abilities(self.flavor, c))

    @property
    def unsupported_channel(self) -> PeerChannel:
        return next(c for c in self.channels if c.type == UNSUPPORTED_TYPE[self.flavor])

    def user(self, username: str) -> PeerUser:
        return next(u for u in self.users if u.username == username)

    def tokens_of(self, username: str) -> tuple[PeerToken, ...]:
        owner = self.user(username).id
        return tuple(t for t in self.tokens if t.user_id == owner)

    @property
    def user_quota_total(self) -> int:
        return sum(u.quota for u in self.users)

    @property
    def unused_redemption_total(self) -> int:
        return sum(r.quota for r in self.redemptions if r.unused)


def derive_abilities(flavor: str, channel: PeerChannel) -> list[PeerAbility]:
    """The channel's ``abilities`` rows, as the peer's ``AddAbilities`` writes them: every
    model of the comma-separated list for every group; One API de-duplicates the models,
    New API the (group, model) pairs and copies the weight and tag."""
    models = list(dict.fromkeys(",".join(channel.models).split(",")))
    pairs = dict.fromkeys((g, m) for m in models for g in ",".join(channel.groups).split(","))
    newapi = flavor == "newapi"
    return [
        PeerAbility(
            group,
            model,
            channel.id,
            channel.enabled,
            channel.priority,
            weight=channel.weight if newapi else 0,
            tag=channel.tag if newapi else None,
        )
        for group, model in pairs
    ]


def peer_key(seed: str, length: int = 48) -> str:
    """A stable random-looking key of ``length`` letters and digits, as the peers make."""
    digest = int.from_bytes(hashlib.sha512(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        digest, rest = divmod(digest, 62)
        chars.append(_BASE62[rest])
    return "".join(chars)


def peer_facts(flavor: str, now: int | None = None) -> PeerFacts:
    """The rows of a realistic One API (``oneapi``) or New API (``newapi``) installation;
    log times are counted back from ``now`` (default: the current time)."""
    if flavor not in UNSUPPORTED_TYPE:
        raise ValueError(f"flavor must be 'oneapi' or 'newapi', got {flavor!r}")
    at = int(time.time()) if now is None else now
    return PeerFacts(
        flavor=flavor,
        now=at,
        channels=_channels(flavor),
        users=_USERS,
        tokens=_tokens(flavor),
        redemptions=_redemptions(flavor),
        logs=_logs(flavor, at),
        options=_options(flavor),
    )


def _channels(flavor: str) -> tuple[PeerChannel, ...]:
    key = f"{flavor}-channel"
    return (
        PeerChannel(
            1, 1, "openai-main", f"sk-proj-{peer_key(key + '1', 40)}", "",
            ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small"), ("default", "vip"),
            priority=10, weight=5, model_mapping={"gpt-4o": "gpt-4o-2024-08-06"}, tag="openai",
        ),
        PeerChannel(
            2, 3, "azure-east", peer_key(key + "2", 32), "https://contoso-east.openai.azure.com",
            ("gpt-4o", "gpt-4o-mini"), ("default",), priority=5, weight=1,
            model_mapping={"gpt-4o": "gpt4o-prod", "gpt-4o-mini": "gpt4o-mini-prod"},
            other="2024-10-21",
        ),
        PeerChannel(
            3, 14, "claude", f"sk-ant-api03-{peer_key(key + '3', 40)}", "https://api.anthropic.com",
            ("claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"), ("default", "vip"),
            priority=0, weight=1, model_mapping={},
        ),
        PeerChannel(
            4, 24, "gemini", f"AIza{peer_key(key + '4', 35)}", "",
            ("gemini-1.5-pro", "gemini-1.5-flash"), ("vip",), priority=0, weight=2,
            model_mapping={}, other="v1beta",
        ),
        PeerChannel(
            5, 8, "deepseek", f"sk-{peer_key(key + '5', 32)}", "https://api.deepseek.com",
            ("deepseek-chat", "deepseek-reasoner"), ("default", "vip"), priority=0, weight=3,
            model_mapping={"deepseek-r1": "deepseek-reasoner"},
        ),
        PeerChannel(
            6, UNSUPPORTED_TYPE[flavor], "mj-proxy", peer_key(key + "6", 24),
            "https://mj.example.com", ("mj_imagine", "mj_variation"), ("default",),
            priority=0, weight=1, model_mapping={},
        ),
        PeerChannel(
            7, 1, "openai-old", f"sk-{peer_key(key + '7', 48)}", "https://api.openai.com",
            ("gpt-3.5-turbo",), ("default",), priority=-1, weight=1, model_mapping={},
            status=2, tag="openai",
        ),
    )  # fmt: skip


_USERS = (
    PeerUser(1, "root", 100, 1, 1_000_000_000, 3_500_000, "default", "R00t", email="root@x.io"),
    PeerUser(2, "alice", 1, 1, 12_500_000, 1_750_000, "vip", "Ab12", inviter_id=1),
    PeerUser(3, "bob", 1, 2, 500_000, 0, "default", "Bq7x", inviter_id=2),
    PeerUser(4, "carol", 10, 1, 2_500_000, 250_000, "default", "Cz9k", email="carol@x.io"),
)


def _tokens(flavor: str) -> tuple[PeerToken, ...]:
    def key(name: str) -> str:
        return peer_key(f"{flavor}-token-{name}")

    tokens: tuple[PeerToken, ...] = (
        PeerToken(1, 1, "admin-all", key("1"), 0, used_quota=3_500_000, unlimited=True),
        PeerToken(
            2, 2, "laptop", key("2"), 5_000_000, used_quota=1_500_000,
            models=("gpt-4o", "claude-3-5-sonnet-20241022"), ips=("10.0.0.0/8", "192.168.1.0/24"),
        ),
        PeerToken(3, 2, "ci", key("3"), 1_000_000, used_quota=250_000, expired_time=FUTURE_EXPIRY),
        PeerToken(4, 2, "ci", key("4"), 0, status=2),
        PeerToken(5, 3, "old", key("5"), 250_000, expired_time=PAST_EXPIRY, status=3),
        PeerToken(6, 4, "ops", key("6"), 2_000_000, used_quota=250_000),
    )  # fmt: skip
    if flavor == "newapi":
        tokens += (PeerToken(7, 3, "revoked", key("7"), 100_000, deleted=True),)
    return tokens


def _redemptions(flavor: str) -> tuple[PeerRedemption, ...]:
    def key(name: str) -> str:
        return hashlib.md5(f"{flavor}-code-{name}".encode()).hexdigest()

    return (
        PeerRedemption(1, "welcome", key("1"), 2_500_000, 1),
        PeerRedemption(2, "promo", key("2"), 500_000, 1),
        PeerRedemption(3, "spent", key("3"), 1_000_000, 3, used_user_id=2),
        PeerRedemption(4, "void", key("4"), 750_000, 2),
    )


def _options(flavor: str) -> dict[str, str]:
    options = {
        "QuotaPerUnit": str(QUOTA_PER_UNIT),
        "ModelRatio": json.dumps(
            {
                "gpt-4o": 1.25,
                "gpt-4o-mini": 0.075,
                "text-embedding-3-small": 0.01,
                "claude-3-5-sonnet-20241022": 1.5,
                "gemini-1.5-pro": 0.625,
                "deepseek-chat": 0.135,
            },
            indent=2,
        ),
        "CompletionRatio": json.dumps({"gpt-4o": 4, "claude-3-5-sonnet-20241022": 5}, indent=2),
        "GroupRatio": json.dumps({"default": 1, "vip": 0.8, "svip": 0.5}, indent=2),
        "QuotaForInviter": "500000",
        "QuotaForInvitee": "250000",
        "SystemName": "My AI Gateway",
        "LogConsumeEnabled": "true",
    }
    if flavor == "newapi":
        options["ModelPrice"] = json.dumps({"mj_imagine": 0.1, "dall-e-3": 0.04}, indent=2)
        options["CacheRatio"] = json.dumps(
            {"gpt-4o": 0.5, "claude-3-5-sonnet-20241022": 0.1}, indent=2
        )
    return options


def _logs(flavor: str, now: int) -> tuple[PeerLog, ...]:
    day = 86_400

    def use(i: int, ago: float, token: int, model: str, channel: int, quota: int) -> PeerLog:
        name = {1: "admin-all", 2: "laptop", 3: "ci", 6: "ops"}[token]
        user = {1: (1, "root"), 2: (2, "alice"), 3: (2, "alice"), 6: (4, "carol")}[token]
        return PeerLog(
            i, 2, now - int(ago * day), *user, content="模型倍率 1.25，分组倍率 1",
            model_name=model, token_name=name, token_id=token, channel_id=channel, quota=quota,
            prompt_tokens=1200 + i, completion_tokens=350 + i, is_stream=i % 2 == 0,
            request_id=f"{flavor}-req-{i:04d}",
        )  # fmt: skip

    return (
        PeerLog(1, 4, now - 45 * day, 2, "alice", "新用户注册赠送 $1.000000 额度"),
        use(2, 40, 2, "gpt-4o", 1, 3_125),
        use(3, 35, 3, "claude-3-5-sonnet-20241022", 3, 5_400),
        PeerLog(4, 1, now - 25 * day, 2, "alice", "通过兑换码充值 $2.000000 额度", quota=1_000_000),
        use(5, 20, 2, "gpt-4o-mini", 2, 190),
        use(6, 10, 6, "deepseek-chat", 5, 600),
        PeerLog(7, 3, now - 5 * day, 3, "bob", "管理员将用户额度从 $2 修改为 $1"),
        use(8, 3, 1, "gpt-4o", 1, 2_800),
        use(9, 2, 2, "gpt-4o", 2, 4_100),
        use(10, 1, 3, "gemini-1.5-pro", 4, 1_700),
        use(11, 0.5, 2, "claude-3-5-sonnet-20241022", 3, 6_050),
        use(12, 0.1, 6, "deepseek-chat", 5, 420),
    )
