from __future__ import annotations

import pytest

from burncloud.db.url import parse_database_url
from burncloud.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "dialect", "target"),
    [
        ("sqlite:burncloud.db", "sqlite", "burncloud.db"),
        ("sqlite:data/x.db", "sqlite", "data/x.db"),
        ("sqlite:///abs/path.db", "sqlite", "/abs/path.db"),
        ("postgresql://u:p@127.0.0.1/test", "postgresql", "postgresql://u:p@127.0.0.1/test"),
        ("postgres://127.0.0.1/test", "postgresql", "postgres://127.0.0.1/test"),
    ],
)
def test_database_urls_are_understood(url: str, dialect: str, target: str) -> None:
    parsed = parse_database_url(url)
    assert (parsed.dialect, parsed.target) == (dialect, target)


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:", "sqlite://host/x.db", "burncloud.db"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_database_url(url)


def test_display_hides_the_password() -> None:
    shown = parse_database_url("postgresql://bob:s3cret@db.internal:5432/x").display()
    assert "s3cret" not in shown
    assert shown == "postgresql://bob:***@db.internal:5432/x"
