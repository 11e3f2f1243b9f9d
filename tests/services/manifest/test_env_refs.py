"""``${NAME}`` references: resolved in every string value from the environment, a missing
or malformed one refused with the field's path, ``$${`` a literal, and escaping undone
exactly by resolving."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burncloud.errors import InvalidRequest
from burncloud.services.manifest.env_refs import (
    escape_refs,
    field_path,
    item_path,
    resolve_refs,
)

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)
ENV = {"KEY": "sk-1", "HOST": "example.com", "EMPTY": "", "_X9": "x"}


def test_a_reference_is_replaced_by_its_variable() -> None:
    assert resolve_refs("${KEY}", ENV) == "sk-1"
    assert resolve_refs("https://${HOST}/v1?k=${KEY}", ENV) == "https://example.com/v1?k=sk-1"
    assert resolve_refs("${_X9}${EMPTY}!", ENV) == "x!"


def test_every_string_of_nested_data_is_resolved_and_nothing_else_changes() -> None:
    data = {
        "channels": [{"name": "a", "key": "${KEY}", "models": ["${HOST}"], "weight": 2}],
        "groups": {"${KEY}": Decimal("0.5")},
        "flag": True,
        "none": None,
    }
    assert resolve_refs(data, ENV) == {
        "channels": [{"name": "a", "key": "sk-1", "models": ["example.com"], "weight": 2}],
        "groups": {"${KEY}": Decimal("0.5")},  # mapping keys are names, never resolved
        "flag": True,
        "none": None,
    }


def test_a_variable_that_is_not_set_is_named_with_the_field_path() -> None:
    data = {"channels": [{"name": "a", "key": "${BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY}"}]}
    with pytest.raises(InvalidRequest) as caught:
        resolve_refs(data, ENV)
    assert caught.value.message == (
        "channels[0].key: environment variable BURNCLOUD_CHANNEL_OPENAI_MAIN_KEY is not set"
    )


def test_the_path_of_a_list_item_and_of_an_odd_key() -> None:
    with pytest.raises(InvalidRequest) as caught:
        resolve_refs({"tokens": [{"models": ["a", "${NOPE}"]}]}, ENV)
    assert caught.value.message == "tokens[0].models[1]: environment variable NOPE is not set"
    with pytest.raises(InvalidRequest) as caught:
        resolve_refs({"config": {"a b": "${NOPE}"}}, ENV)
    assert caught.value.message == "config['a b']: environment variable NOPE is not set"


def test_a_doubled_dollar_is_a_literal_reference() -> None:
    assert resolve_refs("$${KEY}", ENV) == "${KEY}"
    assert resolve_refs("$$${KEY}", ENV) == "$${KEY}"  # read left to right: $ then $${
    assert resolve_refs("a $ b $$ c $}", ENV) == "a $ b $$ c $}"


@pytest.mark.parametrize("text", ["${", "${KEY", "${1X}", "${A-B}", "${}", "x ${ y }"])
def test_a_malformed_reference_is_refused(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        resolve_refs({"key": text}, ENV)
    assert caught.value.message == (
        "key: '${' must start a reference ${NAME} (write $${ for a literal ${)"
    )


def test_a_value_is_never_resolved_twice() -> None:
    assert resolve_refs("${A}", {"A": "${B}", "B": "no"}) == "${B}"


def test_escaping_keeps_the_paths_it_is_told_to() -> None:
    data = {"channels": [{"key": "${K}", "name": "a${b"}, {"key": "${K}"}]}
    assert escape_refs(data, keep={"channels[1].key"}) == {
        "channels": [{"key": "$${K}", "name": "a$${b"}, {"key": "${K}"}]
    }


def test_paths_read_plainly_or_quoted() -> None:
    assert field_path("", "channels") == "channels"
    assert field_path(item_path("channels", 2), "weight") == "channels[2].weight"
    assert field_path("prices", "gpt-4o") == "prices.gpt-4o"
    assert field_path("groups", "a.b") == "groups['a.b']"
    assert field_path("groups", "x\ny") == "groups['x\\ny']"
    assert field_path("groups", 5) == "groups.5"


@SETTINGS
@given(st.text(st.sampled_from("$${}AB_ x")))
def test_escaped_text_resolves_back_to_itself(text: str) -> None:
    assert resolve_refs(escape_refs([text]), {}) == [text]
