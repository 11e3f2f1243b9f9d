"""Facts -> the rows each peer writes, column by column, as its own code would store them.

Every column of ``tables.py`` gets a value here (a missing or extra one is a KeyError in
``build.py``, so the rows and the transcribed structs cannot drift apart).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from tests.peers.facts import (
    PeerAbility,
    PeerChannel,
    PeerFacts,
    PeerLog,
    PeerRedemption,
    PeerToken,
    PeerUser,
)

Row = dict[str, Any]
CREATED = 1_718_000_000  # 2024-06-10: when the installation's rows were made
_BCRYPT = "$2a$10$" + "N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"


def peer_rows(facts: PeerFacts) -> dict[str, list[Row]]:
    """Table name -> rows, for the facts' flavour."""
    one = facts.flavor == "oneapi"
    return {
        "channels": [(_oneapi_channel if one else _newapi_channel)(c) for c in facts.channels],
        "tokens": [(_oneapi_token if one else _newapi_token)(t) for t in facts.tokens],
        "users": [_oneapi_user(u) if one else _newapi_user(u, facts) for u in facts.users],
        "options": [{"key": k, "value": v} for k, v in facts.options.items()],
        "redemptions": [
            (_oneapi_redemption if one else _newapi_redemption)(r) for r in facts.redemptions
        ],
        "abilities": [(_oneapi_ability if one else _newapi_ability)(a) for a in facts.abilities],
        "logs": [(_oneapi_log if one else _newapi_log)(g) for g in facts.logs],
    }


def _channel(c: PeerChannel) -> Row:
    return {
        "id": c.id,
        "type": c.type,
        "key": c.key,
        "status": c.status,
        "name": c.name,
        "weight": c.weight,
        "created_time": CREATED + c.id,
        "test_time": CREATED + 3600,
        "response_time": 420 + 10 * c.id,
        "base_url": c.base_url,
        "balance": 0.0,
        "balance_updated_time": 0,
        "models": ",".join(c.models),
        "group": ",".join(c.groups),
        "used_quota": 10_000 * c.id,
        "model_mapping": c.mapping_text(),
        "priority": c.priority,
    }


def _oneapi_channel(c: PeerChannel) -> Row:
    config = f'{{"api_version":"{c.other}"}}' if c.type == 3 else "{}"
    return _channel(c) | {"other": "", "config": config, "system_prompt": None}


def _newapi_channel(c: PeerChannel) -> Row:
    info = (
        '{"is_multi_key":false,"multi_key_size":0,"multi_key_status_list":null,'
        '"multi_key_polling_index":0,"multi_key_mode":""}'
    )
    return _channel(c) | {
        "openai_organization": None,
        "test_model": c.models[0],
        "other": c.other,
        "status_code_mapping": "",
        "auto_ban": 1,
        "other_info": "",
        "tag": c.tag,
        "setting": '{"force_format":false,"thinking_to_content":false,"proxy":""}',
        "param_override": None,
        "header_override": None,
        "remark": None,
        "channel_info": info,
        "settings": "{}",
    }


def _token(t: PeerToken) -> Row:
    return {
        "id": t.id,
        "user_id": t.user_id,
        "key": t.key,
        "status": t.status,
        "name": t.name,
        "created_time": CREATED + 100 * t.id,
        "accessed_time": CREATED + 86_400 * t.id,
        "expired_time": t.expired_time,
        "remain_quota": t.remain_quota,
        "unlimited_quota": t.unlimited,
        "used_quota": t.used_quota,
    }


def _oneapi_token(t: PeerToken) -> Row:
    return _token(t) | {"models": ",".join(t.models), "subnet": ",".join(t.ips)}


def _newapi_token(t: PeerToken) -> Row:
    return _token(t) | {
        "model_limits_enabled": bool(t.models),
        "model_limits": ",".join(t.models),
        "allow_ips": "\n".join(t.ips),
        "group": "",
        "cross_group_retry": False,
        "deleted_at": datetime(2025, 3, 1, tzinfo=UTC) if t.deleted else None,
    }


def _user(u: PeerUser) -> Row:
    return {
        "id": u.id,
        "username": u.username,
        "password": _BCRYPT,
        "display_name": u.username.title(),
        "role": u.role,
        "status": u.status,
        "email": u.email,
        "github_id": "",
        "wechat_id": "",
        "oidc_id": "",
        "quota": u.quota,
        "used_quota": u.used_quota,
        "request_count": u.used_quota // 2_000,
        "group": u.group,
        "aff_code": u.aff_code,
        "inviter_id": u.inviter_id,
    }


def _access_token(u: PeerUser) -> str:
    return hashlib.md5(f"access-{u.username}".encode()).hexdigest()  # a UUID's 32 hex


def _oneapi_user(u: PeerUser) -> Row:
    return _user(u) | {"lark_id": "", "access_token": _access_token(u)}


def _newapi_user(u: PeerUser, facts: PeerFacts) -> Row:
    return _user(u) | {
        "discord_id": "",
        "telegram_id": "",
        "access_token": _access_token(u) if u.role == 100 else None,
        "aff_count": sum(1 for other in facts.users if other.inviter_id == u.id),
        "aff_quota": 0,
        "aff_history": 0,
        "deleted_at": None,
        "linux_do_id": "",
        "setting": '{"notify_type":"email"}',
        "remark": None,
        "stripe_customer": "",
    }


def _redemption(r: PeerRedemption) -> Row:
    return {
        "id": r.id,
        "user_id": 1,  # the admin who made the code
        "key": r.key,
        "status": r.status,
        "name": r.name,
        "quota": r.quota,
        "created_time": CREATED + r.id,
        "redeemed_time": CREATED + 86_400 if r.status == 3 else 0,
    }


def _oneapi_redemption(r: PeerRedemption) -> Row:
    return _redemption(r)


def _newapi_redemption(r: PeerRedemption) -> Row:
    return _redemption(r) | {"used_user_id": r.used_user_id, "deleted_at": None, "expired_time": 0}


def _oneapi_ability(a: PeerAbility) -> Row:
    return {
        "group": a.group,
        "model": a.model,
        "channel_id": a.channel_id,
        "enabled": a.enabled,
        "priority": a.priority,
    }


def _newapi_ability(a: PeerAbility) -> Row:
    return _oneapi_ability(a) | {"weight": a.weight, "tag": a.tag}


def _log(g: PeerLog) -> Row:
    return {
        "id": g.id,
        "user_id": g.user_id,
        "created_at": g.created_at,
        "type": g.type,
        "content": g.content,
        "username": g.username,
        "token_name": g.token_name,
        "model_name": g.model_name,
        "quota": g.quota,
        "prompt_tokens": g.prompt_tokens,
        "completion_tokens": g.completion_tokens,
        "channel_id": g.channel_id,
        "is_stream": g.is_stream,
    }


def _oneapi_log(g: PeerLog) -> Row:
    return _log(g) | {
        "request_id": g.request_id,
        "elapsed_time": 850 if g.type == 2 else 0,
        "system_prompt_reset": False,
    }


def _newapi_log(g: PeerLog) -> Row:
    other = '{"model_ratio":1.25,"group_ratio":1,"completion_ratio":4}' if g.type == 2 else ""
    return _log(g) | {
        "use_time": 2 if g.type == 2 else 0,
        "channel_name": None,
        "token_id": g.token_id,
        "group": "vip" if g.username == "alice" else "default",
        "ip": "",
        "other": other,
    }
