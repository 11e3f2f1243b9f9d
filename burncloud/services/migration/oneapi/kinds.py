"""Where a peer channel's requests go, in our terms: base URL, key and config per kind.

- OpenAI-style kinds (openai, openai-compatible, qwen) keep an SDK-style base URL that our
  provider appends ``/chat/completions`` to (``channel_types.our_base_url``); a URL with no
  path cannot be kept, as ours then gets ``/v1``.
- Azure: the API version the peers keep in ``other`` (One API's newer ``config`` JSON has
  ``api_version``) becomes ``api_version``; New API falls back to its
  ``AZURE_DEFAULT_API_VERSION`` (2025-04-01-preview). The peers name the deployment after
  the model with its dots removed (One API always; New API for channels created before
  2025-05-10, ``AzureNoRemoveDotTime``): those become ``deployments`` pairs.
- Gemini: the API version from ``other`` / ``config`` becomes ``api_version``.
- AWS: the key is ``AK|SK|region`` (New API also ``APIKEY|region``; One API may hold
  ``ak``, ``sk``, ``region`` in ``config``) and becomes ``AK:SK`` (or the API key) with a
  ``region`` config entry. The peers turn a model name into a Bedrock model id with their
  own table (One API ignores the channel's model mapping there); those ids become the
  channel's model map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from burncloud.errors import InvalidRequest
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.channel_types import check_config, validate_base_url
from burncloud.services.migration.oneapi.channel_types import PeerType, our_base_url
from burncloud.services.migration.oneapi.rows import Row, json_object, number, text

NEWAPI_AZURE_DEFAULT_VERSION = "2025-04-01-preview"
NEWAPI_AZURE_KEEPS_DOTS_SINCE = 1746835200  # 2025-05-10T00:00:00Z

# The peers' model name -> Bedrock model id tables (One API relay/adaptor/aws claude and
# llama3 ``AwsModelIDMap``; New API relay/channel/aws ``awsModelIDMap``).
BEDROCK_MODEL_IDS: Mapping[str, str] = {
    "claude-instant-1.2": "anthropic.claude-instant-v1",
    "claude-2.0": "anthropic.claude-v2",
    "claude-2.1": "anthropic.claude-v2:1",
    "claude-3-sonnet-20240229": "anthropic.claude-3-sonnet-20240229-v1:0",
    "claude-3-opus-20240229": "anthropic.claude-3-opus-20240229-v1:0",
    "claude-3-haiku-20240307": "anthropic.claude-3-haiku-20240307-v1:0",
    "claude-3-5-sonnet-20240620": "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "claude-3-5-sonnet-20241022": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "claude-3-5-haiku-20241022": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "claude-3-7-sonnet-20250219": "anthropic.claude-3-7-sonnet-20250219-v1:0",
    "claude-sonnet-4-20250514": "anthropic.claude-sonnet-4-20250514-v1:0",
    "claude-opus-4-20250514": "anthropic.claude-opus-4-20250514-v1:0",
    "command-r": "cohere.command-r-v1:0",
    "command-r-plus": "cohere.command-r-plus-v1:0",
    "llama3-8b-8192": "meta.llama3-8b-instruct-v1:0",
    "llama3-70b-8192": "meta.llama3-70b-instruct-v1:0",
}


@dataclass(frozen=True, slots=True)
class Upstream:
    """What a channel needs to reach its upstream here, and what the report says of it."""

    base_url: str | None  # None: the kind's default
    key: str
    config: dict[str, str]
    model_map: dict[str, str]
    said: tuple[str, ...] = ()


def upstream_for(
    peer: PeerType, row: Row, flavor: str, key: str, models: list[str], model_map: dict[str, str]
) -> Upstream:
    """The channel's upstream settings; InvalidRequest says why it cannot be kept."""
    if peer.kind == "azure":
        return _azure(row, flavor, key, models, model_map)
    if peer.kind == "bedrock":
        return _bedrock(row, flavor, key, models, model_map)
    config: dict[str, str] = {}
    said: list[str] = []
    if peer.kind == "gemini" and (version := api_version(row)):
        config["api_version"] = version
        said.append(f"API version {version}")
    if peer.code == 17 and peer.kind == "qwen":
        said.append("DashScope's OpenAI-compatible mode (the peer used its native API)")
    url = _base_url(peer, text(row, "base_url"))
    return Upstream(url, key, config, model_map, tuple(said))


def api_version(row: Row) -> str:
    """The API version a channel keeps: ``config.api_version``, else ``other``."""
    config = json_object(text(row, "config")) or {}
    version = str(config.get("api_version") or "").strip()
    return version or text(row, "other").strip()


def _base_url(peer: PeerType, stored: str) -> str | None:
    assert peer.kind is not None
    kind = CHANNEL_KINDS[peer.kind]
    url = validate_base_url(our_base_url(peer, stored))
    if kind.passthrough is not None and not urlsplit(url).path:
        raise InvalidRequest(
            f"the peer calls {url}/chat/completions; an OpenAI-style channel here needs a"
            " base URL with a path (one without gets /v1)"
        )
    return None if url == kind.default_base_url else url


def _azure(
    row: Row, flavor: str, key: str, models: list[str], model_map: dict[str, str]
) -> Upstream:
    if not text(row, "base_url").strip():
        raise InvalidRequest("an Azure channel needs its resource URL and the peer has none")
    url = validate_base_url(text(row, "base_url"))
    version = api_version(row)
    said: list[str] = []
    if not version and flavor == "newapi":
        version = NEWAPI_AZURE_DEFAULT_VERSION
        said.append(f"API version {version}: New API's default (unless AZURE_DEFAULT_API_VERSION)")
    elif not version:
        said.append("no API version at the peer: Azure's v1 API here")
    else:
        said.append(f"API version {version}")
    config = {"api_version": version} if version else {}
    pairs = _dotless_deployments(row, flavor, models, model_map)
    if pairs:
        config["deployments"] = ",".join(f"{model}={name}" for model, name in pairs.items())
        said.append("deployments named without dots, as the peer named them")
    return Upstream(url, key, config, model_map, tuple(said))


def _dotless_deployments(
    row: Row, flavor: str, models: list[str], model_map: dict[str, str]
) -> dict[str, str]:
    created = number(row, "created_time")
    if flavor == "newapi" and created >= NEWAPI_AZURE_KEEPS_DOTS_SINCE:
        return {}
    upstream = (model_map.get(model, model) for model in models)
    return {name: name.replace(".", "") for name in upstream if "." in name}


def _bedrock(
    row: Row, flavor: str, key: str, models: list[str], model_map: dict[str, str]
) -> Upstream:
    our_key, region = _aws_credentials(key, row)
    check_config(CHANNEL_KINDS["bedrock"], {"region": region})
    said = [f"region {region}"]
    if flavor == "oneapi" and model_map:
        said.append("the peer's model mapping does not apply to AWS channels there: not carried")
        model_map = {}
    ids: dict[str, str] = {}
    unknown: list[str] = []
    for model in models:
        upstream = model_map.get(model, model)
        if upstream in BEDROCK_MODEL_IDS:
            ids[model] = BEDROCK_MODEL_IDS[upstream]
        elif upstream != model:
            ids[model] = upstream
        else:
            unknown.append(model)
    if unknown:
        said.append(f"no Bedrock model id known for {', '.join(unknown)}: sent as named")
    if flavor == "newapi":
        said.append(
            "New API may send some models through a cross-region inference profile (us.,"
            " eu., apac.); map them to the profile id here if Bedrock asks for one"
        )
    return Upstream(None, our_key, {"region": region}, ids, tuple(said))


def _aws_credentials(key: str, row: Row) -> tuple[str, str]:
    """(our key, region) from ``AK|SK|region``, ``APIKEY|region`` or One API's config."""
    parts = [part.strip() for part in key.split("|")]
    if len(parts) == 3 and all(parts):
        return f"{parts[0]}:{parts[1]}", parts[2]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    config = json_object(text(row, "config")) or {}
    ak, sk, region = (str(config.get(name) or "").strip() for name in ("ak", "sk", "region"))
    if ak and sk and region:
        return f"{ak}:{sk}", region
    raise InvalidRequest("the AWS key is not AK|SK|region and the channel config has none")
