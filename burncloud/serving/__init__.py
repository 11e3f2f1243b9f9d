"""How ``burncloud router`` runs: a supervising process and the workers it keeps.

The supervisor binds the port once, starts the worker processes that serve the app on it
(Hypercorn or uvicorn), replaces one that dies and stops them all with a drain. It imports
nothing of the app: only ``worker`` (in the worker processes) imports ``burncloud.server``.
``limits`` states what one client connection may hold of a worker; ``on_hypercorn`` and
``on_uvicorn`` apply it to their server.
"""
