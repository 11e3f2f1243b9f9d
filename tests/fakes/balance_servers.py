"""Strict local fakes of the upstream balance endpoints, one server per balance API.

Each serves its provider's documented path on 127.0.0.1 with the documented answer (the
class docstring cites the page), wants the key as the provider does (``Authorization:
Bearer KEY``) and refuses another the way that provider does. Amounts are set on the fake
(as decimal text) and may be changed between checks; ``outage`` makes it answer 503;
``seen`` records each request's path and query. ``base_url`` is what a channel uses as its
base URL for that provider. ``running`` runs a fake on a thread of its own, for CLI tests
whose command runs its own event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Self, TypeVar

from aiohttp import web

DEFAULT_KEY = "sk-canary-balance-key-0123456789"
F = TypeVar("F", bound="BalanceServer")


@dataclass(frozen=True, slots=True)
class Seen:
    """One request a fake answered."""

    path: str
    query: dict[str, str]
    authorization: str


def number(text: str | Decimal) -> float | int:
    """A decimal as the JSON number a provider sends: its shortest form (49.58894), whole
    numbers without a fraction (1234, as Go writes a float64)."""
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def answer(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json")


class BalanceServer:
    """An aiohttp app on a free loopback port that wants ``key``; subclasses add routes."""

    prefix = ""  # the path a channel's base URL adds to the origin

    def __init__(self, key: str = DEFAULT_KEY) -> None:
        self.key = key
        self.outage = False
        self.seen: list[Seen] = []
        self.origin = ""
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return self.origin + self.prefix

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def refusal(self) -> web.Response:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application(middlewares=[self._gate])
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.origin = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Record the request; a wrong key gets the provider's refusal, an outage a 503."""
        self.seen.append(
            Seen(request.path, dict(request.query), request.headers.get("Authorization", ""))
        )
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return self.refusal()
        if self.outage:
            return web.Response(status=503, text="upstream connect error or disconnect")
        result: web.StreamResponse = await handler(request)
        return result


class FakeOpenRouter(BalanceServer):
    """OpenRouter's "Get remaining credits" (https://openrouter.ai/docs/api/api-reference/
    credits/get-credits: ``GET /api/v1/credits`` -> ``{"data": {"total_credits": 100.5,
    "total_usage": 25.75}}``, a management key required: 403 for another) and "Get current
    API key" (.../api-keys/get-current-key: ``GET /api/v1/key`` -> ``{"data": {"label",
    "limit", "limit_remaining", "limit_reset", "usage", ...}}``, ``limit`` null without a
    limit). 401 ``{"error": {"code": 401, "message": ...}}`` for a wrong key."""

    prefix = "/api/v1"

    def __init__(self, key: str = DEFAULT_KEY, *, management: bool = False) -> None:
        super().__init__(key)
        self.management = management
        self.total_credits, self.total_usage = "100.5", "25.75"
        self.limit: str | None = "100"
        self.usage = "25.5"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/v1/credits", self._credits), web.get("/api/v1/key", self._key)]

    def refusal(self) -> web.Response:
        return answer({"error": {"code": 401, "message": "No auth credentials found"}}, 401)

    async def _credits(self, request: web.Request) -> web.Response:
        if not self.management:
            message = "Only management keys can fetch credits"
            return answer({"error": {"code": 403, "message": message}}, 403)
        data = {
            "total_credits": number(self.total_credits),
            "total_usage": number(self.total_usage),
        }
        return answer({"data": data})

    async def _key(self, request: web.Request) -> web.Response:
        limit = left = None
        if self.limit is not None:
            limit, left = number(self.limit), number(Decimal(self.limit) - Decimal(self.usage))
        data = {
            "label": "sk-or-v1-au7...890",
            "limit": limit,
            "limit_remaining": left,
            "limit_reset": None if limit is None else "monthly",
            "usage": number(self.usage),
            "usage_daily": number(self.usage),
            "usage_weekly": number(self.usage),
            "usage_monthly": number(self.usage),
            "is_free_tier": False,
            "is_management_key": self.management,
            "is_provisioning_key": False,
            "include_byok_in_limit": False,
            "rate_limit": {"requests": 1000, "interval": "1h", "note": "deprecated"},
        }
        return answer({"data": data})


class FakeDeepSeek(BalanceServer):
    """DeepSeek's "Get User Balance" (https://api-docs.deepseek.com/api/get-user-balance):
    ``GET /user/balance`` at the host's root -> ``{"is_available": true, "balance_infos":
    [{"currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00",
    "topped_up_balance": "100.00"}]}``; 401 with an OpenAI-style error for a wrong key."""

    def __init__(self, key: str = DEFAULT_KEY) -> None:
        super().__init__(key)
        self.is_available = True
        self.infos = [("CNY", "110.00", "10.00", "100.00")]

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/user/balance", self._balance)]

    def refusal(self) -> web.Response:
        error = {
            "message": "Authentication Fails, Your api key is invalid",
            "type": "authentication_error",
            "param": None,
            "code": "invalid_request_error",
        }
        return answer({"error": error}, 401)

    async def _balance(self, request: web.Request) -> web.Response:
        infos = [
            {"currency": c, "total_balance": t, "granted_balance": g, "topped_up_balance": u}
            for c, t, g, u in self.infos
        ]
        return answer({"is_available": self.is_available, "balance_infos": infos})


class FakeSiliconFlow(BalanceServer):
    """SiliconFlow's "Get user info" (https://docs.siliconflow.cn/cn/api-reference/userinfo/
    get-user-info): ``GET /v1/user/info`` -> ``{"code": 20000, "message": "OK", "status":
    true, "data": {"id", "name", "image", "email", "isAdmin", "balance": "0.88", "status":
    "normal", "introduction", "role", "chargeBalance": "88.00", "totalBalance": "88.88"}}``.
    The page documents no error body: a wrong key gets 401 ``"Invalid token"``."""

    prefix = "/v1"

    def __init__(self, key: str = DEFAULT_KEY) -> None:
        super().__init__(key)
        self.balance, self.charge_balance, self.total_balance = "0.88", "88.00", "88.88"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v1/user/info", self._info)]

    def refusal(self) -> web.Response:
        return answer("Invalid token", 401)

    async def _info(self, request: web.Request) -> web.Response:
        data = {
            "id": "",
            "name": "username",
            "image": "user_avatar_image_url",
            "email": "user_email_address",
            "isAdmin": False,
            "balance": self.balance,
            "status": "normal",
            "introduction": "",
            "role": "",
            "chargeBalance": self.charge_balance,
            "totalBalance": self.total_balance,
        }
        return answer({"code": 20000, "message": "OK", "status": True, "data": data})


class FakeMoonshot(BalanceServer):
    """Moonshot's "查询余额" (https://platform.moonshot.cn/docs/api/balance): ``GET
    /v1/users/me/balance`` -> ``{"code": 0, "data": {"available_balance": 49.58894,
    "voucher_balance": 46.58893, "cash_balance": 3.00001}, "scode": "0x0", "status": true}``;
    401 ``{"error": {"message", "type"}}`` for a wrong key (its OpenAPI ErrorResponse)."""

    prefix = "/v1"

    def __init__(self, key: str = DEFAULT_KEY) -> None:
        super().__init__(key)
        self.available, self.voucher, self.cash = "49.58894", "46.58893", "3.00001"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v1/users/me/balance", self._balance)]

    def refusal(self) -> web.Response:
        error = {"message": "Invalid Authentication", "type": "invalid_authentication_error"}
        return answer({"error": error}, 401)

    async def _balance(self, request: web.Request) -> web.Response:
        data = {
            "available_balance": number(self.available),
            "voucher_balance": number(self.voucher),
            "cash_balance": number(self.cash),
        }
        return answer({"code": 0, "data": data, "scode": "0x0", "status": True})


class FakeOneApi(BalanceServer):
    """A One API / New API reseller's billing pair (songquanpeng/one-api controller/
    billing.go): ``GET /v1/dashboard/billing/subscription`` (and without /v1) ->
    ``{"object": "billing_subscription", "has_payment_method": true, "soft_limit_usd",
    "hard_limit_usd", "system_hard_limit_usd", "access_until"}`` with the key's whole quota
    (100000000 when unlimited), and ``GET .../usage?start_date=&end_date=`` -> ``{"object":
    "list", "total_usage": cents}``. The dates must be YYYY-MM-DD, as OpenAI's API wanted
    them. 401 ``{"error": {"message", "type": "one_api_error"}}`` for a wrong key."""

    prefix = "/v1"

    def __init__(self, key: str = DEFAULT_KEY) -> None:
        super().__init__(key)
        self.quota_usd, self.used_usd = "50", "12.34"
        self.unlimited = False
        self.has_payment_method = True

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(f"{root}/dashboard/billing/{name}", handler)
            for root in ("", "/v1")
            for name, handler in (("subscription", self._subscription), ("usage", self._usage))
        ]

    def refusal(self) -> web.Response:
        return answer({"error": {"message": "无效的令牌", "type": "one_api_error"}}, 401)

    async def _subscription(self, request: web.Request) -> web.Response:
        limit = 100_000_000 if self.unlimited else number(self.quota_usd)
        return answer(
            {
                "object": "billing_subscription",
                "has_payment_method": self.has_payment_method,
                "soft_limit_usd": limit,
                "hard_limit_usd": limit,
                "system_hard_limit_usd": limit,
                "access_until": 0,
            }
        )

    async def _usage(self, request: web.Request) -> web.Response:
        try:
            start = date.fromisoformat(request.query["start_date"])
            end = date.fromisoformat(request.query["end_date"])
        except (KeyError, ValueError):
            error = {"message": "start_date and end_date must be YYYY-MM-DD", "type": "invalid"}
            return answer({"error": error}, 400)
        if start > end:
            return answer({"error": {"message": "start_date after end_date"}}, 400)
        return answer({"object": "list", "total_usage": number(Decimal(self.used_usd) * 100)})


FAKES: dict[str, type[BalanceServer]] = {
    "openrouter": FakeOpenRouter,
    "deepseek": FakeDeepSeek,
    "siliconflow": FakeSiliconFlow,
    "moonshot": FakeMoonshot,
    "openai-billing": FakeOneApi,
}


@dataclass
class _Thread:
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)


@contextmanager
def running(fake: F) -> Iterator[F]:
    """Serve ``fake`` from a background thread with its own event loop."""
    worker = _Thread()
    thread = threading.Thread(target=worker.loop.run_forever, name="fake-balance", daemon=True)
    thread.start()
    try:
        worker.run(fake.start())
        yield fake
    finally:
        worker.run(fake.close())
        worker.loop.call_soon_threadsafe(worker.loop.stop)
        thread.join(timeout=10)
        worker.loop.close()
