"""Who may use the admin API: callers whose key is an admin key of an enabled admin.

The caller is also who the request's changes are recorded as in the audit trail
(``token:<id>`` of the admin key), for the rest of the request's task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quart import request

from burncloud.gateway.relay.auth import Caller, authenticate, extract_key
from burncloud.services.audit import set_actor, token_actor
from burncloud.services.key_scopes import ADMIN

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime


def require_admin(runtime: Runtime) -> Caller:
    """The caller if its key is admin-scoped and its owner still an admin; 401 as on the
    relay, 403 for any other key (relay keys of admins included). The request's changes
    are recorded as the caller's.

    Admin keys are API keys like any other, found by their hash (``authenticate``), so no
    admin secret is ever compared directly."""
    key = extract_key(dict(request.scope["headers"]))
    caller = authenticate(runtime.snapshot(), key, request.remote_addr, scope=ADMIN)
    set_actor(token_actor(caller.token.id))
    return caller
