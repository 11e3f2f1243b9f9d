"""``channel probe``: measure what a channel supports with small real requests, and store it.

Each check of ``capability_checks`` is built by the channel's own provider, so an
Anthropic, Gemini or Bedrock channel is probed through the same conversion the relay uses,
with the channel's overrides applied, and sent with its first enabled key over httpx (the
relay's aiohttp pool is for the data plane; the base URL passes the caller's address guard
first). The models are probed a few at a time, each one's checks in turn. Conclusive
findings are stored as the probe's entries of that model; an inconclusive one removes the
probe's earlier entry, as a fresh probe could not confirm it (the operator's entries are
never touched). Error texts never hold the channel's key or URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from burncloud.crypto import SecretBox, public_error_text
from burncloud.db.base import Database
from burncloud.errors import BurncloudError, InvalidRequest
from burncloud.providers.base import ChatProvider, UpstreamRequest
from burncloud.providers.overrides import overridden
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.capabilities import (
    CONTEXT,
    PROBE,
    CapabilitySpec,
    Value,
    set_capabilities,
)
from burncloud.services.capability_checks import (
    CHECKS,
    REFUSED_STATUSES,
    Check,
    context_window,
)
from burncloud.services.channel_keys import usable_key
from burncloud.services.channel_overrides import ChannelOverrides, overrides_from
from burncloud.services.channels import Channel, UrlCheck, get_channel

ERROR_LIMIT = 200
MODELS_AT_ONCE = 4
REQUEST_TIMEOUT = 60.0  # seconds per check: a reasoning answer takes a while


@dataclass(frozen=True, slots=True)
class Finding:
    """One capability of one model: its value, None when inconclusive, and why."""

    name: str
    value: Value | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ModelProbe:
    """What the probe found for one of the channel's models."""

    model: str
    upstream_model: str
    findings: tuple[Finding, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "upstream_model": self.upstream_model,
            "capabilities": [finding.to_json() for finding in self.findings],
        }


@dataclass(frozen=True, slots=True)
class ProbeReport:
    channel_id: int
    name: str
    models: tuple[ModelProbe, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "name": self.name,
            "models": [model.to_json() for model in self.models],
        }


@dataclass(frozen=True, slots=True)
class _Access:
    """What a provider needs to build a request (``ChannelAccess``)."""

    base_url: str
    key: str
    config: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Prober:
    """One probe run's channel, key, client and what it sends with."""

    channel: Channel
    provider: ChatProvider
    access: _Access
    client: httpx.AsyncClient
    timeout: float
    catalog: Mapping[str, int] | None
    overrides: ChannelOverrides

    async def model(self, model: str) -> ModelProbe:
        """Every check of ``model``, in order (parallel tools only when tools are not ruled
        out), and its context window."""
        upstream_model = self.channel.model_map.get(model, model)
        findings: list[Finding] = []
        for check in CHECKS:
            known = {finding.name: finding.value for finding in findings}
            if check.name == "parallel_tools" and known.get("tools") is False:
                findings.append(Finding(check.name, False, "no tool calls at all"))
                continue
            findings.append(await self.check(check, upstream_model))
        window = context_window(upstream_model, self.catalog)
        detail = "published context window" if window else "unknown: no published window"
        findings.append(Finding(CONTEXT, window, detail))
        return ModelProbe(model, upstream_model, tuple(findings))

    async def check(self, check: Check, model: str) -> Finding:
        """Send ``check`` for upstream ``model`` and judge the answer."""
        limit_field = "max_completion_tokens" if self.channel.type == "openai" else "max_tokens"
        try:
            built = self.provider.chat_request(
                self.access, check.body(model, limit_field), model, check.stream
            )
        except BurncloudError as exc:  # the conversion cannot express it
            return self._refusal(check, "refused by the conversion", exc.message)
        try:
            status, raw, retry_after = await self._send(built)
        except httpx.HTTPError as exc:
            return Finding(check.name, None, f"inconclusive: {_no_answer(exc, self.timeout)}")
        if status != 200:
            message = self.provider.error(status, raw, retry_after).message
            if status in REFUSED_STATUSES:
                return self._refusal(check, f"HTTP {status}", message)
            return Finding(check.name, None, f"inconclusive: HTTP {status}: {self._scrub(message)}")
        return self._judge(check, model, raw)

    async def _send(self, built: UpstreamRequest) -> tuple[int, bytes, str | None]:
        headers, body = dict(built.headers), built.body
        if self.overrides:
            headers, body = overridden(
                self.overrides, self.access.key, "POST", built.url, headers, body
            )
        request = self.client.build_request(
            "POST", built.url, content=body, headers=headers, timeout=self.timeout
        )
        response = await self.client.send(request, stream=True)
        try:
            raw = await response.aread()
        finally:
            await response.aclose()
        return response.status_code, raw, response.headers.get("Retry-After")

    def _judge(self, check: Check, model: str, raw: bytes) -> Finding:
        """A 200's verdict: honoured, ignored (a "no" for the checks that say so), or
        inconclusive."""
        try:
            if check.stream:
                stream = self.provider.chat_stream(model, True)
                stream.feed(raw)
                stream.finish()
                honoured = stream.usage is not None
            else:
                answer = self.provider.chat_answer(raw, model)
                honoured = check.honoured(answer.completion, answer.usage)
        except BurncloudError as exc:
            return Finding(check.name, None, f"inconclusive: {self._scrub(exc.message)}")
        if honoured:
            return Finding(check.name, True, "honoured")
        if check.ignored:
            return Finding(check.name, False, check.ignored)
        return Finding(check.name, None, "inconclusive: the answer did not show it")

    def _refusal(self, check: Check, where: str, message: str) -> Finding:
        text = f"{where}: {self._scrub(message)}"
        if check.refused(message):
            return Finding(check.name, False, text)
        return Finding(check.name, None, f"inconclusive: {text}")

    def _scrub(self, message: str) -> str:
        """``message`` on one line, the base URL and the key masked, then cut."""
        text = " ".join(message.split())
        if self.access.base_url:
            text = text.replace(self.access.base_url, "***")
        return public_error_text(text, self.access.key, ERROR_LIMIT)


async def probe_channel(
    db: Database,
    box: SecretBox,
    channel_id: int,
    model: str | None = None,
    *,
    client: httpx.AsyncClient,
    check_url: UrlCheck | None = None,
    catalog: Mapping[str, int] | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
) -> ProbeReport:
    """Probe ``model`` (default: every model) of channel ``channel_id`` and store the
    findings as the probe's entries; ``catalog`` maps upstream models to their context
    windows (a LiteLLM price file's), before the published ones."""
    channel = await get_channel(db, channel_id)
    models = _models(channel, model)
    kind = CHANNEL_KINDS.get(channel.type)
    if kind is None or not kind.serves("chat", channel.config):
        raise InvalidRequest(f"channel {channel_id} serves no chat endpoint: nothing to probe")
    if check_url is not None:
        await check_url(channel.base_url)
    secret = await usable_key(db, box, channel_id)
    access = _Access(channel.base_url, secret.key, channel.config)
    overrides = overrides_from(channel.overrides or {})
    prober = _Prober(channel, kind.provider, access, client, request_timeout, catalog, overrides)
    gate = asyncio.Semaphore(MODELS_AT_ONCE)

    async def one(name: str) -> ModelProbe:
        async with gate:
            return await prober.model(name)

    probes = tuple(await asyncio.gather(*(one(name) for name in models)))
    specs = [CapabilitySpec(p.model, f.name, f.value) for p in probes for f in p.findings]
    await set_capabilities(db, channel_id, specs, PROBE)
    return ProbeReport(channel.id, channel.name, probes)


def _models(channel: Channel, model: str | None) -> list[str]:
    if model is None:
        if not channel.models:
            raise InvalidRequest(f"channel {channel.id} has no models to probe")
        return list(channel.models)
    if model not in channel.models:
        raise InvalidRequest(
            f"channel {channel.id} does not serve model {model!r}: its models are"
            f" {', '.join(channel.models)}"
        )
    return [model]


def _no_answer(exc: httpx.HTTPError, seconds: float) -> str:
    """One line for a check that got no HTTP answer (no URL: it may hold secrets)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return "the upstream is unreachable (could not connect)"
    if isinstance(exc, httpx.TimeoutException):
        return f"the upstream did not answer within {seconds:g} s"
    return f"the upstream connection failed ({type(exc).__name__})"
