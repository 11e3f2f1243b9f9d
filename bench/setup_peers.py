"""Install the peer gateways the bench can measure beside the router (``--peers``).

    python bench/setup_peers.py [--dir bench/.peers]

Portkey's gateway goes into ``bench/.peers/portkey`` (npm, with @hono/node-server pinned),
LiteLLM's proxy into its own venv ``bench/.peers/litellm-venv`` (pip). Both are pinned
versions; running it again leaves what is installed alone. Needs node and npm, and access
to the npm registry and PyPI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from peers import PEERS_DIR, installed, setup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=PEERS_DIR, help="where to install")
    args = parser.parse_args(argv)
    try:
        setup(args.dir)
    except RuntimeError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 1
    state = installed(args.dir)
    print(" ".join(f"{name}={'yes' if ok else 'no'}" for name, ok in state.items()))
    return 0 if all(state.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
