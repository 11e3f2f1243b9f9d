"""The admin API: every route under /api/, each one behind the admin-key check."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from quart import Blueprint, Response, request

from burncloud.admin.alerts import alerts_blueprint
from burncloud.admin.audit import audit_blueprint
from burncloud.admin.auth import require_admin
from burncloud.admin.bill_replay import bill_replay_blueprint
from burncloud.admin.budgets import budgets_blueprint
from burncloud.admin.channel_balance import channel_balance_blueprint
from burncloud.admin.channel_capabilities import channel_capabilities_blueprint
from burncloud.admin.channel_keys import channel_keys_blueprint
from burncloud.admin.channel_models import channel_models_blueprint
from burncloud.admin.channels import channels_blueprint
from burncloud.admin.groups import groups_blueprint
from burncloud.admin.logs import logs_blueprint
from burncloud.admin.plans import plans_blueprint
from burncloud.admin.price_catalog import price_catalog_blueprint
from burncloud.admin.prices import prices_blueprint
from burncloud.admin.quota import quota_blueprint
from burncloud.admin.redemptions import redemptions_blueprint
from burncloud.admin.tokens import tokens_blueprint
from burncloud.admin.users import users_blueprint
from burncloud.errors import NotFound

if TYPE_CHECKING:
    from burncloud.gateway.runtime import Runtime

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def admin_blueprint(runtime: Runtime) -> Blueprint:
    """/api/...: channels, tokens, quotas, prices and the price catalog, users, groups,
    redemptions and logs."""
    blueprint = Blueprint("admin", __name__, url_prefix="/api")

    @blueprint.before_request
    async def admin_only() -> None:
        require_admin(runtime)

    @blueprint.after_request
    async def announce(response: Response) -> Response:
        """A change went through: every router of the fleet reloads now, not at its poll."""
        if request.method != "GET" and response.status_code < 400:
            runtime.config_changed()
        return response

    for area in (
        channels_blueprint,
        channel_keys_blueprint,
        channel_models_blueprint,
        channel_balance_blueprint,
        channel_capabilities_blueprint,
        tokens_blueprint,
        quota_blueprint,
        prices_blueprint,
        price_catalog_blueprint,
        bill_replay_blueprint,
        users_blueprint,
        groups_blueprint,
        redemptions_blueprint,
        logs_blueprint,
        plans_blueprint,
        budgets_blueprint,
        alerts_blueprint,
        audit_blueprint,
    ):
        blueprint.register_blueprint(area(runtime))

    # Unknown paths and methods under /api/ are checked too, so without an admin key
    # nothing tells which admin routes exist.
    @blueprint.route("/<path:rest>", methods=METHODS)
    async def unknown(rest: str) -> NoReturn:
        raise NotFound(f"no admin endpoint {request.method} /api/{rest}")

    return blueprint
