from __future__ import annotations

import pytest

from burncloud.config import DEFAULT_DATABASE_URL, Settings
from burncloud.errors import ConfigError


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.log_level) == ("0.0.0.0", 3000, "info")
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:burncloud.db"
    assert settings.max_body_bytes == 32 * 1024 * 1024
    assert settings.grace_period == 30.0


def test_environment_overrides() -> None:
    settings = Settings.from_env(
        {"PORT": "8080", "HOST": "127.0.0.1", "LOG_LEVEL": "DEBUG", "DATABASE_URL": "sqlite:x.db"}
    )
    assert (settings.port, settings.host, settings.log_level) == (8080, "127.0.0.1", "debug")
    assert settings.database_url == "sqlite:x.db"


def test_cli_flags_override_environment() -> None:
    settings = Settings.from_env({"PORT": "8080"}).with_overrides(port=9000, host=None)
    assert (settings.port, settings.host) == (9000, "0.0.0.0")


@pytest.mark.parametrize(
    "env",
    [
        {"PORT": "abc"},
        {"BURNCLOUD_ALLOW_FREE_MODELS": "maybe"},
        {"BURNCLOUD_CONFIG_POLL_SECONDS": "0"},
        {"BURNCLOUD_CONFIG_POLL_SECONDS": "soon"},
        {"WORKERS": "0"},
        {"BURNCLOUD_MAX_CONNECTIONS": "0"},
        {"BURNCLOUD_MAX_HEADER_BYTES": "-1"},
        {"BURNCLOUD_HEADER_TIMEOUT": "soon"},
        {"BURNCLOUD_KEEP_ALIVE": "0"},
        {"BURNCLOUD_LOG_RETENTION_DAYS": "-1"},
        {"BURNCLOUD_LOG_RETENTION_DAYS": "forever"},
    ],
)
def test_bad_values_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_log_retention_is_read_and_0_keeps_everything() -> None:
    assert Settings.from_env({}).log_retention_days == 90
    assert Settings.from_env({"BURNCLOUD_LOG_RETENTION_DAYS": "0"}).log_retention_days == 0
    assert Settings.from_env({"BURNCLOUD_LOG_RETENTION_DAYS": "30"}).log_retention_days == 30


def test_config_poll_interval_is_read() -> None:
    assert Settings.from_env({"BURNCLOUD_CONFIG_POLL_SECONDS": "0.25"}).config_poll_seconds == 0.25
    assert Settings.from_env({}).config_poll_seconds == 1.0


def test_connection_limits_are_read() -> None:
    default = Settings.from_env({})
    limits = (default.max_connections, default.max_header_bytes)
    assert limits == (10_000, 64 * 1024)
    assert (default.header_timeout, default.keep_alive) == (30.0, 75.0)
    settings = Settings.from_env(
        {
            "BURNCLOUD_MAX_CONNECTIONS": "500",
            "BURNCLOUD_MAX_HEADER_BYTES": "8192",
            "BURNCLOUD_HEADER_TIMEOUT": "2.5",
            "BURNCLOUD_KEEP_ALIVE": "620",
        }
    )
    limits = (settings.max_connections, settings.max_header_bytes)
    assert limits == (500, 8192)
    assert (settings.header_timeout, settings.keep_alive) == (2.5, 620.0)
