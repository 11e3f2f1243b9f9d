"""Reservation -> settlement -> billed log row: the quota ledger and its per-worker leases,
the values it hands out, and the background writer that bills and logs each request (with
its spill file for rows the database would not take).

May import: ``services``, ``db`` and the frame (``route_trace``, ``periodic``); nothing else of the
gateway.
"""
