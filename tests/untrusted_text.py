"""Log rows holding what clients and upstreams may write: markup, escape sequences, controls.

Any key holder can log a request for the model ``[/x]`` (answered 404, but logged) or pick
its request id, and an upstream's error text may echo the client's input. The CLI and the
dashboard tests draw these rows and check that each value shows literally (``shown``) and
nothing reaches the terminal as a command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from burncloud.db import Database
from burncloud.gateway.billing.logwriter import LogRecord, LogWriter
from burncloud.gateway.route_trace import RouteTrace
from burncloud.services.tokens import insert_token
from burncloud.services.users import create_user
from burncloud.terminal_text import terminal_text
from tests.services.test_stats import NOW, NoLedger, add_channel

CLOSING_TAG = "[/x]"  # Rich and Textual raise a MarkupError on it
MARKUP_LINK = "[link=http://evil.example]gpt-4[/link]"  # would show as a clickable "gpt-4"
OSC8_LINK = "\x1b]8;;http://evil.example\x1b\\gpt-4\x1b]8;;\x1b\\"  # a terminal hyperlink
ESCAPE_ID = "req-\x1b[2J\x1b]0;pwned\x07"  # clears the screen and retitles the window
ERROR = "no model \x1b[31m[/x]\x1b[0m here\r\nattempt 9: ok\tforged \u202eevil"
USER = "[bold]eve[/bold]\x1b[8m"
TOKEN = "[link=http://evil.example]key[/link]"
CHANNEL = "chan\x1b]0;title\x07"
MODELS = (CLOSING_TAG, MARKUP_LINK, OSC8_LINK)
SGR = re.compile(r"\x1b\[[0-9;]*m")  # colour and weight, which our own output may use


def shown(text: str) -> str:
    """How ``text`` reads on the operator's screen: every control character escaped."""
    return terminal_text(text)


def commands_in(output: str) -> list[str]:
    """The control characters in ``output`` besides our own: line ends, the tabs between
    cells (the tests count the cells) and colours."""
    return [char for char in SGR.sub("", output) if char not in "\t\n" and not char.isprintable()]


@dataclass(frozen=True, slots=True)
class UntrustedWorld:
    channel: int
    token: int
    user: int


async def write_untrusted_rows(db: Database) -> UntrustedWorld:
    """A user, key and channel with hostile names, and one request per hostile model."""
    async with db.transaction() as tx:
        user = await create_user(tx, name=USER, balance=-1)
        token, _ = await insert_token(tx, name=TOKEN, user_id=user.id)
    channel = await add_channel(db, CHANNEL, "enabled")
    trace = RouteTrace(
        candidates=[{"id": channel, "priority": 0, "weight": 1}],
        skipped=[{"id": channel, "reason": "breaker open: \x1b[5mblink"}],
        attempts=[{"id": channel, "status": 502, "ms": 12, "error": ERROR}],
    )
    writer = LogWriter(db, NoLedger())
    for age, model, request_id, status, error, route in (
        (30, CLOSING_TAG, "req-close", 404, f"no channel serves model {CLOSING_TAG}", None),
        (20, MARKUP_LINK, MARKUP_LINK, 200, "", None),
        (10, OSC8_LINK, ESCAPE_ID, 502, ERROR, trace),
    ):
        writer.submit(
            LogRecord(
                created_at=NOW - age,
                request_id=request_id,
                user_id=user.id,
                token_id=token.id,
                channel_id=None if status == 404 else channel,
                model=model,
                endpoint="chat/completions",
                prompt_tokens=10,
                completion_tokens=5,
                cached_tokens=0,
                cost=0,
                latency_ms=age,
                ttft_ms=None,
                status=status,
                stream=False,
                estimated=False,
                settlement=None,
                error=error,
                route=route,
            )
        )
    assert await writer.flush() == 3
    return UntrustedWorld(channel, token.id, user.id)
