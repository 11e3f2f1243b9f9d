"""Work in the background: disabling channels an upstream declared unusable, probing them
until they answer again, and pruning expired Responses API state.

May import: ``egress``, ``fleet``, ``providers``, ``services`` and the frame; the relay and
the doors never import it (``runtime`` wires it in).
"""
