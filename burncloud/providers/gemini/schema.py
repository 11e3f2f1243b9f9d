"""JSON Schema (as OpenAI clients send it) cut down to the OpenAPI subset Gemini accepts.

Gemini's ``Schema`` knows a fixed set of keys; ``$schema``, ``additionalProperties``,
``default``, ``strict``, ``const``, ``oneOf`` and friends get a 400. So: ``$ref`` into
``$defs``/``definitions`` is inlined (a recursive reference becomes a bare object),
``type: [X, "null"]`` and ``anyOf: [X, {"type": "null"}]`` become ``nullable``, ``oneOf``
becomes ``anyOf``, a one-item ``allOf`` is merged, a string ``const`` becomes a one-value
``enum``, ``required`` keeps only declared properties, string formats other than
``enum``/``date-time`` are dropped, and every other key is dropped.
"""

from __future__ import annotations

from burncloud.protocols.shapes import JSON

_KEEP = frozenset(
    {
        "type", "format", "title", "description", "nullable", "enum", "items", "properties",
        "required", "anyOf", "minItems", "maxItems", "minimum", "maximum", "minLength",
        "maxLength", "pattern", "minProperties", "maxProperties",
    }
)  # fmt: skip
_FORMATS = {
    "string": {"enum", "date-time"},
    "number": {"float", "double"},
    "integer": {"int32", "int64"},
}
_REBUILT = frozenset({"items", "properties", "required", "anyOf"})
_MAX_DEPTH = 32


def gemini_schema(schema: object, *, ordered: bool = False) -> JSON:
    """``schema`` rewritten for Gemini; ``ordered`` adds ``propertyOrdering`` to objects."""
    if not isinstance(schema, dict):
        return {}
    defs = {**_mapping(schema.get("definitions")), **_mapping(schema.get("$defs"))}
    return _Cleaner(defs, ordered).clean(schema, 0, ())


def is_empty_object(schema: JSON) -> bool:
    """True for a schema that declares nothing: Gemini rejects an OBJECT without properties."""
    kind = str(schema.get("type", "")).lower()
    return not schema or (kind == "object" and not schema.get("properties"))


class _Cleaner:
    __slots__ = ("_defs", "_ordered")

    def __init__(self, defs: JSON, ordered: bool) -> None:
        self._defs = defs
        self._ordered = ordered

    def clean(self, node: object, depth: int, seen: tuple[str, ...]) -> JSON:
        if not isinstance(node, dict) or depth > _MAX_DEPTH:
            return {}
        node = self._resolve(node, seen)
        if "$ref" in node:
            return {"type": "object"}  # recursive reference: Gemini schemas cannot loop
        node = self._merge_all_of(node, seen)
        seen = (*seen, *_ref_names(node))
        out = {k: v for k, v in node.items() if k in _KEEP and k not in _REBUILT}
        _apply_type(out, node.get("type"))
        self._apply_variants(out, node, depth, seen)
        _apply_enum(out, node)
        _apply_format(out)
        if isinstance(node.get("items"), dict):
            out["items"] = self.clean(node["items"], depth + 1, seen)
        self._apply_properties(out, node, depth, seen)
        return out

    def _resolve(self, node: JSON, seen: tuple[str, ...]) -> JSON:
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node
        name = ref.rsplit("/", 1)[-1]
        target = self._defs.get(name)
        if name in seen or not isinstance(target, dict):
            return node
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **rest, "$resolved": name}

    def _merge_all_of(self, node: JSON, seen: tuple[str, ...]) -> JSON:
        parts = node.get("allOf")
        if not isinstance(parts, list):
            return node
        merged = {k: v for k, v in node.items() if k != "allOf"}
        for part in parts:
            if isinstance(part, dict):
                for key, value in self._resolve(part, seen).items():
                    merged.setdefault(key, value)
        return merged

    def _apply_variants(self, out: JSON, node: JSON, depth: int, seen: tuple[str, ...]) -> None:
        variants = node.get("anyOf") or node.get("oneOf")
        if not isinstance(variants, list):
            return
        kept = []
        for variant in variants:
            if isinstance(variant, dict) and variant.get("type") == "null":
                out["nullable"] = True
            else:
                kept.append(self.clean(variant, depth + 1, seen))
        if len(kept) == 1:
            out.update({k: v for k, v in kept[0].items() if k not in out})
        elif kept:
            out["anyOf"] = kept

    def _apply_properties(self, out: JSON, node: JSON, depth: int, seen: tuple[str, ...]) -> None:
        props = node.get("properties")
        if not isinstance(props, dict) or not props:
            return
        out["properties"] = {k: self.clean(v, depth + 1, seen) for k, v in props.items()}
        required = [r for r in node.get("required") or () if r in props]
        if required:
            out["required"] = required
        if self._ordered:
            out["propertyOrdering"] = list(props)


def _mapping(value: object) -> JSON:
    return value if isinstance(value, dict) else {}


def _ref_names(node: JSON) -> tuple[str, ...]:
    name = node.get("$resolved")
    return (name,) if isinstance(name, str) else ()


def _apply_type(out: JSON, kind: object) -> None:
    if not isinstance(kind, list):
        return
    types = [t for t in kind if t != "null"]
    if len(types) < len(kind):
        out["nullable"] = True
    if len(types) == 1:
        out["type"] = types[0]
    else:
        out.pop("type", None)
        if types:
            out["anyOf"] = [{"type": t} for t in types]


def _apply_enum(out: JSON, node: JSON) -> None:
    values = node.get("enum")
    if values is None and isinstance(node.get("const"), str):
        values = [node["const"]]
    out.pop("enum", None)
    if not isinstance(values, list):
        return
    if None in values:
        out["nullable"] = True
        values = [v for v in values if v is not None]
    if values and all(isinstance(v, str) for v in values):
        out["enum"] = values  # Gemini enums are strings only; other enums are dropped
        out.setdefault("type", "string")


def _apply_format(out: JSON) -> None:
    fmt = out.get("format")
    if fmt is None:
        return
    allowed = _FORMATS.get(str(out.get("type", "")).lower(), set())
    if fmt not in allowed:
        del out["format"]
