"""What a client calls: the OpenAI relay routes' neighbours in other formats (the Anthropic
and Gemini front doors), the account endpoints, /openapi.json and /metrics.

A door turns its format into a relay call and the relay's answer back into its format; it
holds no business logic. May import: ``relay``, the frame (``asgi``, ``runtime``,
``snapshot``, ``metrics``), ``providers`` (its format's conversions) and ``services``.
"""
