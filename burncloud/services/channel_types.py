"""The rules a channel's fields follow (base URL, config, models, maps), per its kind
(``providers.registry``).

Kinds that take OpenAI bodies as they are (openai, openai-compatible, qwen) keep the
SDK-style base URL (``https://api.openai.com/v1``): the provider appends
``/chat/completions`` and friends, so a base URL without a path gets ``/v1``. Other kinds
keep the URL as given, less a trailing
slash. Bedrock has no single endpoint: its base URL comes from the ``region`` config entry.
Which OpenAI endpoints a channel serves is its kind's list, or for an openai-compatible
channel the ``endpoints`` config entry (``--endpoints chat,embeddings,rerank``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from burncloud.errors import InvalidRequest
from burncloud.providers.output_limits import CONFIG_KEY as OUTPUT_LIMIT_KEY
from burncloud.providers.registry import (
    CHANNEL_KINDS,
    CONFIGURABLE,
    ENDPOINT_NAMES,
    ENDPOINTS_CONFIG,
    ChannelKind,
    parse_endpoints,
)
from burncloud.services.timeouts import timeouts_from_config

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_WHITESPACE = re.compile(r"\s")
_SECRET_CONFIG_WORDS = ("secret", "password", "api_key")


def get_channel_type(name: str) -> ChannelKind:
    """The channel kind called ``name``; InvalidRequest listing the valid ones otherwise."""
    found = CHANNEL_KINDS.get(name.strip().lower())
    if found is None:
        raise InvalidRequest(
            f"unknown channel type {name!r}: use one of {', '.join(CHANNEL_KINDS)}"
        )
    return found


def default_url(kind: ChannelKind, config: Mapping[str, str]) -> str:
    """The base URL to use when none is given; InvalidRequest if the kind has none."""
    if kind.base_url_template is not None:
        return kind.base_url_template.format(**config)
    if kind.default_base_url is None:
        raise InvalidRequest(f"{kind.name} channels need --base-url")
    return kind.default_base_url


def check_config(kind: ChannelKind, config: Mapping[str, str]) -> None:
    """Raise InvalidRequest when a required config entry is missing or malformed."""
    for key in kind.required_config:
        if not config.get(key):
            raise InvalidRequest(f"{kind.name} channels need --config {key}=...")
    region = config.get("region")
    if region is not None and not _REGION.match(region):
        raise InvalidRequest(f"not an AWS region: {region!r} (e.g. us-east-1)")
    timeouts_from_config(config)
    limit = config.get(OUTPUT_LIMIT_KEY)
    if limit is not None and not (limit.isdigit() and int(limit) > 0):
        raise InvalidRequest(f"--config {OUTPUT_LIMIT_KEY}=N needs a positive whole number")


def clean_endpoints(kind: ChannelKind, config: Mapping[str, str]) -> dict[str, str]:
    """``config`` with its ``endpoints`` entry checked and written in the canonical order;
    InvalidRequest for an unknown name or a kind whose channels cannot list their own."""
    listed = config.get(ENDPOINTS_CONFIG)
    if listed is None:
        return dict(config)
    if kind.name not in CONFIGURABLE:
        raise InvalidRequest(
            f"{kind.name} channels serve {', '.join(served_endpoints(kind.name, {}))};"
            f" only {', '.join(sorted(CONFIGURABLE))} channels take --endpoints"
        )
    try:
        names = parse_endpoints(listed)
    except ValueError as exc:
        raise InvalidRequest(f"--endpoints: {exc}") from None
    ordered = ",".join(name for name in ENDPOINT_NAMES if name in names)
    return {**config, ENDPOINTS_CONFIG: ordered}


def served_endpoints(channel_type: str, config: Mapping[str, str]) -> tuple[str, ...]:
    """The endpoint names a channel of ``channel_type`` with ``config`` serves, in order."""
    kind = CHANNEL_KINDS.get(channel_type)
    if kind is None:
        return ()
    return tuple(name for name in ENDPOINT_NAMES if kind.serves(name, config))


def normalize_base_url(kind: ChannelKind, url: str) -> str:
    """Validate ``url`` and return it in the form stored for this kind."""
    url = validate_base_url(url)
    if kind.passthrough is not None and not urlsplit(url).path:
        url += "/v1"
    return url


def validate_base_url(url: str) -> str:
    """An http(s) URL with a host and no credentials, query or fragment, less trailing '/'."""
    url = url.strip()
    if "@" in url:  # checked first, so a password is never echoed back
        raise InvalidRequest("base URL must not hold credentials (user:pass@): use --key")
    if not url or _WHITESPACE.search(url):
        raise InvalidRequest(f"not a base URL: {url!r}")
    if not url.isascii():  # sent as-is (percent-encoded paths are signed by SigV4)
        raise InvalidRequest(f"base URL must be ASCII (punycode host, %-encoded path): {url!r}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidRequest(f"base URL must start with http:// or https://: {url!r}")
    if not parts.hostname:
        raise InvalidRequest(f"base URL has no host: {url!r}")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise InvalidRequest(f"base URL must not have a query or fragment: {url!r}")
    try:
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError:
        raise InvalidRequest(f"base URL has a bad port: {url!r}") from None
    return f"{scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def parse_pairs(entries: Sequence[str], what: str) -> dict[str, str]:
    """``["a=b", "c=d"]`` as a dict; empty entries are skipped (so ``""`` clears)."""
    pairs: dict[str, str] = {}
    for entry in entries:
        if not entry.strip():
            continue
        left, sep, right = entry.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise InvalidRequest(f"bad --{what} entry {entry!r}: use NAME=VALUE")
        pairs[left.strip()] = right.strip()
    return pairs


def clean_name(name: str) -> str:
    """A channel name with whitespace collapsed; InvalidRequest if empty."""
    name = " ".join(name.split())
    if not name:
        raise InvalidRequest("a channel needs a name")
    return name


def clean_key(key: str) -> str:
    """An upstream key: non-empty, no whitespace inside (it goes into a header)."""
    key = key.strip()
    if not key:
        raise InvalidRequest("a channel needs a key")
    if _WHITESPACE.search(key):
        raise InvalidRequest("a channel key must not contain whitespace")
    return key


def clean_names(values: Sequence[str], what: str) -> tuple[str, ...]:
    """Stripped, de-duplicated names (items may hold commas); at least one."""
    names = tuple(dict.fromkeys(part for value in values for part in _split(value)))
    if not names:
        raise InvalidRequest(f"a channel needs at least one {what}")
    if any(_WHITESPACE.search(name) for name in names):
        raise InvalidRequest(f"a {what} name must not contain whitespace")
    return names


def check_int(value: int, what: str, minimum: int | None = None) -> int:
    """``value`` if it is an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{what} must be an integer")
    if minimum is not None and value < minimum:
        raise InvalidRequest(f"{what} must be at least {minimum}")
    return value


def clean_model_map(model_map: Mapping[str, str], models: Sequence[str]) -> dict[str, str]:
    """The model map, each source being one of the channel's models."""
    cleaned = _clean_pairs(model_map, "map")
    for source in cleaned:
        if source not in models:
            raise InvalidRequest(
                f"--map {source}=... maps a model the channel does not serve: "
                f"add {source!r} to --models"
            )
    return cleaned


def clean_config(config: Mapping[str, str]) -> dict[str, str]:
    """Provider config entries; credentials are refused (config is stored in plain text)."""
    cleaned = _clean_pairs(config, "config")
    for key in cleaned:
        if any(word in key.lower() for word in _SECRET_CONFIG_WORDS):
            raise InvalidRequest(
                f"--config {key}=... looks like a credential: config is stored in plain text, "
                "put credentials in --key"
            )
    return cleaned


def _clean_pairs(pairs: Mapping[str, str], what: str) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for left, right in pairs.items():
        if not isinstance(left, str) or not isinstance(right, str):
            raise InvalidRequest(f"--{what} entries must be text")
        if not left.strip() or not right.strip():
            raise InvalidRequest(f"bad --{what} entry {left}={right}: use NAME=VALUE")
        cleaned[left.strip()] = right.strip()
    return cleaned


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
