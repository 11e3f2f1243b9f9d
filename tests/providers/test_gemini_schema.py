"""JSON Schema cut down to what Gemini's Schema accepts (PROTOCOLS.md 4.2, gotcha 6)."""

from __future__ import annotations

from burncloud.providers.gemini.schema import gemini_schema, is_empty_object

FORBIDDEN = {"$schema", "$ref", "$defs", "definitions", "additionalProperties", "default",
             "strict", "const", "oneOf", "allOf", "examples", "$id", "not"}  # fmt: skip


def _keys(schema: object) -> set[str]:
    if isinstance(schema, dict):
        return set(schema) | {k for v in schema.values() for k in _keys(v)}
    if isinstance(schema, list):
        return {k for v in schema for k in _keys(v)}
    return set()


PYDANTIC = {
    "$defs": {
        "Address": {
            "type": "object",
            "title": "Address",
            "properties": {
                "city": {"type": "string"},
                "zip": {"type": "string", "format": "postal"},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
        "Node": {
            "type": "object",
            "properties": {"child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}},
        },
    },
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "home": {"$ref": "#/$defs/Address", "description": "where"},
        "tree": {"$ref": "#/$defs/Node"},
        "kind": {"const": "person"},
        "age": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "choice": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "mode": {"enum": ["a", "b", None]},
        "level": {"type": "integer", "enum": [1, 2]},
        "when": {"type": "string", "format": "date-time"},
    },
    "required": ["home", "missing"],
    "additionalProperties": False,
}


def test_pydantic_schema_is_inlined_and_stripped() -> None:
    cleaned = gemini_schema(PYDANTIC)
    assert not _keys(cleaned) & FORBIDDEN
    props = cleaned["properties"]
    assert props["home"] == {
        "type": "object",
        "title": "Address",
        "description": "where",
        "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
        "required": ["city"],
    }
    assert props["kind"] == {"type": "string", "enum": ["person"]}
    assert props["age"] == {"type": "integer", "nullable": True}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["choice"] == {"anyOf": [{"type": "string"}, {"type": "number"}]}
    assert props["mode"] == {"enum": ["a", "b"], "nullable": True, "type": "string"}
    assert props["level"] == {"type": "integer"}
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert cleaned["required"] == ["home"]


def test_recursive_reference_stops_at_a_bare_object() -> None:
    tree = gemini_schema(PYDANTIC)["properties"]["tree"]
    assert tree["type"] == "object"
    assert tree["properties"]["child"] == {"type": "object", "nullable": True}


def test_type_lists_become_nullable_or_any_of() -> None:
    assert gemini_schema({"type": ["string", "null"]}) == {"type": "string", "nullable": True}
    assert gemini_schema({"type": ["string", "integer"]}) == {
        "anyOf": [{"type": "string"}, {"type": "integer"}]
    }


def test_all_of_with_one_reference_is_merged() -> None:
    schema = {
        "$defs": {"E": {"type": "string", "enum": ["x", "y"]}},
        "type": "object",
        "properties": {"e": {"allOf": [{"$ref": "#/$defs/E"}], "description": "pick"}},
    }
    assert gemini_schema(schema)["properties"]["e"] == {
        "type": "string",
        "enum": ["x", "y"],
        "description": "pick",
    }


def test_property_ordering_only_when_asked() -> None:
    schema = {"type": "object", "properties": {"z": {"type": "string"}, "a": {"type": "string"}}}
    assert "propertyOrdering" not in gemini_schema(schema)
    assert gemini_schema(schema, ordered=True)["propertyOrdering"] == ["z", "a"]


def test_uppercase_openapi_types_pass_through() -> None:
    schema = {"type": "OBJECT", "properties": {"location": {"type": "STRING", "enum": ["a"]}}}
    assert gemini_schema(schema) == schema


def test_empty_parameters_are_recognised() -> None:
    assert is_empty_object(gemini_schema(None))
    assert is_empty_object(
        gemini_schema({"type": "object", "properties": {}, "additionalProperties": False})
    )
    assert not is_empty_object(
        gemini_schema({"type": "object", "properties": {"a": {"type": "string"}}})
    )
