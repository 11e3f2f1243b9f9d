"""Alerts: webhooks that tell people about budgets, forecasts, channels, errors and the
fleet, delivered from a durable outbox in the database.

``hooks`` owns the webhooks (URL and signing secret sealed like channel keys, the address
guard on their URLs); ``events`` the event kinds and raising one (``raise_event``: one
event per dedupe key, one delivery per hook that wants it, in the caller's transaction);
``outbox`` claiming, finishing and retrying deliveries; ``signing`` and ``formats`` what a
webhook receives; ``delivery`` one attempt over HTTP. The producers are ``thresholds``
(budget), ``forecasts``, ``error_rate``, ``presence`` (fleet) and ``channel_health``; the
gateway's ``upkeep`` runs the background work (``watch_state`` keeps it to one router per
round). Nothing here runs on the relay path or imports the gateway.
"""
