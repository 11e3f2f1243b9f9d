"""Every DSN form a One API / New API operator has at hand, and no password in a message."""

from __future__ import annotations

import sys

import pytest

from burncloud.errors import InvalidRequest
from burncloud.services.migration.oneapi.peer_db import open_peer
from burncloud.services.migration.oneapi.peer_dsn import mask_dsn, parse_peer_dsn

SECRET = "hunter2-Secret"


@pytest.mark.parametrize(
    ("dsn", "path"),
    [
        ("one-api.db", "one-api.db"),
        ("./data/one-api.db", "./data/one-api.db"),
        ("/srv/one-api/data/one-api.db", "/srv/one-api/data/one-api.db"),
        ("sqlite:///srv/one-api.db", "/srv/one-api.db"),
        ("sqlite:data/one-api.db", "data/one-api.db"),
        ("backup@2024/one-api.db", "backup@2024/one-api.db"),
    ],
)
def test_sqlite_forms_name_the_file(dsn: str, path: str) -> None:
    parsed = parse_peer_dsn(dsn)
    assert (parsed.engine, parsed.path) == ("sqlite", path)


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("mysql://root:123456@db:3307/oneapi", ("db", 3307, "root", "123456", "oneapi", "")),
        ("mariadb://oneapi@10.0.0.5/newapi", ("10.0.0.5", 3306, "oneapi", "", "newapi", "")),
        ("mysql://u:p%40ss@h/d", ("h", 3306, "u", "p@ss", "d", "")),
        (
            "root:123456@tcp(localhost:3306)/oneapi?charset=utf8mb4&parseTime=True&loc=Local",
            ("localhost", 3306, "root", "123456", "oneapi", ""),
        ),
        ("root:p:w@d@tcp(db:3310)/one-api", ("db", 3310, "root", "p:w@d", "one-api", "")),
        ("u:p@tcp([::1]:3306)/d", ("::1", 3306, "u", "p", "d", "")),
        ("u:p@tcp(mysql)/d", ("mysql", 3306, "u", "p", "d", "")),
        ("root@/oneapi", ("127.0.0.1", 3306, "root", "", "oneapi", "")),
        ("u:p@unix(/run/mysqld.sock)/d", ("127.0.0.1", 3306, "u", "p", "d", "/run/mysqld.sock")),
    ],
)  # fmt: skip
def test_mysql_urls_and_go_dsns_give_the_connection(dsn: str, expected: tuple[object, ...]) -> None:
    p = parse_peer_dsn(dsn)
    assert p.engine == "mysql"
    assert (p.host, p.port, p.user, p.password, p.database, p.unix_socket) == expected


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_urls_go_to_asyncpg_as_postgresql(scheme: str) -> None:
    p = parse_peer_dsn(f"{scheme}://one:{SECRET}@pg:5433/oneapi?sslmode=disable")
    assert p.engine == "postgresql"
    assert p.url == f"postgresql://one:{SECRET}@pg:5433/oneapi?sslmode=disable"
    assert p.password == SECRET
    assert p.display == f"{scheme}://one:***@pg:5433/oneapi?sslmode=disable"


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (f"mysql://root:{SECRET}@db/oneapi", "mysql://root:***@db/oneapi"),
        (f"root:{SECRET}@tcp(db:3306)/oneapi?loc=UTC", "root:***@tcp(db:3306)/oneapi?loc=UTC"),
        (f"postgresql://pg/db?password={SECRET}&ssl=1", "postgresql://pg/db?password=***&ssl=1"),
        ("mysql://root@db/oneapi", "mysql://root@db/oneapi"),
    ],
)
def test_display_masks_the_password(dsn: str, shown: str) -> None:
    assert parse_peer_dsn(dsn).display == shown
    assert mask_dsn(dsn) == shown


@pytest.mark.parametrize(
    ("dsn", "says"),
    [
        (f"redis://u:{SECRET}@h/0", "unknown scheme 'redis'"),
        (f"mysql://u:{SECRET}@h/", "names no database"),
        (f"u:{SECRET}@tcp(h:port)/d", "port 'port' is not a number"),
        ("   ", "DSN is empty"),
        ("sqlite:", "names no SQLite file"),
    ],
)
def test_a_bad_dsn_is_one_line_without_the_password(dsn: str, says: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_peer_dsn(dsn)
    message = caught.value.message
    assert says in message
    assert SECRET not in message and "\n" not in message


def test_a_missing_sqlite_file_is_named(tmp_path) -> None:
    missing = tmp_path / "data" / "one-api.db"
    with pytest.raises(InvalidRequest, match="no such SQLite file") as caught:
        open_peer(str(missing))
    assert str(missing) in caught.value.message


@pytest.mark.parametrize(
    ("dsn", "extra"),
    [
        (f"mysql://root:{SECRET}@127.0.0.1/oneapi", "burncloud[mysql]"),
        (f"root:{SECRET}@tcp(127.0.0.1:3306)/oneapi", "burncloud[mysql]"),
        (f"postgres://u:{SECRET}@127.0.0.1/oneapi", "burncloud[postgres]"),
    ],
)
def test_a_missing_driver_names_the_extra_to_install(
    dsn: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pymysql", None)  # None in sys.modules: ImportError
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(
        InvalidRequest, match=f"pip install '{extra}'".replace("[", r"\[")
    ) as caught:
        open_peer(dsn)
    assert SECRET not in caught.value.message
