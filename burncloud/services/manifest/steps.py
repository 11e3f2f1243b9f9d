"""Matching stored objects with desired ones, and the steps between them: the part of a
plan every kind of object shares."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from burncloud.errors import InvalidRequest
from burncloud.services.manifest.model import Change

S = TypeVar("S")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Step(Generic[S]):
    """One object's change: ``before`` as stored (None: created), ``after`` as desired in
    its stored form (None: deleted)."""

    change: Change
    before: S | None
    after: S | None


def match_specs(
    what: str,
    stored: Sequence[S],
    desired: Sequence[S],
    key: Callable[[S], K],
    old_key: Callable[[S], K | None],
    text: Callable[[K], str],
) -> tuple[list[tuple[S | None, S]], list[S]]:
    """Each desired object with its stored one (by name, else by ``renamed_from``) or
    None, and the stored objects no desired one took."""
    by_key = {key(spec): spec for spec in stored}
    taken = {key(spec) for spec in desired if key(spec) in by_key}
    pairs: list[tuple[S | None, S]] = []
    for spec in desired:
        found = key(spec)
        if found not in by_key:
            old = old_key(spec)
            if old is None or old not in by_key:
                pairs.append((None, spec))
                continue
            if old in taken:
                raise InvalidRequest(
                    f"{what} {text(found)}: renamed_from {text(old)}, which another {what}"
                    " of the file already is"
                )
            taken.add(old)
            found = old
        pairs.append((by_key[found], spec))
    return pairs, [spec for found, spec in by_key.items() if found not in taken]


def make_steps(
    what: str,
    pairs: Sequence[tuple[S | None, S]],
    extras: Sequence[S],
    prune: bool,
    compare: Callable[[S, S], tuple[str, ...]],
    label: Callable[[S], str],
    key: Callable[[S], Hashable],
    shown: Callable[[S], tuple[str, ...]] = lambda new: (),
) -> tuple[Step[S], ...]:
    """Creations and changes (sorted by name), then, with prune, deletions; a stored
    object matched under another ``key`` is renamed. ``shown`` gives a created object's
    details (the value of a group or setting: it is all there is of them)."""
    writes: list[Step[S]] = []
    for old, new in sorted(pairs, key=lambda pair: label(pair[1])):
        if old is None:
            writes.append(Step(Change("+", what, label(new), shown(new)), None, new))
            continue
        changed = compare(old, new)
        renamed = key(old) != key(new)
        if renamed or changed:
            name = f"{label(old)} -> {label(new)} (renamed)" if renamed else label(new)
            writes.append(Step(Change("~", what, name, changed), old, new))
    deletes = [Step(Change("-", what, label(spec)), spec, None) for spec in extras] if prune else []
    return (*writes, *sorted(deletes, key=lambda step: step.change.name))
