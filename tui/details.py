"""One request in full: its figures, its error, and how it was routed.

The route trace (``burncloud.gateway.route_trace``) is read two ways: as sentences like
``burncloud route explain`` prints (channel names filled in from the channels table), then
as the pretty-printed JSON it is stored as. Every value is drawn literally (``literal``):
the request id, the model, the error and the trace are what clients and upstreams wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from burncloud_tui.figures import millis, stamp
from burncloud_tui.literal import literal
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

if TYPE_CHECKING:
    from burncloud.services.stats import LogLine


def request_text(line: LogLine) -> Text:
    """The request's figures, one per line, the cost exact."""
    from burncloud.money import format_usd

    rows = [
        ("request", line.request_id),
        ("time", stamp(line.created_at)),
        ("key", f"{line.token_name or '-'} (id {line.token_id})"),
        ("user", str(line.user_id)),
        ("model", line.model),
        ("channel", f"{line.channel_name or '-'} (id {line.channel_id})"),
        ("endpoint", line.endpoint),
        ("status", str(line.status)),
        ("stream", "yes" if line.stream else "no"),
        (
            "tokens",
            f"{line.prompt_tokens} in, {line.completion_tokens} out, "
            f"{line.cached_tokens} cached" + (" (estimated)" if line.estimated else ""),
        ),
        ("cost", f"${format_usd(line.cost)}"),
        ("latency", f"{millis(line.latency_ms)}, time to first token {millis(line.ttft_ms)}"),
    ]
    text = Text()
    for label, value in rows:
        text.append(f"{label:>9}  ", style="dim")
        text.append(literal(value))
        text.append("\n")
    return text


def route_text(route: str, names: Mapping[int, str]) -> Text:
    """The routing decision as sentences, then its JSON; a note when none was recorded."""
    if not route:
        return Text("no routing decision was recorded (refused before routing)", style="dim")
    try:
        trace = json.loads(route)
    except ValueError:
        return literal(route)
    text = Text()
    for sentence in route_sentences(trace, names):
        text.append(literal(sentence))
        text.append("\n")
    for line in json.dumps(trace, indent=2, ensure_ascii=False).split("\n"):
        text.append("\n")
        text.append(literal(line, style="dim"))
    return text


def route_sentences(trace: dict[str, Any], names: Mapping[int, str]) -> list[str]:
    """Candidates in the order chosen, each skipped channel and why, each attempt."""

    def channel(channel_id: int) -> str:
        return f"channel {channel_id} ({names.get(channel_id, '?')})"

    order = ", ".join(channel(c["id"]) for c in trace.get("candidates", []))
    sentences = [f"candidates, in the order chosen: {order or 'none'}"]
    sentences += [
        f"skipped {channel(skip['id'])}: {skip.get('reason', '')}"
        for skip in trace.get("skipped", [])
    ]
    for number, attempt in enumerate(trace.get("attempts", []), 1):
        status = attempt.get("status") or "no answer"
        outcome = attempt.get("error") or "ok"
        sentences.append(
            f"attempt {number}: {channel(attempt['id'])} -> {status}"
            f" in {attempt.get('ms', '?')} ms: {outcome}"
        )
    return sentences


class DetailsScreen(ModalScreen[None]):
    """A log row in full over the dimmed dashboard; escape, enter or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "dismiss", "Close"),
    ]

    def __init__(self, line: LogLine, channel_names: Mapping[int, str]) -> None:
        super().__init__(id="details")
        self._line = line
        self._names = channel_names

    def compose(self) -> ComposeResult:
        line = self._line
        with VerticalScroll(id="details-box") as box:
            box.border_title = literal(f"request {line.request_id}")
            box.border_subtitle = "escape: close"
            yield Static(request_text(line), id="details-request")
            if line.error:
                yield Static(
                    Text("error\n", style="bold") + literal(line.error, style="red"),
                    id="details-error",
                )
            yield Static(
                Text("route\n", style="bold") + route_text(line.route, self._names),
                id="details-route",
            )
