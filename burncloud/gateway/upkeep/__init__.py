"""Work in the background: disabling channels an upstream declared unusable, probing them
until they answer again, pruning expired Responses API state and old log rows, and alerts
(delivering them, watching budgets, forecasts and error rates, the router's presence).

May import: ``egress``, ``fleet``, ``providers``, ``services`` and the frame; the relay and
the doors never import it (``runtime`` wires it in).
"""
