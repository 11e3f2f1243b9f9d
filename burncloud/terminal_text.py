"""Text from clients and upstreams made safe to draw on an operator's terminal.

Model names, request ids, user agents, upstream error messages and the names of tokens,
channels and users are written by clients and upstreams. On a terminal a control
character is a command: ESC starts sequences that move the cursor, recolour, retitle the
window or draw a hyperlink (OSC 8); CR and BS overwrite what was printed; a tab or a
newline forges a table cell or a whole line; a bidi override reorders what the operator
reads. ``terminal_text`` replaces each such character with a visible escape (``\\x1b``,
``\\u202e``, ``\\n``), so the text is shown, literally, and never acts.

Replaced: every C0 control (tab and newline included) and DEL, every C1 control, the
Unicode line and paragraph separators, lone surrogates (they cannot be encoded), and the
format characters (category Cf: bidi embeddings, overrides, isolates and marks, zero-width
space, word joiner, BOM, invisible operators, tags). The zero-width joiner and non-joiner
stay: emoji sequences and several scripts need them, and they reorder nothing.

Markup is the renderer's concern: the CLI's tables and the dashboard draw these strings as
rich ``Text``, which is never parsed for markup, so ``[/x]`` shows as ``[/x]``.
"""

from __future__ import annotations

import unicodedata

_KEPT_FORMAT = frozenset("\u200c\u200d")  # zero-width non-joiner and joiner
_UNSAFE_CATEGORIES = frozenset(("Cc", "Cs", "Zl", "Zp"))
_FAMILIAR = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def terminal_text(text: str) -> str:
    """``text`` with every control, separator and format character shown as an escape."""
    if text.isprintable():  # the common case: nothing to replace (one C-level pass)
        return text
    return "".join(_escape(char) if _unsafe(char) else char for char in text)


def _unsafe(char: str) -> bool:
    category = unicodedata.category(char)
    if category == "Cf":
        return char not in _KEPT_FORMAT
    return category in _UNSAFE_CATEGORIES


def _escape(char: str) -> str:
    if char in _FAMILIAR:
        return _FAMILIAR[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
