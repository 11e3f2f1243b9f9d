"""The files commands read and write (price catalogs, configuration files, LiteLLM
configs): UTF-8 text, their format from ``--format`` or the extension, and a one-line
error for a file that cannot be read or written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from burncloud.cli.completions import one_of
from burncloud.cli.session import fail

TEXT_FORMATS = ("yaml", "json")
_EXTENSIONS = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}

TextFormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="|".join(TEXT_FORMATS),
        autocompletion=one_of(TEXT_FORMATS),
        help="yaml or json (default: from the file's extension, else yaml).",
        show_default=False,
    ),
]


def chosen_format(given: str | None, path: Path | None, allowed: tuple[str, ...]) -> str:
    """``--format``, or the one ``path``'s extension implies, or yaml."""
    if given is None:
        return _EXTENSIONS.get(path.suffix.lower(), "yaml") if path is not None else "yaml"
    if given not in allowed:
        raise fail(f"--format must be one of {', '.join(allowed)}, not {given!r}")
    return given


def read_text_file(path: Path) -> str:
    """The file's text; the one-line error when it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise fail(f"cannot read {path}: it is not UTF-8 text") from None


def write_text_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path``; the one-line error when it cannot be written."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}") from None
