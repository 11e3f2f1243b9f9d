"""Settings from the environment, overridable by CLI flags."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from burncloud.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:burncloud.db"
SERVERS = ("hypercorn", "uvicorn")  # the ASGI servers `burncloud router` can run on
# Per worker: 10,000 streams across 2 workers fit even when one worker holds them all.
DEFAULT_MAX_CONNECTIONS = 10_000


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the router and the CLI read from their environment."""

    host: str = "0.0.0.0"
    port: int = 3000
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_prefix: str = "burncloud:"  # namespace of this installation's Redis keys
    log_level: str = "info"
    secret: str | None = None
    workers: int = field(default_factory=lambda: default_workers())
    grace_period: float = 30.0
    max_body_bytes: int = 32 * 1024 * 1024
    allow_free_models: bool = False
    config_poll_seconds: float = 1.0  # how often routers look for configuration changes
    fetch_allow_private: bool = False  # image URLs on private (intranet) addresses
    allow_private_upstreams: bool = False  # channel base URLs on link-local / metadata addresses
    failover_attempts: int = 3  # channels tried per request at most
    failover_deadline: float = 60.0  # seconds after which no further channel is tried
    session_ttl: float = 3600.0  # seconds a conversation stays on its channel since last use
    probe_seconds: float = 60.0  # how often auto-disabled channels are probed
    response_retention_days: int = 30  # stored Responses API state is kept this long
    log_retention_days: int = 90  # request log rows are kept this long (0: for ever)
    timezone: str = "UTC"  # where budget days, weeks and months begin (an IANA name)
    default_plan: str | None = None  # the plan new users get when no `plan default` is set
    # Alerts (burncloud.services.alerts): how often each worker looks for due deliveries,
    # the first retry's delay (doubled per retry, at most an hour, for a day), a webhook's
    # time to answer, how often the fleet checks budgets, forecasts, the error rate and
    # routers, and the error rate (percent of requests) that raises error-rate alerts.
    alert_poll_seconds: float = 5.0
    alert_retry_seconds: int = 30
    alert_timeout: float = 10.0
    alert_watch_seconds: float = 60.0
    alert_error_rate: int = 20
    # Upstream balances (burncloud.services.upstream_balance): how often a channel without
    # its own --balance-every is checked (seconds; 0: never), and the amount, in the
    # balance's currency, under which a channel without its own threshold raises the
    # upstream-balance alert.
    balance_every: int = 3600
    balance_alert_below: Decimal = Decimal(10)
    metrics_token: str | None = None  # when set, GET /metrics wants it as a bearer token
    server: str = "hypercorn"  # or "uvicorn" (the uvicorn extra): less CPU per request
    spill_dir: str | None = None  # for log rows unwritable at shutdown (default: by SQLite)
    # What one client connection may hold of a worker (burncloud.serving.limits).
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # per worker; past it a connection gets 503
    max_header_bytes: int = 64 * 1024  # a request line and headers larger get 431
    header_timeout: float = 30.0  # seconds for a request's line and headers to arrive
    keep_alive: float = 75.0  # seconds an idle connection is kept between requests

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: ``os.environ``)."""
        env = os.environ if env is None else env
        default = _DEFAULTS
        return cls(
            host=env.get("HOST") or default.host,
            port=_int(env, "PORT", default.port),
            database_url=env.get("DATABASE_URL") or default.database_url,
            redis_url=env.get("REDIS_URL") or None,
            redis_prefix=env.get("BURNCLOUD_REDIS_PREFIX") or default.redis_prefix,
            log_level=(env.get("LOG_LEVEL") or default.log_level).lower(),
            secret=env.get("BURNCLOUD_SECRET") or None,
            metrics_token=env.get("BURNCLOUD_METRICS_TOKEN") or None,
            server=_server(env.get("BURNCLOUD_SERVER") or default.server),
            spill_dir=env.get("BURNCLOUD_SPILL_DIR") or None,
            workers=int(_positive("WORKERS", _int(env, "WORKERS", default.workers))),
            grace_period=_float(env, "BURNCLOUD_GRACE_PERIOD", default.grace_period),
            max_body_bytes=_int(env, "BURNCLOUD_MAX_BODY_BYTES", default.max_body_bytes),
            allow_free_models=_bool(env, "BURNCLOUD_ALLOW_FREE_MODELS", default.allow_free_models),
            fetch_allow_private=_bool(
                env, "BURNCLOUD_FETCH_ALLOW_PRIVATE", default.fetch_allow_private
            ),
            allow_private_upstreams=_bool(
                env, "BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS", default.allow_private_upstreams
            ),
            failover_attempts=int(
                _positive(
                    "BURNCLOUD_FAILOVER_ATTEMPTS",
                    _int(env, "BURNCLOUD_FAILOVER_ATTEMPTS", default.failover_attempts),
                )
            ),
            failover_deadline=_positive(
                "BURNCLOUD_FAILOVER_DEADLINE",
                _float(env, "BURNCLOUD_FAILOVER_DEADLINE", default.failover_deadline),
            ),
            session_ttl=_duration(env, "BURNCLOUD_SESSION_TTL", default.session_ttl),
            probe_seconds=_positive(
                "BURNCLOUD_PROBE_SECONDS",
                _float(env, "BURNCLOUD_PROBE_SECONDS", default.probe_seconds),
            ),
            config_poll_seconds=_positive(
                "BURNCLOUD_CONFIG_POLL_SECONDS",
                _float(env, "BURNCLOUD_CONFIG_POLL_SECONDS", default.config_poll_seconds),
            ),
            response_retention_days=int(
                _positive(
                    "BURNCLOUD_RESPONSE_RETENTION_DAYS",
                    _int(env, "BURNCLOUD_RESPONSE_RETENTION_DAYS", default.response_retention_days),
                )
            ),
            log_retention_days=_non_negative(
                "BURNCLOUD_LOG_RETENTION_DAYS",
                _int(env, "BURNCLOUD_LOG_RETENTION_DAYS", default.log_retention_days),
            ),
            timezone=_timezone(env.get("BURNCLOUD_TIMEZONE") or default.timezone),
            default_plan=env.get("BURNCLOUD_DEFAULT_PLAN") or None,
            balance_every=_non_negative(
                "BURNCLOUD_BALANCE_EVERY",
                _int(env, "BURNCLOUD_BALANCE_EVERY", default.balance_every),
            ),
            balance_alert_below=_amount(
                env, "BURNCLOUD_BALANCE_ALERT_BELOW", default.balance_alert_below
            ),
            **_alert_settings(env),
            **_server_limits(env),
        )

    def with_overrides(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        workers: int | None = None,
        grace_period: float | None = None,
        database_url: str | None = None,
        server: str | None = None,
    ) -> Settings:
        """A copy with the CLI's flags applied; None is a flag not given (the setting stays)."""
        changed = replace(
            self,
            host=self.host if host is None else host,
            port=self.port if port is None else port,
            workers=self.workers if workers is None else workers,
            grace_period=self.grace_period if grace_period is None else grace_period,
            database_url=self.database_url if database_url is None else database_url,
            server=self.server if server is None else server,
        )
        _server(changed.server)
        return changed


def default_workers() -> int:
    """One worker per core this process may run on: measured on 2 cores, a second worker
    nearly doubles the requests served (bench/), and each holds ~66 MB idle."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _ServerLimits(TypedDict):
    max_connections: int
    max_header_bytes: int
    header_timeout: float
    keep_alive: float


def _server_limits(env: Mapping[str, str]) -> _ServerLimits:
    """The per-connection limits every server applies (``burncloud.serving.limits``)."""
    default = _DEFAULTS
    return {
        "max_connections": int(
            _positive(
                "BURNCLOUD_MAX_CONNECTIONS",
                _int(env, "BURNCLOUD_MAX_CONNECTIONS", default.max_connections),
            )
        ),
        "max_header_bytes": int(
            _positive(
                "BURNCLOUD_MAX_HEADER_BYTES",
                _int(env, "BURNCLOUD_MAX_HEADER_BYTES", default.max_header_bytes),
            )
        ),
        "header_timeout": _positive(
            "BURNCLOUD_HEADER_TIMEOUT",
            _float(env, "BURNCLOUD_HEADER_TIMEOUT", default.header_timeout),
        ),
        "keep_alive": _positive(
            "BURNCLOUD_KEEP_ALIVE", _float(env, "BURNCLOUD_KEEP_ALIVE", default.keep_alive)
        ),
    }


class _AlertSettings(TypedDict):
    alert_poll_seconds: float
    alert_retry_seconds: int
    alert_timeout: float
    alert_watch_seconds: float
    alert_error_rate: int


def _alert_settings(env: Mapping[str, str]) -> _AlertSettings:
    """The alert worker's cadences and the error-rate threshold (``BURNCLOUD_ALERT_*``)."""
    default = _DEFAULTS

    def positive(name: str, value: float) -> float:
        return _positive(f"BURNCLOUD_ALERT_{name}", _float(env, f"BURNCLOUD_ALERT_{name}", value))

    rate = _int(env, "BURNCLOUD_ALERT_ERROR_RATE", default.alert_error_rate)
    if not 1 <= rate <= 100:
        raise ConfigError(f"BURNCLOUD_ALERT_ERROR_RATE must be a percent from 1 to 100, got {rate}")
    return {
        "alert_poll_seconds": positive("POLL_SECONDS", default.alert_poll_seconds),
        "alert_retry_seconds": int(
            _positive(
                "BURNCLOUD_ALERT_RETRY_SECONDS",
                _int(env, "BURNCLOUD_ALERT_RETRY_SECONDS", default.alert_retry_seconds),
            )
        ),
        "alert_timeout": positive("TIMEOUT", default.alert_timeout),
        "alert_watch_seconds": positive("WATCH_SECONDS", default.alert_watch_seconds),
        "alert_error_rate": rate,
    }


def _timezone(name: str) -> str:
    """An IANA timezone name this machine knows (``BURNCLOUD_TIMEZONE``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"BURNCLOUD_TIMEZONE={name!r} is not a timezone: use an IANA name such as"
            " UTC, Europe/Berlin or America/New_York"
        ) from None
    return name


def _server(name: str) -> str:
    if name not in SERVERS:
        raise ConfigError(f"unknown server {name!r}: use one of {', '.join(SERVERS)}")
    return name


_DEFAULTS = Settings()


def _amount(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    """A non-negative decimal amount (``10``, ``2.5``)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(env: Mapping[str, str], name: str, default: float) -> float:
    """Seconds, as a number or with a unit (90s, 30m, 1h, 1d); 0 is allowed."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    found = _DURATION.fullmatch(raw)
    if found is None:
        raise ConfigError(f"{name} must be seconds or a duration such as 30m or 1h, got {raw!r}")
    return float(found[1]) * _DURATION_UNITS[found[2]]


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _positive(name: str, value: float) -> float:
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {value}")
    return value


def _non_negative(name: str, value: int) -> int:
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, got {value}")
    return value
