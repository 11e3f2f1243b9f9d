"""State shared by a router's workers and by the routers of a fleet: the memory-mapped
state file, breakers (``health``), rate limits (local and over Redis), round-robin turns,
the Redis link and the notices routers send each other.

May import: ``services``, Redis's client and the frame's ``periodic``; nothing else of the
gateway. The CLI and the dashboard may read its state (breakers, the state file).
"""
