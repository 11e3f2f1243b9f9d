"""Signatures a receiver can check in five lines of Python, and the bodies each kind of
webhook gets."""

from __future__ import annotations

import re
import time

import orjson
import pytest

from burncloud.services.alerts import signing
from burncloud.services.alerts.events import RaisedEvent
from burncloud.services.alerts.formats import DISCORD_LIMIT, TELEGRAM_LIMIT, render_body
from burncloud.services.alerts.signing import signature, verify

SECRET = "whsec_test-secret-value"
BODY = b'{"id":7,"event":"budget"}'
T = 1_800_000_000


def test_a_signature_verifies_only_for_its_body_secret_and_time() -> None:
    header = signature(SECRET, BODY, T)
    assert re.fullmatch(r"t=1800000000,v1=[0-9a-f]{64}", header)
    assert verify(SECRET, header, BODY, T + 299)
    assert not verify(SECRET, header, BODY + b" ", T)
    assert not verify("whsec_other-secret-value", header, BODY, T)
    assert not verify(SECRET, header, BODY, T + 301)  # a replay of an old delivery
    assert not verify(SECRET, "t=x,v1=00", BODY, T)
    assert not verify(SECRET, "nonsense", BODY, T)


def _readme_snippet() -> str:
    """The verification snippet of the signing module's docstring (the README's)."""
    doc = signing.__doc__ or ""
    block = doc[doc.index("    import hashlib") :].rstrip()
    return "\n".join(line.removeprefix("    ") for line in block.splitlines())


def test_the_documented_five_line_check_accepts_our_signatures() -> None:
    code = _readme_snippet()
    assert len(code.splitlines()) == 5
    scope: dict = {}
    exec(code, scope)  # the documentation's own code, run as a receiver would
    now = int(time.time())
    assert scope["verify"](SECRET, signature(SECRET, BODY, now), BODY)
    assert not scope["verify"](SECRET, signature(SECRET, BODY, now), BODY + b"x")
    assert not scope["verify"](SECRET, signature(SECRET, BODY, now - 3600), BODY)


def _event(text: str = "Token 'ci' (id 3) passed 80% of its quota.") -> RaisedEvent:
    return RaisedEvent(7, "budget", text, {"threshold": 80}, T)


def test_a_json_hook_gets_the_event_object() -> None:
    assert orjson.loads(render_body("json", _event())) == {
        "id": 7,
        "event": "budget",
        "created_at": T,
        "text": "Token 'ci' (id 3) passed 80% of its quota.",
        "data": {"threshold": 80},
    }


def test_slack_text_is_escaped_so_a_name_pings_nobody() -> None:
    body = orjson.loads(render_body("slack", _event("Token '<!channel> & co' passed 80%.")))
    assert body == {"text": "[burncloud budget] Token '&lt;!channel&gt; &amp; co' passed 80%."}


def test_discord_mentions_are_off_and_long_text_is_cut() -> None:
    body = orjson.loads(render_body("discord", _event("@everyone " + "x" * 5000)))
    assert body["allowed_mentions"] == {"parse": []}
    assert len(body["content"]) == DISCORD_LIMIT and body["content"].endswith("...")
    assert body["content"].startswith("[burncloud budget] @everyone")


def test_telegram_gets_a_send_message_body_for_its_chat() -> None:
    body = orjson.loads(render_body("telegram", _event("line\nbreak" + "y" * 5000), "-1001"))
    assert body["chat_id"] == "-1001" and body["disable_web_page_preview"] is True
    assert len(body["text"]) == TELEGRAM_LIMIT
    assert body["text"].startswith("[burncloud budget] line break")  # one line


def test_an_unknown_format_is_a_bug_not_a_body() -> None:
    with pytest.raises(ValueError, match="unknown webhook format"):
        render_body("teams", _event())
