"""Channels in the background: disabling those an upstream declared unusable, and probing
them until they answer again.

May import: ``egress``, ``fleet``, ``providers``, ``services`` and the frame; the relay and
the doors never import it (``runtime`` wires it in).
"""
