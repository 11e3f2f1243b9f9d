"""Where a One API / New API database lives, from the forms their operators have at hand.

Accepted: a SQLite file path (``one-api.db``, ``./data/one-api.db``) or ``sqlite:PATH`` /
``sqlite:///ABS/PATH``; ``mysql://`` or ``mariadb://`` URLs; the Go MySQL DSN the peers
read from their ``SQL_DSN`` variable (``root:123456@tcp(localhost:3306)/oneapi?charset=...``);
``postgres://`` and ``postgresql://`` URLs. Every message names the DSN with its password
masked (``display``), so a DSN pasted from a ``docker-compose.yml`` never reaches a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from burncloud.errors import InvalidRequest

Engine = Literal["sqlite", "mysql", "postgresql"]
MASK = "***"
FORMS = (
    "a SQLite file, sqlite:///PATH, mysql://USER:PASS@HOST:PORT/DB, "
    "USER:PASS@tcp(HOST:PORT)/DB or postgres://USER:PASS@HOST:PORT/DB"
)
# Go's go-sql-driver/mysql form: [user[:password]@][net[(addr)]]/dbname[?params].
_GO_DSN = re.compile(
    r"^(?:(?P<userinfo>.*)@)?(?P<net>tcp[46]?|unix)?(?:\((?P<addr>[^)]*)\))?/(?P<rest>.*)$",
    re.DOTALL,
)
_PASSWORD_PARAM = re.compile(r"(?i)(\bpassword=)[^&]*")


@dataclass(frozen=True, slots=True)
class PeerDsn:
    """A parsed peer DSN: the engine, the fields its driver needs, and ``display`` (the DSN
    with the password masked) for every message."""

    engine: Engine
    display: str
    path: str = ""  # sqlite: the file
    url: str = ""  # postgresql: the URL as asyncpg takes it
    host: str = "127.0.0.1"  # mysql from here on
    port: int = 3306
    user: str = ""
    password: str = ""
    database: str = ""
    unix_socket: str = ""

    def masked(self, text: str) -> str:
        """``text`` with this DSN's password masked and on one line."""
        if self.password:
            text = text.replace(self.password, MASK)
        return " ".join(text.split())


def parse_peer_dsn(dsn: str) -> PeerDsn:
    """Parse any accepted form; an unknown scheme or a malformed DSN is one InvalidRequest."""
    text = dsn.strip()
    if not text:
        raise InvalidRequest(f"the peer database DSN is empty: give {FORMS}")
    lowered = text.lower()
    if lowered.startswith("sqlite:"):
        return _sqlite_url(text)
    if lowered.startswith(("mysql://", "mariadb://")):
        return _mysql_url(text)
    if lowered.startswith(("postgres://", "postgresql://")):
        return _postgres_url(text)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise InvalidRequest(
            f"peer database {mask_dsn(text)!r}: unknown scheme {scheme!r}: use {FORMS}"
        )
    go = _GO_DSN.match(text)
    if go is not None and (go["userinfo"] is not None or go["net"] is not None):
        return _go_mysql(text, go)
    return PeerDsn("sqlite", display=text, path=text)


def mask_dsn(dsn: str) -> str:
    """``dsn`` with any password in it masked: URL user info, Go DSN user info, and a
    ``password=`` query parameter."""
    masked = _PASSWORD_PARAM.sub(rf"\g<1>{MASK}", dsn)
    if "://" in masked:
        scheme, _, rest = masked.partition("://")
        netloc, slash, tail = rest.partition("/")
        return f"{scheme}://{_mask_userinfo(netloc)}{slash}{tail}"
    go = _GO_DSN.match(masked)
    if go is not None and go["userinfo"] is not None:
        start, end = go.span("userinfo")
        return masked[:start] + _mask_userinfo(go["userinfo"] + "@")[:-1] + masked[end:]
    return masked


def _mask_userinfo(netloc: str) -> str:
    creds, at, host = netloc.rpartition("@")
    if not at or ":" not in creds:
        return netloc
    return f"{creds.split(':', 1)[0]}:{MASK}@{host}"


def _sqlite_url(text: str) -> PeerDsn:
    rest = text[len("sqlite:") :]
    if rest.startswith("///"):
        path = "/" + rest[3:].lstrip("/")
    elif rest.startswith("//"):
        raise InvalidRequest(
            f"peer database {text!r}: use sqlite:relative.db or sqlite:///abs/path.db"
        )
    else:
        path = rest
    if not path:
        raise InvalidRequest(f"peer database {text!r} names no SQLite file")
    return PeerDsn("sqlite", display=text, path=path)


def _mysql_url(text: str) -> PeerDsn:
    display = mask_dsn(text)
    try:
        parts = urlsplit(text)
        port = parts.port or 3306
    except ValueError as exc:
        raise InvalidRequest(f"peer database {display!r}: {exc}") from exc
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise InvalidRequest(f"peer database {display!r} names no database: add /DBNAME")
    return PeerDsn(
        "mysql",
        display=display,
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=database,
    )


def _postgres_url(text: str) -> PeerDsn:
    display = mask_dsn(text)
    try:
        parts = urlsplit(text)
        password = unquote(parts.password or "") or parse_qs(parts.query).get("password", [""])[0]
    except ValueError as exc:
        raise InvalidRequest(f"peer database {display!r}: {exc}") from exc
    url = "postgresql://" + text.split("://", 1)[1]
    return PeerDsn("postgresql", display=display, url=url, password=password)


def _go_mysql(text: str, go: re.Match[str]) -> PeerDsn:
    """go-sql-driver/mysql's DSN: the address defaults to 127.0.0.1:3306, the password is
    everything after the first ``:`` of the user info, and the parameters are ignored
    (burncloud always reads as utf8mb4)."""
    display = mask_dsn(text)
    user, _, password = (go["userinfo"] or "").partition(":")
    database = go["rest"].split("?", 1)[0]
    if not database:
        raise InvalidRequest(f"peer database {display!r} names no database: add /DBNAME")
    addr = go["addr"] or ""
    if go["net"] == "unix":
        return PeerDsn(
            "mysql", display, user=user, password=password, database=database, unix_socket=addr
        )
    host, port = _host_port(addr, display)
    return PeerDsn(
        "mysql", display, host=host, port=port, user=user, password=password, database=database
    )


def _host_port(addr: str, display: str) -> tuple[str, int]:
    if not addr:
        return "127.0.0.1", 3306
    host, colon, port = addr.rpartition(":")
    if not colon or host.endswith(":"):  # no port, or a bare IPv6 address
        host, port = addr, "3306"
    if not port.isdigit():
        raise InvalidRequest(f"peer database {display!r}: port {port!r} is not a number")
    return host.strip("[]") or "127.0.0.1", int(port)
