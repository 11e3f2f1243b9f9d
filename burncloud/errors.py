"""The one error tree, and the HTTP error table every front door renders.

    BurncloudError                      500 server_error / server_error
    ├── InvalidRequest                  400 invalid_request / invalid_request_error
    │   └── RequestTooLarge             413 request_too_large
    ├── InvalidToken                    401 invalid_token
    │   └── TokenExpired                401 token_expired
    ├── InsufficientQuota               402 insufficient_quota / insufficient_quota_error
    │   └── BudgetExceeded              402 budget_exceeded (with Retry-After: the reset)
    ├── PermissionDenied                403 permission_denied / permission_error
    │   └── ModelPriceNotSet            403 model_price_not_set
    ├── NotFound                        404 not_found / not_found_error
    │   └── ModelNotFound               404 model_not_found
    ├── RateLimited                     429 rate_limit_exceeded / rate_limit_error
    ├── UpstreamError                   502 upstream_error / server_error
    └── ServiceUnavailable              503 service_unavailable / server_error
        └── StorageUnavailable          503 (the database cannot be written or reached)

Messages are shown to users as they are: they never hold secrets or tracebacks.
"""

from __future__ import annotations

from typing import Any, ClassVar


class BurncloudError(Exception):
    """Base of every error burncloud reports to a user."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "server_error"
    type: ClassVar[str] = "server_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        """The OpenAI-shaped error body."""
        return {"error": {"message": self.message, "type": self.type, "code": self.code}}


class InvalidRequest(BurncloudError):
    status = 400
    code = "invalid_request"
    type = "invalid_request_error"


class RequestTooLarge(InvalidRequest):
    status = 413
    code = "request_too_large"


class RequestTimeout(InvalidRequest):
    status = 408
    code = "request_timeout"


class InvalidToken(BurncloudError):
    status = 401
    code = "invalid_token"
    type = "invalid_request_error"


class TokenExpired(InvalidToken):
    code = "token_expired"


class InsufficientQuota(BurncloudError):
    status = 402
    code = "insufficient_quota"
    type = "insufficient_quota_error"


class BudgetExceeded(InsufficientQuota):
    """A budget window (a day, a month, 5 hours...) is spent; money returns at its reset."""

    code = "budget_exceeded"


class PermissionDenied(BurncloudError):
    status = 403
    code = "permission_denied"
    type = "permission_error"


class ModelPriceNotSet(PermissionDenied):
    code = "model_price_not_set"


class NotFound(BurncloudError):
    status = 404
    code = "not_found"
    type = "not_found_error"


class ModelNotFound(NotFound):
    code = "model_not_found"


class EndpointNotServed(NotFound):
    """The model has channels, but none serves the endpoint asked for (a 404: no retry
    helps, unlike a 503, which clients such as Codex retry for half a minute)."""

    code = "endpoint_not_served"


class RateLimited(BurncloudError):
    status = 429
    code = "rate_limit_exceeded"
    type = "rate_limit_error"


class UpstreamError(BurncloudError):
    status = 502
    code = "upstream_error"


class ServiceUnavailable(BurncloudError):
    status = 503
    code = "service_unavailable"


class StorageUnavailable(ServiceUnavailable):
    """The database cannot serve (a full disk, read-only, locked, unreachable): raised where
    an engine error enters our code (``burncloud.db.failures``), never by a handler."""


class ConfigError(BurncloudError):
    """A setting or secret is missing or wrong; raised at startup, never per request."""

    code = "config_error"


class DatabaseMissing(ConfigError):
    """A read-only open found no burncloud database at the URL (nothing created yet)."""
