"""The JSON of a price as the CLI and the admin API show it, for exact comparisons."""

from __future__ import annotations

UNSET_KINDS = (
    "cached", "cache_write", "cache_write_1h", "audio_input", "audio_output", "image_input",
    "image_output", "request",
)  # fmt: skip


def priced(model: str, input: str, output: str, **given: object) -> dict[str, object]:
    """A price's JSON: ``input`` and ``output`` and what ``given`` names (kinds, tiers,
    units, alias, version, incomplete); every other kind unset, no tiers or units."""
    shape: dict[str, object] = {"model": model, "input": input, "output": output}
    shape.update(dict.fromkeys(UNSET_KINDS))
    shape.update(tiers=[], units=[], alias=None, version=None)
    return {**shape, **given}
