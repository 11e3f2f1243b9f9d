"""One request's story, in order: read what routing needs (``inbound``), who is calling
(``auth``), its limits and budget, the route (``routing``, ``failover``), the forwarding modes
(passthrough in ``story``, ``converted``, ``native``), the stream ``pump`` and its metering,
down to the ``exchange`` that becomes the log row.

May import: ``billing``, ``egress``, ``fleet``, the frame (``asgi``, ``snapshot``,
``route_trace``, ``runtime`` for typing only), ``providers`` and ``services``; never
``doors`` or ``upkeep``.
"""
