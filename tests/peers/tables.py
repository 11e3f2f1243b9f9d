"""The peers' tables, transcribed field by field from their GORM structs (``model/*.go``).

One API: songquanpeng/one-api, the v0.6.x line (module ``github.com/songquanpeng/one-api``).
``model/token.go`` as read at commit 0b8ccb94eb8c0b69e81ab060ffb60ad3b667387d (key
``char(48)``, ``models`` and ``subnet``). ``channel.go`` (``config``, ``system_prompt``,
``model_mapping varchar(1024)``), ``user.go`` (``lark_id``, ``oidc_id``, ``quota bigint``),
``log.go`` (``request_id``, ``elapsed_time``, ``is_stream``, ``system_prompt_reset``),
``ability.go``, ``redemption.go`` and ``option.go`` as of the same line (v0.6.10): read in
the search index's copies of that line (songquanpeng/one-api's own stored copies of those
files there are older releases; the forks maru7777/one-api and nxsre/one-api carry the
v0.6.x structs unchanged apart from their own additions, which are left out here).

New API: QuantumNous/new-api, the v0.9.x line (module ``github.com/QuantumNous/new-api``):
``channel.go`` as at commit 0102ffab86da3461be812c605d92800649e6eb06 less a fork's
``need_reconcile``; ``ability.go`` at 004a70dc87e9cf29738688547039e930cfba324c;
``redemption.go`` at 03f1eccae6b39bd33e755eff91af58f1e5104355; ``log.go`` at
00423442d4ccdcc68fc962809e2623b1ee13b63e; ``token.go`` with ``key char(48)``,
``model_limits varchar(1024)``, ``allow_ips``, ``cross_group_retry`` and soft delete (a newer
commit, 0067bd93, widens the key to ``varchar(128)`` and adds ``billing_type``: importers
read the columns they need and tolerate both); ``user.go`` with the ``aff_*`` columns
(``aff_history`` is the column of ``AffHistoryQuota``), soft delete and ``stripe_customer``.
``option.go`` is ``Option{Key primaryKey, Value}`` in both projects.
"""

from __future__ import annotations

from tests.peers.schema import Col, Index, Table

ID = Col("id", "int", primary=True, auto=True)
OPTIONS = Table("options", (Col("key", "string", primary=True), Col("value", "string")))
DELETED_AT = Col("deleted_at", "time", index=True)

ONEAPI_CHANNELS = Table(
    "channels",
    (
        ID,
        Col("type", "int", default="0"),
        Col("key", "string", type="text"),
        Col("status", "int", default="1"),
        Col("name", "string", index=True),
        Col("weight", "uint", default="0"),
        Col("created_time", "int"),
        Col("test_time", "int"),
        Col("response_time", "int"),
        Col("base_url", "string", default="''"),
        Col("other", "string"),
        Col("balance", "float"),
        Col("balance_updated_time", "int"),
        Col("models", "string"),
        Col("group", "string", type="varchar(32)", default="'default'"),
        Col("used_quota", "int", default="0"),
        Col("model_mapping", "string", type="varchar(1024)", default="''"),
        Col("priority", "int", default="0"),
        Col("config", "string"),
        Col("system_prompt", "string", type="text"),
    ),
)

ONEAPI_TOKENS = Table(
    "tokens",
    (
        ID,
        Col("user_id", "int"),
        Col("key", "string", type="char(48)", unique_index=True),
        Col("status", "int", default="1"),
        Col("name", "string", index=True),
        Col("created_time", "int"),
        Col("accessed_time", "int"),
        Col("expired_time", "int", default="-1"),
        Col("remain_quota", "int", default="0"),
        Col("unlimited_quota", "bool", default="false"),
        Col("used_quota", "int", default="0"),
        Col("models", "string", default="''"),
        Col("subnet", "string", default="''"),
    ),
)

ONEAPI_USERS = Table(
    "users",
    (
        ID,
        Col("username", "string", unique=True, index=True),
        Col("password", "string", not_null=True),
        Col("display_name", "string", index=True),
        Col("role", "int", type="int", default="1"),
        Col("status", "int", type="int", default="1"),
        Col("email", "string", index=True),
        Col("github_id", "string", index=True),
        Col("wechat_id", "string", index=True),
        Col("lark_id", "string", index=True),
        Col("oidc_id", "string", index=True),
        Col("access_token", "string", type="char(32)", unique_index=True),
        Col("quota", "int", default="0"),
        Col("used_quota", "int", default="0"),
        Col("request_count", "int", type="int", default="0"),
        Col("group", "string", type="varchar(32)", default="'default'"),
        Col("aff_code", "string", type="varchar(32)", unique_index=True),
        Col("inviter_id", "int", type="int", index=True),
    ),
)

ONEAPI_ABILITIES = Table(
    "abilities",
    (
        Col("group", "string", type="varchar(32)", primary=True),
        Col("model", "string", primary=True),
        Col("channel_id", "int", primary=True, index=True),
        Col("enabled", "bool"),
        Col("priority", "int", default="0", index=True),
    ),
)

ONEAPI_REDEMPTIONS = Table(
    "redemptions",
    (
        ID,
        Col("user_id", "int"),
        Col("key", "string", type="char(32)", unique_index=True),
        Col("status", "int", default="1"),
        Col("name", "string", index=True),
        Col("quota", "int", default="100"),
        Col("created_time", "int"),
        Col("redeemed_time", "int"),
    ),
)

ONEAPI_LOGS = Table(
    "logs",
    (
        ID,
        Col("user_id", "int", index=True),
        Col("created_at", "int", named_index=True),
        Col("type", "int", named_index=True),
        Col("content", "string"),
        Col("username", "string", default="''", named_index=True),
        Col("token_name", "string", default="''", index=True),
        Col("model_name", "string", default="''", index=True, named_index=True),
        Col("quota", "int", default="0"),
        Col("prompt_tokens", "int", default="0"),
        Col("completion_tokens", "int", default="0"),
        Col("channel_id", "int", index=True),
        Col("request_id", "string", default="''"),
        Col("elapsed_time", "int", default="0"),
        Col("is_stream", "bool", default="false"),
        Col("system_prompt_reset", "bool", default="false"),
    ),
    (
        Index("idx_created_at_type", ("created_at", "type")),
        Index("index_username_model_name", ("model_name", "username")),
    ),
)

NEWAPI_CHANNELS = Table(
    "channels",
    (
        ID,
        Col("type", "int", default="0"),
        Col("key", "string", not_null=True),
        Col("openai_organization", "string"),
        Col("test_model", "string"),
        Col("status", "int", default="1"),
        Col("name", "string", index=True),
        Col("weight", "uint", default="0"),
        Col("created_time", "int"),
        Col("test_time", "int"),
        Col("response_time", "int"),
        Col("base_url", "string", default="''"),
        Col("other", "string"),
        Col("balance", "float"),
        Col("balance_updated_time", "int"),
        Col("models", "string"),
        Col("group", "string", type="varchar(64)", default="'default'"),
        Col("used_quota", "int", default="0"),
        Col("model_mapping", "string", type="text"),
        Col("status_code_mapping", "string", type="varchar(1024)", default="''"),
        Col("priority", "int", default="0"),
        Col("auto_ban", "int", default="1"),
        Col("other_info", "string"),
        Col("tag", "string", index=True),
        Col("setting", "string", type="text"),
        Col("param_override", "string", type="text"),
        Col("header_override", "string", type="text"),
        Col("remark", "string", type="varchar(255)"),
        Col("channel_info", "string", type="json"),
        Col("settings", "string"),
    ),
)

NEWAPI_TOKENS = Table(
    "tokens",
    (
        ID,
        Col("user_id", "int", index=True),
        Col("key", "string", type="char(48)", unique_index=True),
        Col("status", "int", default="1"),
        Col("name", "string", index=True),
        Col("created_time", "int"),
        Col("accessed_time", "int"),
        Col("expired_time", "int", default="-1"),
        Col("remain_quota", "int", default="0"),
        Col("unlimited_quota", "bool"),
        Col("model_limits_enabled", "bool"),
        Col("model_limits", "string", type="varchar(1024)", default="''"),
        Col("allow_ips", "string", default="''"),
        Col("used_quota", "int", default="0"),
        Col("group", "string", default="''"),
        Col("cross_group_retry", "bool"),
        DELETED_AT,
    ),
)

NEWAPI_USERS = Table(
    "users",
    (
        ID,
        Col("username", "string", unique=True, index=True),
        Col("password", "string", not_null=True),
        Col("display_name", "string", index=True),
        Col("role", "int", type="int", default="1"),
        Col("status", "int", type="int", default="1"),
        Col("email", "string", index=True),
        Col("github_id", "string", index=True),
        Col("discord_id", "string", index=True),
        Col("oidc_id", "string", index=True),
        Col("wechat_id", "string", index=True),
        Col("telegram_id", "string", index=True),
        Col("access_token", "string", type="char(32)", unique_index=True),
        Col("quota", "int", type="int", default="0"),
        Col("used_quota", "int", type="int", default="0"),
        Col("request_count", "int", type="int", default="0"),
        Col("group", "string", type="varchar(64)", default="'default'"),
        Col("aff_code", "string", type="varchar(32)", unique_index=True),
        Col("aff_count", "int", type="int", default="0"),
        Col("aff_quota", "int", type="int", default="0"),
        Col("aff_history", "int", type="int", default="0"),
        Col("inviter_id", "int", type="int", index=True),
        DELETED_AT,
        Col("linux_do_id", "string", index=True),
        Col("setting", "string", type="text"),
        Col("remark", "string", type="varchar(255)"),
        Col("stripe_customer", "string", type="varchar(64)", index=True),
    ),
)

NEWAPI_ABILITIES = Table(
    "abilities",
    (
        Col("group", "string", type="varchar(64)", primary=True),
        Col("model", "string", type="varchar(255)", primary=True),
        Col("channel_id", "int", primary=True, index=True),
        Col("enabled", "bool"),
        Col("priority", "int", default="0", index=True),
        Col("weight", "uint", default="0", index=True),
        Col("tag", "string", index=True),
    ),
)

NEWAPI_REDEMPTIONS = Table(
    "redemptions",
    (
        ID,
        Col("user_id", "int"),
        Col("key", "string", type="char(32)", unique_index=True),
        Col("status", "int", default="1"),
        Col("name", "string", index=True),
        Col("quota", "int", default="100"),
        Col("created_time", "int"),
        Col("redeemed_time", "int"),
        Col("used_user_id", "int", index=True),
        DELETED_AT,
        Col("expired_time", "int"),
    ),
)

NEWAPI_LOGS = Table(
    "logs",
    (
        Col("id", "int", primary=True, auto=True, named_index=True),
        Col("user_id", "int", index=True),
        Col("created_at", "int", named_index=True),
        Col("type", "int", named_index=True),
        Col("content", "string"),
        Col("username", "string", default="''", index=True, named_index=True),
        Col("token_name", "string", default="''", index=True),
        Col("model_name", "string", default="''", index=True, named_index=True),
        Col("quota", "int", default="0"),
        Col("prompt_tokens", "int", default="0"),
        Col("completion_tokens", "int", default="0"),
        Col("use_time", "int", default="0"),
        Col("is_stream", "bool"),
        Col("channel_id", "int", index=True),
        Col("channel_name", "string"),
        Col("token_id", "int", default="0", index=True),
        Col("group", "string", index=True),
        Col("ip", "string", default="''", index=True),
        Col("other", "string"),
    ),
    (
        Index("idx_created_at_id", ("id", "created_at")),
        Index("idx_created_at_type", ("created_at", "type")),
        Index("index_username_model_name", ("model_name", "username")),
    ),
)

# In AutoMigrate's order (model/main.go), the tables an importer reads.
TABLES: dict[str, tuple[Table, ...]] = {
    "oneapi": (
        ONEAPI_CHANNELS,
        ONEAPI_TOKENS,
        ONEAPI_USERS,
        OPTIONS,
        ONEAPI_REDEMPTIONS,
        ONEAPI_ABILITIES,
        ONEAPI_LOGS,
    ),
    "newapi": (
        NEWAPI_CHANNELS,
        NEWAPI_TOKENS,
        NEWAPI_USERS,
        OPTIONS,
        NEWAPI_REDEMPTIONS,
        NEWAPI_ABILITIES,
        NEWAPI_LOGS,
    ),
}
