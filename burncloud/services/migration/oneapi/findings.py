"""The report a One API / New API import builds up as it reads: what each peer object
becomes, what is left behind and why, and notes on the whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from burncloud.services.migration.report import ReportLine


@dataclass(slots=True)
class Findings:
    """Report lines in the order they were found."""

    mapped: list[ReportLine] = field(default_factory=list)
    skipped: list[ReportLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def map(self, what: str, source: str, outcome: str) -> None:
        self.mapped.append(ReportLine(what, source, outcome))

    def skip(self, what: str, source: str, reason: str) -> None:
        self.skipped.append(ReportLine(what, source, reason))

    def note(self, text: str) -> None:
        self.notes.append(text)


def fraction_text(value: Fraction) -> str:
    """``value`` as a plain decimal when it has one (``0.5``, ``2.25``), else ``4/3``."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
    text = f"{value.numerator * 10**digits // value.denominator}"
    if not digits:
        return text
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    text = text.rjust(digits + 1, "0")
    return f"{sign}{text[:-digits]}.{text[-digits:]}".rstrip("0").rstrip(".")
