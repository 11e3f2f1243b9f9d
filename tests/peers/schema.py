"""GORM's AutoMigrate DDL for a transcribed Go struct, per engine.

A ``Col`` says what GORM reads from one struct field: the Go kind, the ``type:`` tag (used
as written on every engine), ``default:``, ``not null``, ``unique``, whether any index tag
is on it, and the primary key. ``column_type`` applies the drivers' type rules
(gorm.io/driver/{sqlite,mysql,postgres} ``DataTypeOf``):

    Go kind        SQLite     MySQL/MariaDB                          PostgreSQL
    int (64 bit)   integer    bigint                                 bigint
    auto id        integer PRIMARY KEY AUTOINCREMENT  bigint AUTO_INCREMENT  bigserial
    uint           integer    bigint unsigned                        bigint
    string         text       varchar(191) when primary, defaulted   text
                              or index-tagged; else longtext
    bool           numeric    boolean                                boolean
    float64        real       double                                 decimal
    time           datetime   datetime(3)                            timestamptz

GORM writes string defaults with double quotes on SQLite and MySQL (``DEFAULT ""``) and
single quotes on PostgreSQL; here they are single-quoted everywhere: the same value, and
safe under MySQL's ANSI_QUOTES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["int", "uint", "string", "bool", "float", "time"]
Engine = Literal["sqlite", "mysql", "postgresql"]
ENGINES: tuple[Engine, ...] = ("sqlite", "mysql", "postgresql")


@dataclass(frozen=True, slots=True)
class Col:
    """One struct field as GORM sees it."""

    name: str
    kind: Kind
    type: str | None = None  # the `type:` tag
    default: str | None = None  # the `default:` tag, as an SQL literal
    not_null: bool = False
    unique: bool = False  # `unique`: a column constraint
    index: bool = False  # `index`: idx_<table>_<column>
    unique_index: bool = False  # `uniqueIndex`: a unique idx_<table>_<column>
    named_index: bool = False  # part of a named (composite) index
    primary: bool = False
    auto: bool = False  # the auto-increment primary key `id`


@dataclass(frozen=True, slots=True)
class Index:
    """A named index, its columns in GORM's priority order."""

    name: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Col, ...]
    named_indexes: tuple[Index, ...] = ()

    def col(self, name: str) -> Col:
        return next(c for c in self.columns if c.name == name)

    def indexes(self) -> tuple[Index, ...]:
        """Every index: the per-column ones GORM names idx_<table>_<column>, then the
        named ones."""
        own = tuple(
            Index(f"idx_{self.name}_{c.name}", (c.name,), unique=c.unique_index)
            for c in self.columns
            if c.index or c.unique_index
        )
        return own + self.named_indexes


def quote(name: str, engine: Engine) -> str:
    """An identifier as GORM quotes it: backticks on SQLite and MySQL, double quotes on
    PostgreSQL."""
    return f'"{name}"' if engine == "postgresql" else f"`{name}`"


def column_type(col: Col, engine: Engine) -> str:
    """The column's SQL type as the engine's GORM driver writes it."""
    if col.auto:
        return {
            "sqlite": "integer PRIMARY KEY AUTOINCREMENT",
            "mysql": "bigint AUTO_INCREMENT",
            "postgresql": "bigserial",
        }[engine]
    if col.type is not None:
        return col.type
    if col.kind == "string":
        return _string_type(col, engine)
    return _TYPES[col.kind][engine]


_TYPES: dict[Kind, dict[Engine, str]] = {
    "int": {"sqlite": "integer", "mysql": "bigint", "postgresql": "bigint"},
    "uint": {"sqlite": "integer", "mysql": "bigint unsigned", "postgresql": "bigint"},
    "bool": {"sqlite": "numeric", "mysql": "boolean", "postgresql": "boolean"},
    "float": {"sqlite": "real", "mysql": "double", "postgresql": "decimal"},
    "time": {"sqlite": "datetime", "mysql": "datetime(3)", "postgresql": "timestamptz"},
}


def _string_type(col: Col, engine: Engine) -> str:
    if engine != "mysql":
        return "text"
    indexed = col.index or col.named_index or col.unique
    return "varchar(191)" if col.primary or col.default is not None or indexed else "longtext"


def column_sql(col: Col, engine: Engine) -> str:
    parts = [quote(col.name, engine), column_type(col, engine)]
    if col.not_null:
        parts.append("NOT NULL")
    if col.unique:
        parts.append("UNIQUE")
    if col.default is not None:
        parts.append(f"DEFAULT {col.default}")
    return " ".join(parts)


def create_table(table: Table, engine: Engine) -> list[str]:
    """``CREATE TABLE`` and its indexes: inside it on MySQL (as GORM writes it there), as
    ``CREATE INDEX`` statements after it elsewhere."""
    lines = [column_sql(c, engine) for c in table.columns]
    keys = [c.name for c in table.columns if c.primary and not (c.auto and engine == "sqlite")]
    if keys:
        lines.append(f"PRIMARY KEY ({', '.join(quote(k, engine) for k in keys)})")
    name = quote(table.name, engine)
    if engine == "mysql":
        body = ", ".join(lines + [_index_sql(i, engine) for i in table.indexes()])
        return [f"CREATE TABLE {name} ({body}) DEFAULT CHARSET=utf8mb4"]
    return [f"CREATE TABLE {name} ({', '.join(lines)})"] + [
        f"CREATE {_index_sql(i, engine, on=name)}" for i in table.indexes()
    ]


def _index_sql(index: Index, engine: Engine, on: str = "") -> str:
    unique = "UNIQUE " if index.unique else ""
    target = f" ON {on}" if on else ""
    columns = ", ".join(quote(c, engine) for c in index.columns)
    return f"{unique}INDEX {quote(index.name, engine)}{target} ({columns})"
