"""The one name for a JSON object on the wire, and how to read a nested one.

``JSON`` is a decoded JSON object (``orjson.loads`` of a request or answer body, or one
being built to send) whose fields the code reads by name. Its values stay ``Any``: the
bodies come from clients and upstreams, so each reader checks a field where it uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

JSON: TypeAlias = dict[str, Any]


def object_field(obj: Mapping[str, Any], key: str) -> JSON:
    """``obj[key]`` when it is a JSON object; a new empty one when it is absent or not one."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}
