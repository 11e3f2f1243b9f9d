"""The folders' import rules (README, Architecture), read from every import in the code:
lazy imports and imports for typing count as much as any other."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GATEWAY_FOLDERS = ("doors", "relay", "egress", "billing", "fleet", "upkeep")
FRAME = ("asgi", "runtime", "snapshot", "metrics", "route_trace", "periodic")  # the frame

# What each gateway folder may import of the gateway (besides itself).
GATEWAY_RULES: dict[str, set[str]] = {
    "doors": {"relay", *FRAME},
    "relay": {"billing", "egress", "fleet", "asgi", "snapshot", "route_trace", "metrics"},
    "egress": {"snapshot"},
    "billing": {"route_trace", "periodic"},
    "fleet": {"periodic"},
    "upkeep": {"egress", "fleet", "snapshot", "periodic"},
    "asgi": set(),
    "snapshot": {"periodic"},
    "periodic": set(),
    "metrics": set(),
    "route_trace": set(),
}
# What the rest of burncloud may import of the gateway: exact modules, or a folder + ".*".
OUTSIDE_RULES: dict[str, set[str]] = {
    "cli": {"fleet.*", "egress.upstream_guard"},
    "tui": {"fleet.*"},
    "admin": {"runtime", "relay.auth", "egress.upstream_guard"},
    "serving": {"asgi", "metrics", "fleet.*"},
    "server": {"*"},
}
NEVER_GATEWAY = ("services", "providers", "protocols", "db", "errors", "config", "money", "crypto")


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / "burncloud").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        yield name, path
    for path in sorted((ROOT / "tui").rglob("*.py")):
        yield "tui." + path.stem, path


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:  # ``from burncloud.gateway import metrics``
                yield f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _gateway_part(module: str) -> tuple[str, str] | None:
    """(folder or frame module, the rest) of a gateway module; None outside the gateway."""
    parts = module.split(".")
    if parts[:2] != ["burncloud", "gateway"] or len(parts) < 3:
        return None
    return parts[2], ".".join(parts[2:])


def _violations() -> Iterator[str]:
    for name, path in _modules():
        own = _gateway_part(name)
        for target in _imports(path):
            reached = _gateway_part(target)
            if reached is None or (own is not None and reached[0] == own[0]):
                continue
            if reached[0] not in GATEWAY_RULES:  # e.g. the gateway package itself
                continue
            if not _allowed(name, own, reached):
                yield f"{name} imports {target}"


def _allowed(name: str, own: tuple[str, str] | None, reached: tuple[str, str]) -> bool:
    if own is not None:
        if own[0] == "runtime":  # the one place that wires the folders together
            return True
        return reached[0] in GATEWAY_RULES.get(own[0], set())
    area = name.split(".")[1] if name.startswith("burncloud.") else "tui"
    if area in NEVER_GATEWAY:
        return False
    rules = OUTSIDE_RULES.get(area, set())
    if "*" in rules or f"{reached[0]}.*" in rules:
        return True
    return any(reached[1] == rule or reached[1].startswith(rule + ".") for rule in rules)


def test_every_import_follows_the_folders_rules() -> None:
    assert list(_violations()) == []


def test_the_rules_are_read_from_real_imports() -> None:
    """The reader sees lazy imports and ``from package import module`` forms."""
    imports = set(_imports(ROOT / "burncloud" / "cli" / "routes.py"))
    assert "burncloud.gateway.fleet.health" in imports
    assert _allowed("burncloud.services.x", None, ("relay", "relay.story")) is False
    assert (
        _allowed("burncloud.gateway.relay.x", ("relay", "relay.x"), ("doors", "doors.x")) is False
    )


def test_each_gateway_folder_says_what_it_owns_and_may_import() -> None:
    for folder in GATEWAY_FOLDERS:
        doc = ast.get_docstring(
            ast.parse((ROOT / "burncloud/gateway" / folder / "__init__.py").read_text())
        )
        assert doc and "May import" in doc, folder
