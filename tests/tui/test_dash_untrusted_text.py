"""The dashboard over rows that hold markup and escape sequences: it keeps running and shows
every value literally, in the tables, the tail, the header and a request's details."""

from __future__ import annotations

import pytest
from burncloud_tui.app import DashApp
from burncloud_tui.db_source import DatabaseSource
from burncloud_tui.details import DetailsScreen
from burncloud_tui.literal import literal, literal_cells
from rich.text import Text

from burncloud.db import open_database
from tests.tui.conftest import Clock, refreshed, settle
from tests.tui.screen_text import screen_text
from tests.untrusted_text import (
    CHANNEL,
    CLOSING_TAG,
    ERROR,
    ESCAPE_ID,
    MARKUP_LINK,
    OSC8_LINK,
    TOKEN,
    USER,
    commands_in,
    shown,
    write_untrusted_rows,
)


@pytest.fixture
async def untrusted_db(db_url: str) -> str:
    db = await open_database(db_url)
    try:
        await write_untrusted_rows(db)
    finally:
        await db.close()
    return db_url


async def test_tables_tail_and_header_show_untrusted_text_literally(untrusted_db: str) -> None:
    app = DashApp(DatabaseSource(untrusted_db), refresh_every=3600, clock=Clock(), location="t")
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        await refreshed(pilot)  # a second refresh redraws over the first
        assert app.dash.refreshes == 2 and app.is_running
        text = screen_text(app)
        assert "database error" not in text and commands_in(text) == []
        assert "[/x]" in text  # the closing tag, in the tail and the models table
        assert shown(OSC8_LINK)[:17] in text  # the tail's model column: 18 characters
        assert MARKUP_LINK[:17] in text
        for name in (TOKEN[:11], shown(CHANNEL)[:13], shown(USER)[:20]):
            assert name in text, name
        await pilot.press("slash", *CLOSING_TAG)  # typed markup: the filter is text too
        await pilot.pause()
        assert f"filter: {CLOSING_TAG}" in screen_text(app)
        assert app.dash.query_one("#tail-table").row_count == 1


async def test_details_show_the_request_id_error_and_route_literally(untrusted_db: str) -> None:
    app = DashApp(DatabaseSource(untrusted_db), refresh_every=3600, clock=Clock(), location="t")
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the newest request: the OSC 8 model, the escape id
        assert isinstance(app.screen, DetailsScreen)
        text = screen_text(app)
        assert commands_in(text) == []
        assert f"request {shown(ESCAPE_ID)}" in text  # the border title and the first line
        assert f"model  {shown(OSC8_LINK)}" in text
        assert shown(ERROR)[:60] in text.replace("\n", "")
        assert "breaker open: \\x1b[5mblink" in text
        await pilot.press("escape", "down", "enter")  # the [link=...] one
        assert f"model  {MARKUP_LINK}" in screen_text(app)
        await pilot.press("escape", "down", "enter")  # the [/x] one
        text = screen_text(app)
        assert "model  [/x]" in text and "no channel serves model [/x]" in text


def test_cells_are_text_never_markup() -> None:
    name, styled, our_own = literal_cells([CLOSING_TAG, Text("a\x1bb", style="red"), Text("ok")])
    assert (name.plain, name.spans) == (CLOSING_TAG, [])
    assert (styled.plain, str(styled.style)) == ("a\\x1bb", "red")
    assert our_own.plain == "ok"
    assert literal(MARKUP_LINK, 10).plain == "[link=htt…"
    assert literal("\x1b" * 5, 6).plain == "\\x1b\\…"  # escaped first, then cut
