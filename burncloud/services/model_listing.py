"""What a channel's upstream offers: its models endpoint, asked the way each kind is asked.

* openai, openai-compatible, qwen (the kinds that take OpenAI bodies as they are): ``GET
  {base}/models`` with the kind's auth headers, ``{"data": [{"id": ...}]}``. DashScope
  answers it at ``/compatible-mode/v1/models``.
* anthropic: ``GET /v1/models?limit=1000`` with ``x-api-key`` and ``anthropic-version``,
  paged with ``after_id`` = ``last_id`` while ``has_more``.
* gemini: ``GET /{version}/models?pageSize=1000`` with ``x-goog-api-key``, paged with
  ``pageToken`` = ``nextPageToken``; ``models/`` is dropped from each name, and only the
  models that generate content or embeddings (what the kind serves) are kept.
* bedrock: the control plane beside the channel's runtime host (``bedrock.{region}...``):
  ``ListFoundationModels`` (text output) for the models invoked by id (``ON_DEMAND``), and
  ``ListInferenceProfiles`` (system-defined, paged with ``nextToken``) for the
  cross-region profiles of those models, signed with SigV4 for service ``bedrock`` as the
  provider signs (a Bedrock API key goes as a bearer token).
* azure: no data-plane call lists a resource's deployments with an ``api-key`` (that
  listing was retired after ``2023-03-15-preview``; deployments are a management-plane
  resource that wants an Entra ID token), and ``/openai/models`` lists what the resource
  could deploy, not what it has deployed. The listing is what the channel's config names
  (``deployments=MODEL=DEPLOYMENT,...``), with no request.

Every request goes through a ``JsonGetter``: ``HttpxGetter`` for the CLI and the admin API
(each URL through the address guard first), the router's aiohttp transport for the model
syncer (``gateway.upkeep.model_syncer``). A failure is one line that never holds the
channel's key or URL.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from burncloud.crypto import SecretBox, public_error_text
from burncloud.db.base import Executor
from burncloud.errors import InvalidRequest, ServiceUnavailable, UpstreamError
from burncloud.providers.anthropic.request import messages_url, request_headers
from burncloud.providers.bedrock.provider import SERVICE as BEDROCK_SERVICE
from burncloud.providers.bedrock.provider import parse_credentials
from burncloud.providers.bedrock.sigv4 import sign_request
from burncloud.providers.gemini.provider import DEFAULT_API_VERSION, DEFAULT_BASE_URL, bare_model
from burncloud.providers.openai.request import join_url
from burncloud.providers.registry import kind_of
from burncloud.services.channel_keys import usable_key
from burncloud.services.channels import Channel, UrlCheck, get_channel

if TYPE_CHECKING:
    import httpx

MAX_LISTING_BYTES = 16 * 1024 * 1024  # OpenRouter's list of 300+ models is about 1 MB
LISTING_TIMEOUT = 30.0  # seconds for one page, head to last byte
MAX_PAGES = 100  # a cursor that never ends (a broken upstream) stops here
ERROR_LIMIT = 300
GEMINI_METHODS = frozenset({"generateContent", "embedContent", "batchEmbedContents"})
_GEMINI_VERSIONED = re.compile(r"/v\d+(?:alpha|beta)?\d*$")  # as the provider's model_url
_BEDROCK_CONTROL_HOSTS = (
    ("bedrock-runtime-fips.", "bedrock-fips."),
    ("bedrock-runtime.", "bedrock."),
)
UNREACHABLE = "the upstream is unreachable (could not connect)"  # no URL: it may hold secrets
FAILED = "the upstream connection failed"
_BAD_ID = re.compile(r"[\s,]")  # a channel's models are stored comma-separated, without spaces


@dataclass(frozen=True, slots=True)
class Fetched:
    """One GET's answer, whatever its status."""

    status: int
    body: bytes
    retry_after: str | None = None


class JsonGetter(Protocol):
    async def get(self, url: str, headers: Mapping[str, str]) -> Fetched:
        """GET ``url``; the answer whatever its status. ServiceUnavailable (never naming
        the URL) when no whole answer came."""
        ...


@dataclass(frozen=True, slots=True)
class UpstreamModels:
    """The upstream model ids a channel's upstream offers (sorted, once each)."""

    channel_id: int
    models: tuple[str, ...]
    source: str  # "upstream": its models endpoint; "config": what its config names (Azure)
    ignored: tuple[str, ...] = ()  # ids no channel can hold: spaces, commas, control codes

    def to_json(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "models": list(self.models),
            "source": self.source,
            "ignored": list(self.ignored),
        }


@dataclass(frozen=True, slots=True)
class ListingAccess:
    """Where a channel's upstream is and how to sign in (``providers.base.ChannelAccess``)."""

    base_url: str
    key: str
    config: Mapping[str, str]


class HttpxGetter:
    """GETs over an httpx client (the CLI, the admin API); each URL passes ``check_url``
    (the address guard) before anything is sent."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        check_url: UrlCheck | None = None,
        timeout: float = LISTING_TIMEOUT,
    ) -> None:
        self._client, self._check_url, self._timeout = client, check_url, timeout

    async def get(self, url: str, headers: Mapping[str, str]) -> Fetched:
        import httpx  # not at import: the router's model syncer loads this module too

        if self._check_url is not None:
            await self._check_url(url)
        try:
            async with asyncio.timeout(self._timeout):
                request = self._client.stream("GET", url, headers=dict(headers))
                async with request as response:
                    body = await collect_body(response.aiter_bytes())
        except (TimeoutError, httpx.TimeoutException):
            raise ServiceUnavailable(
                f"the upstream did not answer within {self._timeout:g} s"
            ) from None
        except httpx.ConnectError:
            raise ServiceUnavailable(UNREACHABLE) from None
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"{FAILED} ({type(exc).__name__})") from None
        return Fetched(response.status_code, body, response.headers.get("Retry-After"))


@asynccontextmanager
async def httpx_getter(check_url: UrlCheck | None = None) -> AsyncIterator[HttpxGetter]:
    """``async with``: an ``HttpxGetter`` on a client of its own, closed after."""
    import httpx  # not at import: the router loads this module, and never httpx otherwise

    async with httpx.AsyncClient(timeout=LISTING_TIMEOUT) as client:
        yield HttpxGetter(client, check_url)


async def collect_body(chunks: AsyncIterator[bytes], limit: int = MAX_LISTING_BYTES) -> bytes:
    """The whole body of ``chunks``; UpstreamError past ``limit`` bytes."""
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise UpstreamError(f"the upstream's model list is over {limit // 2**20} MB")
        parts.append(chunk)
    return b"".join(parts)


async def fetch_upstream_models(
    db: Executor, box: SecretBox, channel_id: int, getter: JsonGetter
) -> UpstreamModels:
    """What channel ``channel_id``'s upstream offers now, asked with its first enabled key."""
    channel = await get_channel(db, channel_id)
    secret = await usable_key(db, box, channel_id)
    return await list_models(channel, secret.key, getter)


async def list_models(
    channel: Channel, key: str, getter: JsonGetter, clock: Callable[[], float] = time.time
) -> UpstreamModels:
    """What ``channel``'s upstream offers, asked with ``key``; InvalidRequest for a kind
    with no listing, UpstreamError or ServiceUnavailable (one line, no key or URL) when the
    upstream failed."""
    lister = LISTERS.get(channel.type)
    if lister is None:
        raise InvalidRequest(f"{channel.type} channels have no model listing")
    call = _Call(channel, ListingAccess(channel.base_url, key, channel.config), getter, clock)
    found = await lister(call)
    good = sorted({model for model in found if _holdable(model)})
    ignored = sorted({model for model in found if model and not _holdable(model)})
    source = "config" if channel.type in FROM_CONFIG else "upstream"
    return UpstreamModels(channel.id, tuple(good), source, tuple(ignored))


def _holdable(model: str) -> bool:
    """Whether a channel can hold ``model`` (stored comma-separated, shown on terminals)."""
    return bool(model) and model.isprintable() and not _BAD_ID.search(model)


class _Call:
    """One channel's listing calls: each GET's answer as JSON, failures as one line."""

    def __init__(
        self,
        channel: Channel,
        access: ListingAccess,
        getter: JsonGetter,
        clock: Callable[[], float],
    ) -> None:
        self.channel, self.access, self.clock = channel, access, clock
        self._getter = getter

    async def json(self, url: str, headers: Mapping[str, str]) -> Any:
        """The 200 answer's JSON; UpstreamError for another status or a body not JSON."""
        try:
            fetched = await self._getter.get(url, headers)
        except ServiceUnavailable as exc:
            raise ServiceUnavailable(self._line(exc.message)) from None
        if fetched.status != 200:
            provider = kind_of(self.channel.type).provider
            error = provider.error(fetched.status, fetched.body, fetched.retry_after).message
            status = f"HTTP {fetched.status}"
            raise UpstreamError(self._line(error if status in error else f"{status}: {error}"))
        try:
            return orjson.loads(fetched.body)
        except orjson.JSONDecodeError:
            raise self.malformed("it is not JSON") from None

    def malformed(self, why: str) -> UpstreamError:
        return UpstreamError(self._line(f"the answer is not a model list ({why})"))

    def _line(self, message: str) -> str:
        """``message`` with the channel named, on one line, base URL and key masked."""
        text = " ".join(message.split())
        if self.access.base_url:
            text = text.replace(self.access.base_url, "***")
        where = f"channel {self.channel.id} ({self.channel.name})"
        return public_error_text(
            f"{where}: listing its models failed: {text}", self.access.key, ERROR_LIMIT
        )


Lister = Callable[[_Call], Awaitable[list[str]]]
PageReader = Callable[[Any], tuple[list[str], str | None]]  # a page -> (ids, next cursor)


async def _paged(
    call: _Call,
    url_of: Callable[[str | None], str],
    headers_of: Callable[[str], Mapping[str, str]],
    read: PageReader,
) -> list[str]:
    """The ids of every page, following the cursor ``read`` finds in each."""
    found: list[str] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        url = url_of(cursor)
        ids, cursor = read(await call.json(url, headers_of(url)))
        found += ids
        if cursor is None:
            return found
    raise UpstreamError(f"channel {call.channel.id}: its model list has over {MAX_PAGES} pages")


def _objects(call: _Call, data: Any, field: str, required: bool = True) -> list[dict[str, Any]]:
    """The objects of list ``field`` of a JSON object answer."""
    if not isinstance(data, dict):
        raise call.malformed("not a JSON object")
    items = data.get(field)
    if items is None and not required:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise call.malformed(f"no {field!r} list of objects")
    return items


def _query(**params: str | int | None) -> dict[str, str | int]:
    """Query parameters without the unset ones (a first page has no cursor)."""
    return {name: value for name, value in params.items() if value is not None}


def _texts(items: list[dict[str, Any]], field: str) -> list[str]:
    return [item[field] for item in items if isinstance(item.get(field), str)]


async def _openai_style(call: _Call) -> list[str]:
    """``GET {base}/models``, OpenAI's list."""
    passthrough = kind_of(call.channel.type).passthrough
    assert passthrough is not None  # LISTERS gives this lister only to such kinds
    url = join_url(call.access.base_url, "/models")
    data = await call.json(url, passthrough.headers(call.access))
    return _texts(_objects(call, data, "data"), "id")


async def _anthropic(call: _Call) -> list[str]:
    """``GET /v1/models``, 1000 a page."""
    url = messages_url(call.access.base_url).removesuffix("/messages") + "/models"
    headers = request_headers(call.access.key, call.access.config)
    headers.pop("content-type", None)

    def url_of(after: str | None) -> str:
        return f"{url}?{urlencode(_query(limit=1000, after_id=after))}"

    def read(page: Any) -> tuple[list[str], str | None]:
        ids = _texts(_objects(call, page, "data"), "id")
        if not page.get("has_more"):
            return ids, None
        last = page.get("last_id")
        if not isinstance(last, str) or not last:
            raise call.malformed("has_more without a last_id")
        return ids, last

    return await _paged(call, url_of, lambda _url: headers, read)


async def _gemini(call: _Call) -> list[str]:
    """``GET /{version}/models``, 1000 a page, the content and embedding models."""
    base = (call.access.base_url or DEFAULT_BASE_URL).rstrip("/")
    if not _GEMINI_VERSIONED.search(base):
        base += "/" + (call.access.config.get("api_version") or DEFAULT_API_VERSION)
    headers = {"x-goog-api-key": call.access.key}

    def url_of(token: str | None) -> str:
        return f"{base}/models?{urlencode(_query(pageSize=1000, pageToken=token))}"

    def read(page: Any) -> tuple[list[str], str | None]:
        models = _objects(call, page, "models", required=False)  # an empty page has none
        kept = [
            m for m in models if GEMINI_METHODS & set(m.get("supportedGenerationMethods") or ())
        ]
        token = page.get("nextPageToken")
        return [bare_model(name) for name in _texts(kept, "name")], token or None

    return await _paged(call, url_of, lambda _url: headers, read)


async def _bedrock(call: _Call) -> list[str]:
    """The text models invoked by id, then the system inference profiles of text models."""
    control = bedrock_control_url(call.access.base_url)
    url = f"{control}/foundation-models?byOutputModality=TEXT"
    summaries = _objects(call, await call.json(url, _bedrock_headers(call, url)), "modelSummaries")
    text = {
        summary["modelId"]: summary
        for summary in summaries
        if isinstance(summary.get("modelId"), str)
        and "TEXT" in (summary.get("outputModalities") or ())
    }
    by_id = [m for m, summary in text.items() if "ON_DEMAND" in _inference_types(summary)]

    def url_of(token: str | None) -> str:
        query = _query(maxResults=1000, type="SYSTEM_DEFINED", nextToken=token)
        return f"{control}/inference-profiles?{urlencode(query)}"

    def read(page: Any) -> tuple[list[str], str | None]:
        profiles = _objects(call, page, "inferenceProfileSummaries", required=False)
        kept = [p for p in profiles if p.get("status") == "ACTIVE" and _of_models(p, text)]
        return _texts(kept, "inferenceProfileId"), page.get("nextToken") or None

    return by_id + await _paged(call, url_of, partial(_bedrock_headers, call), read)


def bedrock_control_url(base_url: str) -> str:
    """The Bedrock control plane beside a runtime base URL (``bedrock-runtime.us-east-1...``
    -> ``bedrock.us-east-1...``); any other host (a proxy) is asked as it is."""
    parts = urlsplit(base_url.rstrip("/"))
    host = parts.netloc
    for runtime, control in _BEDROCK_CONTROL_HOSTS:
        if host.startswith(runtime):
            host = control + host.removeprefix(runtime)
            break
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _bedrock_headers(call: _Call, url: str) -> dict[str, str]:
    """A GET's headers, SigV4-signed for ``url`` now (or a Bedrock API key as a bearer)."""
    headers = {"Accept": "application/json"}
    key = call.access.key.strip()
    if ":" not in key:
        return headers | {"Authorization": f"Bearer {key}"}
    region = call.access.config.get("region")
    if not region:
        raise UpstreamError("the Bedrock channel has no region configured")
    return sign_request(
        "GET",
        url,
        headers,
        b"",
        credentials=parse_credentials(key),
        region=region,
        service=BEDROCK_SERVICE,
        now=call.clock(),
    )


def _inference_types(summary: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(summary.get("inferenceTypesSupported") or ())


def _of_models(profile: Mapping[str, Any], models: Mapping[str, Any]) -> bool:
    """Whether an inference profile routes to one of ``models`` (by the ids in its ARNs)."""
    arns = [m.get("modelArn") for m in profile.get("models") or () if isinstance(m, dict)]
    return any(
        isinstance(arn, str) and arn.rpartition("foundation-model/")[2] in models for arn in arns
    )


AZURE_UNLISTED = (
    "Azure OpenAI has no call that lists a resource's deployments with an api-key (the"
    " management API lists them, with an Entra ID token): name them in the channel's"
    " config, --config deployments=MODEL=DEPLOYMENT,MODEL=DEPLOYMENT"
)


async def _azure(call: _Call) -> list[str]:
    """The models the channel's ``deployments`` config names (no request: see above)."""
    pairs = (
        pair.partition("=") for pair in (call.access.config.get("deployments") or "").split(",")
    )
    named = [
        source.strip() for source, sep, target in pairs if sep and source.strip() and target.strip()
    ]
    if not named:
        raise InvalidRequest(f"channel {call.channel.id}: {AZURE_UNLISTED}")
    return named


# How each channel kind lists its models (every kind of ``providers.registry``).
LISTERS: dict[str, Lister] = {
    "openai": _openai_style,
    "openai-compatible": _openai_style,
    "qwen": _openai_style,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "bedrock": _bedrock,
    "azure": _azure,
}
FROM_CONFIG = frozenset({"azure"})  # kinds whose listing is their config, not a request
