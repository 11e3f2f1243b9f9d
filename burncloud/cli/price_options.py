"""The options `burncloud price` commands share: one USD option per token kind (and the
request price), the channel a cost price belongs to, and their parsing into ``Rates``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services.pricing import Rates

FLAGS = {
    "input": "--input",
    "output": "--output",
    "cached": "--cached",
    "cache_write": "--cache-write",
    "cache_write_1h": "--cache-write-1h",
    "audio_input": "--audio-input",
    "audio_output": "--audio-output",
    "image_input": "--image-input",
    "image_output": "--image-output",
    "request": "--request",
}


def _usd(kind: str, help: str) -> Any:
    return typer.Option(FLAGS[kind], metavar="USD", help=help, show_default=False)


InputOption = Annotated[str | None, _usd("input", "Input tokens, USD per 1M.")]
OutputOption = Annotated[
    str | None, _usd("output", "Output tokens (reasoning included), USD per 1M.")
]
CachedOption = Annotated[
    str | None, _usd("cached", "Cached input (cache reads), USD per 1M (default: input).")
]
CacheWriteOption = Annotated[
    str | None, _usd("cache_write", "Cache writes (5 minutes), USD per 1M (default: input).")
]
CacheWrite1hOption = Annotated[
    str | None,
    _usd("cache_write_1h", "Cache writes kept 1 hour, USD per 1M (default: input)."),
]
AudioInputOption = Annotated[
    str | None, _usd("audio_input", "Audio input tokens, USD per 1M (default: input).")
]
AudioOutputOption = Annotated[
    str | None, _usd("audio_output", "Audio output tokens, USD per 1M (default: output).")
]
ImageInputOption = Annotated[
    str | None, _usd("image_input", "Image input tokens, USD per 1M (default: input).")
]
ImageOutputOption = Annotated[
    str | None, _usd("image_output", "Image output tokens, USD per 1M (default: output).")
]
RequestOption = Annotated[str | None, _usd("request", "A flat price per request, USD.")]
ChannelOption = Annotated[
    int | None,
    typer.Option(
        "--channel",
        metavar="ID",
        help="The channel's own cost price instead of the list price.",
        show_default=False,
    ),
]


def parse_rates(texts: Mapping[str, str | None]) -> Rates:
    """The given kind options (by kind) as nano-USD; an error names its option."""
    return Rates(
        **{
            kind: parse_amount(FLAGS[kind], text)
            for kind, text in texts.items()
            if text is not None
        }
    )


def parse_amount(option: str, text: str) -> int:
    """Parse a USD option into nano-USD, naming the option in any error."""
    try:
        return parse_usd(text)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{option}: {exc.message}") from None
