"""What an importer found: the manifest it built from the peer, and the report the
operator reads before anything is written (``--dry-run`` prints it and stops)."""

from __future__ import annotations

from dataclasses import dataclass, field

from burncloud.services.manifest.model import Manifest


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One mapped or skipped object: ``what`` ('channel', 'token', 'user', 'price',
    'group', 'redemption', 'setting', 'option', 'log'), the peer's name for it (with its
    id where names repeat), and what it became or why it was skipped."""

    what: str
    source: str
    outcome: str

    def line(self) -> str:
        return f"{self.what} {self.source}: {self.outcome}"


@dataclass(frozen=True, slots=True)
class MoneyTotal:
    """One pot of money before (in the peer's own unit, as text) and after (nano-USD)."""

    what: str  # e.g. 'user balances', 'token quotas', 'unused redemption codes'
    before: str  # as the peer states it, e.g. '12500000 units ($25)'
    after: int  # nano-USD
    exact: bool = True  # False: the peer's unit does not divide into nano-USD


@dataclass(frozen=True, slots=True)
class Migration:
    """An importer's whole result. ``mapped`` says what each peer object becomes (prices
    with the converted amounts, so the operator can check them), ``skipped`` what is left
    behind and why (an unknown channel type, a setting with no equivalent), ``money`` the
    totals that must agree. ``source`` names the peer and its version where known."""

    source: str
    manifest: Manifest
    mapped: tuple[ReportLine, ...] = ()
    skipped: tuple[ReportLine, ...] = ()
    money: tuple[MoneyTotal, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
