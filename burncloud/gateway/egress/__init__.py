"""Every call that leaves the router: the upstream seam (``upstream``), the address guard
that keeps channels off link-local and metadata addresses (``upstream_guard``), and the
SSRF-safe image fetcher with the image inliner built on it.

May import: ``providers``, ``services`` and the frame (``snapshot``); nothing else of the
gateway.
"""
