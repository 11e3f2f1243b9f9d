"""One request's story, in order (``story``): the ``Call`` a door hands over, who is calling
(``auth``), what routing needs of the body (``inbound``, bounded by ``body_budget``), the
route's ``plan``, the caller's ``limits`` and ``budget``, the channels tried in turn
(``routing``, ``failover``), one of three forwarding modes (``passthrough``, ``converted``,
``native``; ``modes`` picks), the stream ``pump``, the answer ``metering``, and the
``exchange`` that becomes the log row.

May import: ``billing``, ``egress``, ``fleet``, the frame (``asgi``, ``snapshot``,
``route_trace``, ``metrics``), ``providers`` and ``services``; never ``doors``, ``upkeep``
or the ``runtime``: what it uses of the worker is the ``deps.RelayDeps`` protocol.
"""
