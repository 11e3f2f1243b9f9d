"""What a plan checks of the configuration it would leave: every name an object gives
(a group, a plan, a user, a channel) exists, and an enabled admin remains.

The services refuse the same things when apply writes (an unknown group, the last admin),
but only here, before anything is written, can a dry run refuse them too, with the object
and the fix named.
"""

from __future__ import annotations

from burncloud.errors import InvalidRequest
from burncloud.services.groups import DEFAULT_GROUP
from burncloud.services.manifest.clean import token_label
from burncloud.services.manifest.model import Manifest


def check_references(desired: Manifest, after: Manifest) -> None:
    """Refuse (InvalidRequest) a plan whose result ``after`` (channels, groups, plans, users
    and tokens as they will be) leaves a name of ``desired`` or of a kept object dangling."""
    _check_groups(after)
    plans = {plan.name for plan in after.plans or ()}
    users = {user.name for user in after.users or ()}
    # The file's users too: one the file leaves unchanged may name a plan that prune deletes.
    for user in (*(after.users or ()), *(desired.users or ())):
        if user.plan is not None and user.plan not in plans:
            raise InvalidRequest(f"user {user.name!r}: no plan {user.plan!r} (add it to plans)")
    for user in desired.users or ():
        if user.inviter is not None and user.inviter not in users:
            raise InvalidRequest(
                f"user {user.name!r}: no user {user.inviter!r} to be its inviter (add it to users)"
            )
    for token in after.tokens or ():
        if token.user not in users:
            raise InvalidRequest(
                f"token {token_label(token.user, token.name)}: no user {token.user!r}"
                " (add it to users)"
            )
    _check_channel_prices(desired, after)
    if desired.users is not None and not any(
        user.role == "admin" and user.enabled for user in after.users or ()
    ):
        raise InvalidRequest("users: no enabled admin would be left (keep one enabled admin)")


def _check_groups(after: Manifest) -> None:
    """The groups that plans, users and channels name exist."""
    groups = {DEFAULT_GROUP, *(after.groups or {})}
    named = [
        *((f"plan {plan.name!r}", plan.group) for plan in after.plans or () if plan.group),
        *((f"user {user.name!r}", user.group) for user in after.users or ()),
        *(
            (f"channel {channel.name!r}", group)
            for channel in after.channels or ()
            for group in channel.groups
        ),
    ]
    for where, group in named:
        if group not in groups:
            raise InvalidRequest(f"{where}: no group {group!r} (add it to groups)")


def _check_channel_prices(desired: Manifest, after: Manifest) -> None:
    """Cost prices name channels that will exist, and models those channels serve."""
    if desired.prices is None:
        return
    served = {channel.name: channel.models for channel in after.channels or ()}
    for name, table in desired.prices.channels.items():
        if name not in served:
            raise InvalidRequest(
                f"prices of channel {name!r}: no such channel (add it to channels)"
            )
        for model in table:
            if model not in served[name]:
                raise InvalidRequest(
                    f"price of {model!r} on channel {name!r}: the channel does not serve it"
                    f" (it serves {', '.join(served[name])})"
                )
