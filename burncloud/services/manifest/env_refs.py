"""``${NAME}`` references in a manifest's strings: resolved from the environment when a
file is read, escaped when one is written.

A reference is ``${NAME}`` with NAME a shell variable name (letters, digits and ``_``, not
starting with a digit); ``$${`` stands for a literal ``${``, and any other ``$`` is itself.
Only string values are read (mapping keys, such as model names, never), so a secret can
live outside the file while everything else stays in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from burncloud.errors import InvalidRequest

_TOKEN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


def resolve_refs(data: Any, env: Mapping[str, str]) -> Any:
    """``data`` with every ``${NAME}`` in its strings replaced by ``env[NAME]``;
    InvalidRequest naming the field for a variable that is not set or a malformed one."""
    return _map_strings(data, "", lambda where, text: _resolve(text, where, env))


def escape_refs(data: Any, keep: Collection[str] = ()) -> Any:
    """``data`` with every ``${`` in its strings written ``$${``, so reading it back gives
    the same text; strings at the paths in ``keep`` (meant as references) stay as they are."""
    return _map_strings(
        data, "", lambda where, text: text if where in keep else text.replace("${", "$${")
    )


def field_path(where: str, key: object) -> str:
    """The path of mapping key ``key`` inside the object at ``where``: ``channels[0].key``,
    or ``groups['a b']`` when the key would not read plainly."""
    text = str(key)
    if text and text.isprintable() and not any(ch.isspace() or ch in ".[]'" for ch in text):
        return f"{where}.{text}" if where else text
    return f"{where}[{text!r}]"


def item_path(where: str, index: int) -> str:
    """The path of item ``index`` of the list at ``where``: ``channels[0]``."""
    return f"{where}[{index}]"


def _map_strings(data: Any, where: str, change: Callable[[str, str], str]) -> Any:
    if isinstance(data, str):
        return change(where, data)
    if isinstance(data, dict):
        return {
            key: _map_strings(value, field_path(where, key), change) for key, value in data.items()
        }
    if isinstance(data, list):
        return [_map_strings(item, item_path(where, n), change) for n, item in enumerate(data)]
    return data


def _resolve(text: str, where: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group(1)
        if name is None:
            raise InvalidRequest(
                f"{where}: '${{' must start a reference ${{NAME}} (write $${{ for a literal ${{)"
            )
        if name not in env:
            raise InvalidRequest(f"{where}: environment variable {name} is not set")
        return env[name]

    return _TOKEN.sub(replace, text)
