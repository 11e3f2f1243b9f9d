"""The main screen as a person reads it, compared with committed text snapshots.

Plain text (no colours) of the whole screen at 80x24 and 160x48, with the clock and the
figures fixed. After an intended change of the layout, rewrite them with
``BURNCLOUD_UPDATE_SNAPSHOTS=1 pytest tests/tui/test_dash_snapshots.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from burncloud_tui.source import StatsSource

from tests.tui.conftest import Runner
from tests.tui.memory_source import MemorySource, empty_source
from tests.tui.screen_text import screen_text

SNAPSHOTS = Path(__file__).parent / "__snapshots__"


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("BURNCLOUD_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "source", "size"),
    [
        ("main_80x24", MemorySource, (80, 24)),
        ("main_160x48", MemorySource, (160, 48)),
        ("empty_80x24", empty_source, (80, 24)),
    ],
)
async def test_screen_matches_its_snapshot(
    run_dash: Runner, name: str, source: type[StatsSource], size: tuple[int, int]
) -> None:
    async with run_dash(source(), size=size) as (app, _):
        check(name, screen_text(app))
