"""Who may use the admin API: callers whose key belongs to an admin user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import request

from burncloud.errors import PermissionDenied
from burncloud.gateway.auth import Caller, authenticate, extract_key

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def require_admin(runtime: Runtime) -> Caller:
    """The caller if its key is an admin's; 401 as on the relay, or 403 for any other user.

    Admin keys are API keys like any other, found by their hash (``authenticate``), so no
    admin secret is ever compared directly."""
    key = extract_key(dict(request.scope["headers"]))
    caller = authenticate(runtime.snapshot(), key, request.remote_addr)
    if not caller.user.is_admin:
        raise PermissionDenied("the admin API needs an admin's API key")
    return caller
