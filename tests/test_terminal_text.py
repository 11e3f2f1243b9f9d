"""Untrusted text is shown with every terminal command escaped, and nothing else changed."""

from __future__ import annotations

import pytest

from burncloud.terminal_text import terminal_text


@pytest.mark.parametrize(
    "text",
    [
        "gpt-4",
        "[/x]",
        "[link=http://evil.example]gpt-4[/link]",
        "café, 模型, نموذج, 🙂",
        "👩\u200d💻",  # the zero-width joiner makes one emoji of two
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian needs the non-joiner
        "a\xa0b\u3000c",  # spaces other than ' ' are not commands
        "",
    ],
)
def test_printable_text_is_unchanged(text: str) -> None:
    assert terminal_text(text) == text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "\x1b]8;;http://evil.example\x1b\\gpt-4\x1b]8;;\x1b\\",
            "\\x1b]8;;http://evil.example\\x1b\\gpt-4\\x1b]8;;\\x1b\\",
        ),
        ("req-\x1b[2J", "req-\\x1b[2J"),
        ("a\tb\nc\rd", "a\\tb\\nc\\rd"),
        ("\x00\x07\x08\x7f", "\\x00\\x07\\x08\\x7f"),
        ("\x85\x9b31m", "\\x85\\x9b31m"),  # C1: NEL and the 8-bit CSI
        ("abc\u202edcba", "abc\\u202edcba"),  # right-to-left override
        ("\u2066x\u2069\u200e\u200f\u061c", "\\u2066x\\u2069\\u200e\\u200f\\u061c"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("lone \udcff surrogate", "lone \\udcff surrogate"),  # cannot even be encoded
    ],
)
def test_controls_format_characters_and_separators_are_escaped(text: str, shown: str) -> None:
    assert terminal_text(text) == shown
    assert terminal_text(text).isprintable()
