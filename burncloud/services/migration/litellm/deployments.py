"""One LiteLLM deployment (a ``model_list`` entry) as what a channel needs: the kind, the
base URL, the key, the config entries, and the upstream model the public name maps to.

Keys and URLs come from the entry (``os.environ/NAME`` resolved), else from the variables
LiteLLM itself would read (``providers``), so the channel calls what LiteLLM
called. A key burncloud cannot use (Azure Entra ID tokens, AWS roles and profiles) or a
provider without a kind makes the entry skipped, with the reason; a missing variable or a
malformed value is an error naming the entry.

A Bedrock key is burncloud's ``ACCESS_KEY_ID:SECRET_ACCESS_KEY[:SESSION_TOKEN]`` form (or a
Bedrock API key); an Azure deployment keeps its ``api_version`` (LiteLLM's default when the
entry has none, so the classic deployment URLs LiteLLM called stay in use). A timeout
(the entry's, or the router's default) sets the channel's first-byte and idle timeouts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from burncloud.errors import InvalidRequest
from burncloud.services.channel_types import (
    check_config,
    clean_key,
    default_url,
    get_channel_type,
    normalize_base_url,
)
from burncloud.services.migration.litellm.providers import (
    BEDROCK_DEFAULT_REGION,
    OPENAI_HOST,
    PROVIDERS,
    REFUSED,
    Provider,
    bedrock_model,
    split_model,
)
from burncloud.services.migration.litellm.source import Entry, Env, number, plain
from burncloud.services.timeouts import DEFAULT_TIMEOUTS

# LiteLLM's AZURE_DEFAULT_API_VERSION (litellm/__init__.py), used when neither the entry
# nor AZURE_API_VERSION names one.
AZURE_DEFAULT_API_VERSION = "2025-02-01-preview"
PLACEHOLDER_KEY = "none"  # a local server's channel key: it checks none
UNSUPPORTED_AUTH = {
    "azure_ad_token": "Azure Entra ID tokens (azure_ad_token) are not supported: give an api_key",
    "azure_ad_token_provider": "Azure Entra ID tokens are not supported: give an api_key",
    "aws_role_name": "AWS role credentials (aws_role_name) are not supported: give an access key",
    "aws_profile_name": "AWS profiles (aws_profile_name) are not supported: give an access key",
    "aws_web_identity_token": "AWS web identity tokens are not supported: give an access key",
}
CARRIED = frozenset(
    {
        "model",
        "api_key",
        "api_base",
        "api_version",
        "rpm",
        "tpm",
        "order",
        "weight",
        "timeout",
        "custom_llm_provider",
        "litellm_credential_name",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region_name",
        "aws_bedrock_runtime_endpoint",
    }
)
_ARN_REGION = re.compile(r"arn:aws:bedrock:([a-z0-9-]+):")


class Unsupported(Exception):
    """The entry cannot become a channel; the message says why (a skipped line)."""


@dataclass(frozen=True, slots=True)
class Deployment:
    """A model entry resolved: what its channel needs, and what the report says of it."""

    entry: Entry
    provider: str
    kind: str
    upstream: str
    base_url: str | None  # normalized; None: the kind's default
    key: str
    config: Mapping[str, str]
    said: tuple[str, ...]  # how it was resolved: key source, defaults taken, notes


def deploy(entry: Entry, env: Env, default_timeout: Decimal | None) -> Deployment:
    """The deployment ``entry`` describes; Unsupported when it cannot be a channel,
    InvalidRequest when a value is missing or malformed."""
    if "*" in entry.model_name or "*" in entry.model:
        raise Unsupported("wildcard model groups have no equivalent: list the models")
    for name, reason in UNSUPPORTED_AUTH.items():
        if entry.params.get(name):
            raise Unsupported(reason)
    named, upstream, inferred = split_model(entry.model, _text_param(entry, "custom_llm_provider"))
    provider, spec = _provider(named, entry.model)
    said = (
        [f"provider {provider} inferred from the model name, as LiteLLM does"] if inferred else []
    )
    reader = _Reader(entry, env, said)
    base = reader.base_url(spec, provider == "bedrock")
    kind = spec.kind
    if kind == "openai" and base is not None and urlsplit(base).hostname != OPENAI_HOST:
        kind = "openai-compatible"
    config = reader.config(kind, upstream, default_timeout)
    key = reader.bedrock_key() if kind == "bedrock" else reader.key(spec)
    if provider == "bedrock":
        upstream = bedrock_model(upstream)
    if spec.note:
        said.append(spec.note)
    url = _channel_url(kind, provider, base, config, entry.where)
    try:
        key = clean_key(key)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{entry.where}: {exc.message}") from None
    return Deployment(entry, provider, kind, upstream, url, key, config, tuple(said))


def extras(entry: Entry) -> list[str]:
    """The entry's litellm_params burncloud does not carry (prices are carried)."""
    return sorted(name for name in entry.params if name not in CARRIED and not _price(name))


def _provider(provider: str | None, model: str) -> tuple[str, Provider]:
    if provider is None:
        raise Unsupported(
            f"no provider prefix in {model!r} and LiteLLM would not know one:"
            " write it as <provider>/<model>"
        )
    if provider in REFUSED:
        raise Unsupported(f"{provider}/: {REFUSED[provider]}")
    spec = PROVIDERS.get(provider)
    if spec is None:
        raise Unsupported(f"no channel kind for LiteLLM provider {provider!r}")
    return provider, spec


@dataclass(slots=True)
class _Reader:
    """Reads one entry's values, resolving references and noting the defaults it takes."""

    entry: Entry
    env: Env
    said: list[str]

    def param(self, name: str) -> Any:
        where = f"{self.entry.where}.litellm_params.{name}"
        return self.env.resolve(self.entry.params.get(name), where)

    def text(self, name: str) -> str | None:
        value = self.param(name)
        if isinstance(value, dict | list):
            raise InvalidRequest(f"{self.entry.where}.litellm_params.{name}: expected text")
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value.strip() if isinstance(value, str) else plain_value(value)

    def from_env(self, names: tuple[str, ...], what: str) -> str | None:
        found = self.env.first(names)
        if found is None:
            return None
        self.said.append(f"{what} from {found[0]}")  # the value may be a secret: only its source
        return found[1].strip()

    def base_url(self, spec: Provider, bedrock: bool) -> str | None:
        given = self.text("aws_bedrock_runtime_endpoint" if bedrock else "api_base")
        if given is None and bedrock:
            given = self.text("api_base")
        return given or self.from_env(spec.base_env, "api_base") or spec.base_url

    def key(self, spec: Provider) -> str:
        key = self.text("api_key")
        if key is not None:
            self.said.append(_key_source(self.entry.params.get("api_key")))
            return key
        key = self.from_env(spec.key_env, "key")
        if key is not None:
            return key
        if spec.keyless:
            self.said.append(f"no key (a local server; the channel key is {PLACEHOLDER_KEY!r})")
            return PLACEHOLDER_KEY
        raise InvalidRequest(
            f"{self.entry.where}: no api_key, and {' / '.join(spec.key_env)}"
            " (where LiteLLM looks for one) is not set"
        )

    def bedrock_key(self) -> str:
        api_key = self.text("api_key")
        if api_key is not None:
            self.said.append("key: a Bedrock API key")
            return api_key
        names = ("aws_access_key_id", "aws_secret_access_key")
        pair = [self.text(name) for name in names]
        token = self.text("aws_session_token")
        if None not in pair:
            sources = [_key_source(self.entry.params.get(name)) for name in names]
            self.said.append(" / ".join(dict.fromkeys(sources)))
        else:
            pair = [self.env.get("AWS_ACCESS_KEY_ID"), self.env.get("AWS_SECRET_ACCESS_KEY")]
            token = token or self.env.get("AWS_SESSION_TOKEN")
            if None in pair:
                return self._bedrock_bearer()
            self.said.append("key from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY")
        if token is not None:
            self.said.append("with a session token: temporary credentials expire")
        return ":".join(part for part in [*pair, token] if part is not None)

    def _bedrock_bearer(self) -> str:
        bearer = self.from_env(("AWS_BEARER_TOKEN_BEDROCK",), "key (a Bedrock API key)")
        if bearer is None:
            raise InvalidRequest(
                f"{self.entry.where}: no aws_access_key_id / aws_secret_access_key, and"
                " AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (where LiteLLM looks for them)"
                " are not set"
            )
        return bearer

    def config(self, kind: str, upstream: str, default_timeout: Decimal | None) -> dict[str, str]:
        config = self.timeouts(default_timeout)
        if kind == "azure":
            config["api_version"] = self.api_version()
        if kind == "bedrock":
            config["region"] = self.region(upstream)
        try:
            check_config(get_channel_type(kind), config)
        except InvalidRequest as exc:
            raise InvalidRequest(f"{self.entry.where}: {exc.message}") from None
        return config

    def api_version(self) -> str:
        version = self.text("api_version") or self.from_env(("AZURE_API_VERSION",), "api_version")
        if version is None:
            self.said.append("api_version: LiteLLM's default")
            return AZURE_DEFAULT_API_VERSION
        return version

    def region(self, upstream: str) -> str:
        region = self.text("aws_region_name")
        arn = _ARN_REGION.search(upstream)
        if region is None and arn is not None:
            region = arn.group(1)
        region = region or self.from_env(("AWS_REGION_NAME", "AWS_REGION"), "region")
        if region is None:
            self.said.append("region: LiteLLM's default")
            return BEDROCK_DEFAULT_REGION
        return region

    def timeouts(self, default: Decimal | None) -> dict[str, str]:
        """LiteLLM's ``timeout`` (seconds for the whole call, httpx's read timeout too) as
        the channel's first-byte and idle timeouts; a connect timeout only when shorter
        than burncloud's default."""
        given = self.param("timeout")
        where = f"{self.entry.where}.litellm_params.timeout"
        seconds = number(given, where) if given is not None else default
        if seconds is None:
            return {}
        text = plain(seconds)
        config = {"first_byte_timeout": text, "idle_timeout": text}
        if seconds < Decimal(str(DEFAULT_TIMEOUTS.connect)):
            config["connect_timeout"] = text
        return config


def _channel_url(
    kind: str, provider: str, base: str | None, config: Mapping[str, str], where: str
) -> str | None:
    """The stored form of ``base`` for the kind; None when it is the kind's default."""
    channel_kind = get_channel_type(kind)
    if base is None:
        if channel_kind.default_base_url is None and channel_kind.base_url_template is None:
            raise InvalidRequest(f"{where}: {provider}/ needs an api_base (the server's address)")
        return None
    if kind == "anthropic":
        base = base.rstrip("/").removesuffix("/v1/messages")
    try:
        url = normalize_base_url(channel_kind, base)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{where}.litellm_params.api_base: {exc.message}") from None
    try:
        default = default_url(channel_kind, config)
    except InvalidRequest:
        return url
    return None if url == normalize_base_url(channel_kind, default) else url


def _key_source(raw: Any) -> str:
    if isinstance(raw, str) and raw.startswith("os.environ/"):
        return f"key from {raw.removeprefix('os.environ/').strip()}"
    return "key written in the file"


def _text_param(entry: Entry, name: str) -> str | None:
    value = entry.params.get(name)
    return value if isinstance(value, str) and value.strip() else None


def plain_value(value: Any) -> str:
    """A scalar YAML value as text (numbers without exponent)."""
    if isinstance(value, Decimal):
        return plain(value)
    return str(value)


def _price(name: str) -> bool:
    return "cost" in name or "pricing" in name
