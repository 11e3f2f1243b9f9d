"""LiteLLM's proxy config as read: the YAML text, the ``os.environ/NAME`` references
resolved the way the proxy resolves them, and the ``model_list`` entries with the path an
error names.

LiteLLM lets any value of the file be ``os.environ/NAME`` (``litellm/proxy/proxy_server.py``
reads it with ``get_secret``), and the proxy first sets the file's own
``environment_variables`` into its environment: so a name is looked up there first, then
in the process environment. A reference is resolved only where the importer uses the
value, so a setting burncloud does not carry never needs its variable.

The YAML is read with numbers as exact decimals (prices and fractional weights stay
exact) and refused when a mapping names a key twice; anchors and aliases, which LiteLLM
configs use to share ``litellm_params``, are allowed.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.services.price_catalog import _exact_loader, _yaml

ENV_PREFIX = "os.environ/"


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``model_list`` entry: ``where`` names it in messages (``model_list[2] (gpt-4o)``)."""

    index: int
    model_name: str
    params: Mapping[str, Any]  # litellm_params, credentials of litellm_credential_name merged
    info: Mapping[str, Any]  # model_info
    alias_of: str | None = None  # set on a model_group_alias copy of an entry

    @property
    def where(self) -> str:
        alias = f", alias of {self.alias_of}" if self.alias_of else ""
        return f"model_list[{self.index}] ({self.model_name}{alias})"

    @property
    def model(self) -> str:
        return str(self.params["model"])


@dataclass(frozen=True, slots=True)
class Env:
    """Where ``os.environ/NAME`` references are looked up: the file's
    ``environment_variables``, then the process environment."""

    own: Mapping[str, str]
    process: Mapping[str, str]

    def get(self, name: str) -> str | None:
        """The variable's value; None when it is unset (an empty value counts as unset)."""
        value = self.own.get(name)
        if value is None:
            value = self.process.get(name)
        return value or None

    def first(self, names: tuple[str, ...]) -> tuple[str, str] | None:
        """The first of ``names`` that is set, with its value."""
        for name in names:
            value = self.get(name)
            if value is not None:
                return name, value
        return None

    def resolve(self, value: Any, where: str) -> Any:
        """``value``, or the variable an ``os.environ/NAME`` string names; InvalidRequest
        naming the variable and ``where`` when it is not set."""
        if not (isinstance(value, str) and value.startswith(ENV_PREFIX)):
            return value
        name = value.removeprefix(ENV_PREFIX).strip()
        found = self.get(name)
        if found is None:
            raise InvalidRequest(f"{where}: environment variable {name} is not set")
        return found


def load_config(text: str) -> dict[str, Any]:
    """The config's top-level mapping; InvalidRequest when the text is not YAML or not a
    mapping."""
    yaml = _yaml()
    try:
        data = yaml.load(text, Loader=_config_loader(yaml))
    except (yaml.YAMLError, RecursionError) as exc:
        raise InvalidRequest(f"not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("not a LiteLLM proxy config: expected a mapping with model_list")
    return data


def section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A top-level mapping section (empty when absent); InvalidRequest for another type."""
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"{name}: expected a mapping, got {_kind(value)}")
    return value


def file_env(data: Mapping[str, Any], process: Mapping[str, str]) -> Env:
    """The environment ``os.environ/`` references resolve in."""
    own = {
        str(name): _text(value)
        for name, value in section(data, "environment_variables").items()
        if value is not None
    }
    return Env(own, process)


def read_entries(data: Mapping[str, Any], env: Env) -> list[Entry]:
    """The ``model_list`` entries, credentials merged; InvalidRequest naming the first
    malformed one."""
    items = data.get("model_list")
    if items is None:
        raise InvalidRequest("model_list: the config has no model_list (nothing to import)")
    if not isinstance(items, list):
        raise InvalidRequest(f"model_list: expected a list, got {_kind(items)}")
    credentials = _credentials(data)
    return [_entry(index, item, credentials, env) for index, item in enumerate(items)]


def number(value: Any, where: str) -> Decimal:
    """A finite number >= 0 (YAML number or numeric text); InvalidRequest otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise InvalidRequest(f"{where}: expected a number, got {_kind(value)}")
    try:
        found = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidRequest(f"{where}: expected a number, got {value!r}") from None
    if not found.is_finite() or found < 0:
        raise InvalidRequest(f"{where}: expected a number >= 0, got {value!r}")
    return found


def plain(amount: Decimal) -> str:
    """A decimal as short text without an exponent: 30, 0.5."""
    return format(amount.normalize(), "f")


def _entry(index: int, item: Any, credentials: Mapping[str, Any], env: Env) -> Entry:
    where = f"model_list[{index}]"
    if not isinstance(item, dict):
        raise InvalidRequest(f"{where}: expected a mapping, got {_kind(item)}")
    name = item.get("model_name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(f"{where}.model_name: expected the public model name")
    where = f"{where} ({name.strip()})"
    params = item.get("litellm_params")
    if not isinstance(params, dict):
        raise InvalidRequest(f"{where}.litellm_params: expected a mapping with model")
    info = item.get("model_info") or {}
    if not isinstance(info, dict):
        raise InvalidRequest(f"{where}.model_info: expected a mapping, got {_kind(info)}")
    params = _with_credential(params, credentials, where)
    model = env.resolve(params.get("model"), f"{where}.litellm_params.model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(f"{where}.litellm_params.model: expected <provider>/<model>")
    return Entry(index, name.strip(), {**params, "model": model.strip()}, info)


def _credentials(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``credential_list``: credential name -> its values (``credential_values``)."""
    items = data.get("credential_list") or []
    if not isinstance(items, list):
        raise InvalidRequest(f"credential_list: expected a list, got {_kind(items)}")
    found: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(items):
        where = f"credential_list[{index}]"
        name = item.get("credential_name") if isinstance(item, dict) else None
        values = item.get("credential_values") if isinstance(item, dict) else None
        if not isinstance(name, str) or not isinstance(values, dict):
            raise InvalidRequest(f"{where}: expected credential_name and credential_values")
        found[name] = values
    return found


def _with_credential(
    params: dict[str, Any], credentials: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """``params`` over the values of the credential it names (its own values win)."""
    name = params.get("litellm_credential_name")
    if name is None:
        return params
    values = credentials.get(str(name))
    if values is None:
        raise InvalidRequest(
            f"{where}.litellm_params.litellm_credential_name: no credential {name!r}"
            " in credential_list"
        )
    return {**values, **params}


def _config_loader(yaml: Any) -> Any:
    """The exact-number loader, with aliases allowed again (``<<: *defaults`` is common in
    LiteLLM configs; the importer walks only the parts it reads)."""

    merge = "tag:yaml.org,2002:merge"

    class ConfigLoader(_exact_loader(yaml)):  # type: ignore[misc]
        def compose_node(self, parent: Any, index: Any) -> Any:
            return yaml.composer.Composer.compose_node(self, parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            # A key given twice is refused, but a key overriding one merged in (<<) is not.
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = None if key_node.tag == merge else self.construct_object(key_node, True)
                if not isinstance(key, Hashable):
                    continue
                if key is not None and key in seen:
                    message = f"the key {key!r} appears twice in one mapping"
                    raise yaml.constructor.ConstructorError(
                        None, None, message, key_node.start_mark
                    )
                seen.add(key)
            return yaml.constructor.SafeConstructor.construct_mapping(self, node, deep)

    return ConfigLoader


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, Decimal):
        return plain(value)
    return str(value)


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}
    return names.get(type(value), "a number" if isinstance(value, int | Decimal) else "nothing")
