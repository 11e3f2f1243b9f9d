"""The manifest's file form: a ``format: burncloud/1`` YAML or JSON text <-> ``Manifest``.

Reading resolves ``${NAME}`` references from the environment (``env_refs``), then checks
the document strictly (``reading``); writing is deterministic (``writing``) and escapes
every ``${`` the manifest's own text holds, so a written file reads back as the same
manifest. Numbers are read as exact decimals, never floats (``price_catalog``'s reader).
Channel secrets follow the secrets mode (``writing``): with ``env``, one
``${BURNCLOUD_CHANNEL_<NAME>_KEY}`` per channel, whose variable holds the channel's keys one
per line (``channel_form``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.services.manifest.env_refs import escape_refs, resolve_refs
from burncloud.services.manifest.model import Manifest
from burncloud.services.manifest.reading import parse_manifest
from burncloud.services.manifest.writing import SECRETS, key_variable, manifest_data
from burncloud.services.price_catalog import FILE_FORMATS, read_document

__all__ = [
    "FILE_FORMATS",
    "SECRETS",
    "dump_manifest",
    "key_variable",
    "load_manifest",
    "manifest_data",
    "parse_manifest",
]


def load_manifest(text: str, file_format: str, env: Mapping[str, str]) -> Manifest:
    """The manifest a yaml or json text holds, ``${NAME}`` references taken from ``env``."""
    return parse_manifest(resolve_refs(read_document(text, file_format), env))


def dump_manifest(manifest: Manifest, file_format: str, secrets: str) -> str:
    """The manifest as the text of a yaml or json file (see ``writing`` for ``secrets``)."""
    if file_format not in FILE_FORMATS:
        raise InvalidRequest(f"unknown file format {file_format!r}: use yaml or json")
    data = manifest_data(manifest, secrets)
    channels = data.get("channels", []) if secrets == "env" else []
    data = escape_refs(data, keep={f"channels[{n}].key" for n in range(len(channels))})
    if file_format == "json":
        return json.dumps(data, indent=2) + "\n"
    return _yaml_text(data)


def _yaml_text(data: dict[str, Any]) -> str:
    """Block style, lists indented under their key, no aliases, ASCII only (a control or
    bidi character is escaped, never written raw), long lines kept whole."""
    import yaml  # type: ignore[import-untyped]  # only where YAML is written

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True

        def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
            return super().increase_indent(flow, False)

    text = yaml.dump(
        data,
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=False,
        width=2**16,
    )
    return str(text)
