"""LiteLLM's proxy settings (``router_settings``, ``settings``, ``general_settings``
and the other top-level sections) against what burncloud has.

Carried: the routing strategy ``simple-shuffle`` (burncloud's weighted random), a default
``timeout`` (``router_settings.timeout``, else ``settings.request_timeout``) on
every channel whose entry sets none, and ``model_group_alias`` (the alias is served by
its target's channels). ``num_retries`` has its equivalent in the router's environment
(``BURNCLOUD_FAILOVER_ATTEMPTS``, channels tried per request): the report gives the line
to set. Everything else is reported with why it has no equivalent. Where both sections
name a setting, ``router_settings`` wins, as in LiteLLM. Values that may be secrets
(keys, URLs with passwords) are never repeated in the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.services.migration.litellm.source import Env, number, plain, section
from burncloud.services.migration.report import ReportLine

SHUFFLE = "simple-shuffle"
FAILOVER_ENV = "BURNCLOUD_FAILOVER_ATTEMPTS"
KNOWN_SECTIONS = (
    "model_list",
    "router_settings",
    "litellm_settings",
    "general_settings",
    "environment_variables",
    "credential_list",
)
_FALLBACKS = "no cross-model fallback: burncloud fails over between the channels of the"
_FALLBACKS += " requested model (give it several channels, with priorities)"
_BREAKER = "burncloud's circuit breaker is built in (per channel and model: opens after 3"
_BREAKER += " failures in a row, cools down from 5 s, doubling up to 300 s)"
_REDIS = "the routers of a fleet share state through Redis: set REDIS_URL in their environment"
_CALLBACKS = "no logging callbacks: burncloud keeps request logs in its database (burncloud log)"
REASONS = {
    "fallbacks": _FALLBACKS,
    "context_window_fallbacks": _FALLBACKS,
    "content_policy_fallbacks": _FALLBACKS,
    "default_fallbacks": _FALLBACKS,
    "allowed_fails": _BREAKER,
    "cooldown_time": _BREAKER,
    "disable_cooldowns": _BREAKER,
    "allowed_fails_policy": _BREAKER,
    "retry_policy": _BREAKER,
    "redis_host": _REDIS,
    "redis_port": _REDIS,
    "redis_password": _REDIS,
    "redis_url": _REDIS,
    "stream_timeout": "no separate stream timeout: the channel timeouts apply to streams too",
    "success_callback": _CALLBACKS,
    "failure_callback": _CALLBACKS,
    "callbacks": _CALLBACKS,
    "service_callbacks": _CALLBACKS,
    "cache": "no response cache",
    "cache_params": "no response cache",
    "drop_params": "no equivalent: burncloud forwards what a provider takes, converting formats",
    "master_key": "clients need burncloud keys (burncloud token create); the admin API takes"
    " admin keys (burncloud admin-key create)",
    "database_url": "LiteLLM's database (virtual keys, teams, spend) is not read; burncloud"
    " keeps its own (DATABASE_URL)",
    "key_management_system": "os.environ/ references were resolved from the environment only",
    "include": "included files are not read: merge them into this file and import it again",
}
SHOWN = frozenset(
    {
        "routing_strategy",
        "num_retries",
        "timeout",
        "request_timeout",
        "stream_timeout",
        "allowed_fails",
        "cooldown_time",
        "drop_params",
    }
)


@dataclass(slots=True)
class Settings:
    """What the settings mean for the channels, and the report lines they gave."""

    shuffle: bool = True
    timeout: Decimal | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    mapped: list[ReportLine] = field(default_factory=list)
    skipped: list[ReportLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def carried(self, source: str, outcome: str) -> None:
        self.mapped.append(ReportLine("setting", source, outcome))

    def left(self, source: str, outcome: str) -> None:
        self.skipped.append(ReportLine("setting", source, outcome))


def read_settings(data: Mapping[str, Any], env: Env) -> Settings:
    """The settings of the config, reported one by one."""
    found = Settings()
    router = section(data, "router_settings")
    module = section(data, "litellm_settings")
    for name, value in router.items():
        _router_setting(found, f"router_settings.{name}", str(name), value, env)
    for name, value in module.items():
        path = f"litellm_settings.{name}"
        overridden = "timeout" if name == "request_timeout" else str(name)
        if overridden in router and overridden in _ROUTER:
            found.left(path, f"overridden by router_settings.{overridden}")
        elif name in ("request_timeout", "num_retries"):
            _router_setting(
                found, path, "timeout" if name == "request_timeout" else name, value, env
            )
        else:
            found.left(path, _reason(name, value))
    for name, value in section(data, "general_settings").items():
        found.left(f"general_settings.{name}", _reason(name, value))
    _other_sections(found, data)
    return found


def _router_setting(found: Settings, path: str, name: str, value: Any, env: Env) -> None:
    handler = _ROUTER.get(name)
    if handler is None:
        found.left(path, _reason(name, value))
    else:
        handler(found, path, value, env)


def _strategy(found: Settings, path: str, value: Any, env: Env) -> None:
    if value == SHUFFLE:
        found.carried(
            path,
            f"{SHUFFLE}: weighted random inside a priority tier (burncloud's"
            " routing; weights from weight, else rpm, else tpm)",
        )
        return
    found.shuffle = False
    found.left(
        path,
        f"{value}: no equivalent; burncloud tries the highest priority first and"
        " picks at random by weight inside it (only explicit weights are kept)",
    )


def _timeout(found: Settings, path: str, value: Any, env: Env) -> None:
    seconds = number(env.resolve(value, path), path)
    if not 0 < seconds <= 86_400:
        raise InvalidRequest(f"{path}: expected seconds between 0 and 86400, got {value!r}")
    found.timeout = seconds
    found.carried(
        path,
        f"{plain(seconds)} s: first_byte_timeout and idle_timeout of every"
        " channel whose entry sets no timeout",
    )


def _retries(found: Settings, path: str, value: Any, env: Env) -> None:
    retries = number(env.resolve(value, path), path)
    if retries != retries.to_integral_value():
        raise InvalidRequest(f"{path}: expected a whole number, got {value!r}")
    line = f"{FAILOVER_ENV}={int(retries) + 1}"
    found.left(
        path,
        f"{plain(retries)}: set {line} in the router's environment (channels"
        " tried per request: the first and the retries; default 3)",
    )
    found.notes.append(f"router environment: {line} (from {path})")


def _aliases(found: Settings, path: str, value: Any, env: Env) -> None:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{path}: expected a mapping of alias: model_name")
    for alias, target in value.items():
        name = target.get("model") if isinstance(target, dict) else target
        if not isinstance(name, str) or not name.strip():
            raise InvalidRequest(f"{path}.{alias}: expected a model_name (or {{model: ...}})")
        found.aliases[str(alias)] = name.strip()


_ROUTER = {
    "routing_strategy": _strategy,
    "timeout": _timeout,
    "num_retries": _retries,
    "model_group_alias": _aliases,
}


def _other_sections(found: Settings, data: Mapping[str, Any]) -> None:
    names = section(data, "environment_variables")
    if names:
        found.carried(
            "environment_variables",
            f"{_count(len(names), 'variable')}, used for os.environ/ references (not stored)",
        )
    credentials = data.get("credential_list") or []
    if credentials:
        found.carried(
            "credential_list",
            f"{_count(len(credentials), 'credential')}, merged into the entries naming them"
            " (litellm_credential_name)",
        )
    for name, value in data.items():
        if name not in KNOWN_SECTIONS:
            found.left(str(name), _reason(str(name), value))


def _reason(name: str, value: Any) -> str:
    reason = REASONS.get(name, "no equivalent")
    if name in SHOWN and isinstance(value, str | int | Decimal | bool):
        return f"{plain(value) if isinstance(value, Decimal) else value}: {reason}"
    return reason


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")
