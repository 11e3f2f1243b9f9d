"""Channel overrides as an operator gives them: CLI specs, validation, the stored JSON."""

from __future__ import annotations

import pytest

from burncloud.errors import InvalidRequest
from burncloud.services.channel_overrides import (
    EMPTY_OVERRIDES,
    ChannelOverrides,
    build_overrides,
    changed_overrides,
    parse_overrides,
    parse_param_value,
)


def test_set_param_values_are_json_when_they_parse_as_json_else_text() -> None:
    assert parse_param_value("0.2") == 0.2
    assert parse_param_value("true") is True
    assert parse_param_value('"x"') == "x"
    assert parse_param_value('{"a": 1}') == {"a": 1}
    assert parse_param_value("null") is None
    assert parse_param_value("hello world") == "hello world"
    assert parse_param_value("") == ""


def test_cli_specs_build_overrides_that_survive_the_stored_json() -> None:
    overrides = changed_overrides(
        EMPTY_OVERRIDES,
        set_headers=["X-Org=acme", "X-Empty="],
        set_params=["temperature=0.2", 'metadata={"team": "a"}', "user=ops"],
        drop_params=["logit_bias"],
    )
    assert overrides.set_headers == {"X-Org": "acme", "X-Empty": ""}
    assert overrides.set_params == {"temperature": 0.2, "metadata": {"team": "a"}, "user": "ops"}
    assert overrides.drop_params == ("logit_bias",)
    assert parse_overrides(overrides.to_json()) == overrides


def test_no_overrides_is_the_empty_singleton_stored_as_an_empty_object() -> None:
    assert parse_overrides("{}") is EMPTY_OVERRIDES
    assert parse_overrides(None) is EMPTY_OVERRIDES
    assert parse_overrides('{"set_headers": {}, "drop_params": []}') is EMPTY_OVERRIDES
    assert EMPTY_OVERRIDES.to_json() == "{}"
    assert not EMPTY_OVERRIDES and not EMPTY_OVERRIDES.touches_body
    emptied = changed_overrides(
        ChannelOverrides({"X-A": "1"}, {}, ("user",)),
        unset_headers=["x-a"],
        unset_params=["user"],
    )
    assert emptied is EMPTY_OVERRIDES


def test_only_parameter_overrides_touch_the_body() -> None:
    assert not ChannelOverrides({"X-A": "1"}).touches_body
    assert ChannelOverrides(drop_params=("user",)).touches_body
    assert ChannelOverrides(set_params={"top_k": 5}).touches_body


def test_a_header_set_again_in_another_case_replaces_the_first() -> None:
    first = changed_overrides(EMPTY_OVERRIDES, set_headers=["x-org=a"])
    second = changed_overrides(first, set_headers=["X-Org=b"])
    assert second.set_headers == {"X-Org": "b"}


def test_setting_a_dropped_parameter_stops_dropping_it_and_the_reverse() -> None:
    dropped = changed_overrides(EMPTY_OVERRIDES, drop_params=["temperature"])
    now_set = changed_overrides(dropped, set_params=["temperature=0"])
    assert now_set.set_params == {"temperature": 0} and now_set.drop_params == ()
    dropped_again = changed_overrides(now_set, drop_params=["temperature"])
    assert dropped_again.set_params == {} and dropped_again.drop_params == ("temperature",)


def test_unsetting_what_is_not_overridden_names_it() -> None:
    overrides = changed_overrides(EMPTY_OVERRIDES, set_params=["top_k=5"])
    with pytest.raises(InvalidRequest, match="no override of parameter 'top_p'"):
        changed_overrides(overrides, unset_params=["top_p"])
    with pytest.raises(InvalidRequest, match="no override of header 'X-A'"):
        changed_overrides(overrides, unset_headers=["X-A"])


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (["Content-Length=5"], "frames the request"),
        (["host=example.com"], "frames the request"),
        (["Transfer-Encoding=chunked"], "frames the request"),
        (["Content-Type=text/plain"], "frames the request"),
        (["Bad Name=1"], "not a valid HTTP header name"),
        (["X-A=line\r\nX-Injected: 1"], "control characters"),
        (["novalue"], "takes NAME=VALUE"),
        (["=value"], "takes NAME=VALUE"),
    ],
)
def test_header_overrides_that_would_break_the_request_are_refused(
    headers: list[str], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        changed_overrides(EMPTY_OVERRIDES, set_headers=headers)


def test_auth_headers_may_be_overridden() -> None:
    overrides = changed_overrides(
        EMPTY_OVERRIDES, set_headers=["Authorization=Bearer proxy-secret-0001", "x-api-key=k2"]
    )
    assert overrides.set_headers["Authorization"] == "Bearer proxy-secret-0001"


@pytest.mark.parametrize("spec", ["stream=true", "model=gpt-x"])
def test_the_relays_own_parameters_cannot_be_overridden(spec: str) -> None:
    with pytest.raises(InvalidRequest, match="the relay's to set"):
        changed_overrides(EMPTY_OVERRIDES, set_params=[spec])
    with pytest.raises(InvalidRequest, match="the relay's to set"):
        changed_overrides(EMPTY_OVERRIDES, drop_params=[spec.partition("=")[0]])


def test_a_parameter_cannot_be_both_set_and_dropped_in_stored_json() -> None:
    text = '{"set_params": {"top_k": 1}, "drop_params": ["top_k"]}'
    with pytest.raises(InvalidRequest, match="both set and dropped"):
        parse_overrides(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[1]", "must hold"),
        ('{"extra": 1}', "must hold"),
        ('{"set_headers": []}', "set_headers must be an object"),
        ('{"set_headers": {"X-A": 1}}', "value must be text"),
        ('{"drop_params": "user"}', "list of names"),
        ('{"drop_params": ["a b"]}', "not a valid parameter name"),
    ],
)
def test_stored_json_that_is_not_overrides_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_overrides(text)


def test_sizes_are_bounded() -> None:
    with pytest.raises(InvalidRequest, match="longer than"):
        changed_overrides(EMPTY_OVERRIDES, set_headers=["X-A=" + "a" * 9000])
    with pytest.raises(InvalidRequest, match="longer than"):
        changed_overrides(EMPTY_OVERRIDES, set_params=["blob=" + "a" * 9000])
    with pytest.raises(InvalidRequest, match="at most"):
        build_overrides({f"X-H{i}": "v" for i in range(33)}, {}, [])


def test_describe_masks_secret_headers_and_shows_parameters_as_json() -> None:
    overrides = changed_overrides(
        EMPTY_OVERRIDES,
        set_headers=["Authorization=Bearer sk-proxy-0123456789", "X-Org=acme", "X-Drop="],
        set_params=["temperature=0.2", "note=hi"],
        drop_params=["user"],
    )
    lines = overrides.describe()
    assert lines == [
        "header Authorization: Bea...6789",
        "header X-Org: acme",
        "header X-Drop: (removed)",
        "param temperature = 0.2",
        'param note = "hi"',
        "drop param user",
    ]
    assert all("sk-proxy" not in line for line in lines)


def test_public_data_masks_secret_header_values_only() -> None:
    overrides = changed_overrides(
        EMPTY_OVERRIDES,
        set_headers=["x-api-key=sk-proxy-0123456789", "X-Org=acme"],
        set_params=["top_k=5"],
    )
    assert overrides.public_data() == {
        "set_headers": {"x-api-key": "sk-...6789", "X-Org": "acme"},
        "set_params": {"top_k": 5},
    }
    assert overrides.to_data()["set_headers"]["x-api-key"] == "sk-proxy-0123456789"
