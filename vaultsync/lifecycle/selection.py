"""--target / --exclude / --replace: which aliases a run may touch, and which it rewrites anyway."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from vaultsync.errors import UsageError
from vaultsync.model import DesiredState
from vaultsync.text import printable


@dataclass(frozen=True, slots=True)
class Selection:
    """Shell-glob patterns (case-sensitive, like aliases) and the aliases to rewrite.

    Empty ``targets`` selects every alias; ``excludes`` win over ``targets``.
    """

    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        return bool(self.targets or self.excludes)

    def matches(self, alias: str) -> bool:
        if self.targets and not any(fnmatchcase(alias, p) for p in self.targets):
            return False
        return not any(fnmatchcase(alias, p) for p in self.excludes)

    def describe(self) -> str:
        """For people: "--target 'provider-*' --exclude 'provider-old'"."""
        parts = [f"--target {printable(p)!r}" for p in self.targets]
        parts += [f"--exclude {printable(p)!r}" for p in self.excludes]
        return " ".join(parts)

    def to_doc(self) -> dict[str, Any]:
        """The run's inputs as a saved plan records them (one place, reused by apply PLANFILE)."""
        return {"target": list(self.targets), "exclude": list(self.excludes), "replace": list(self.replace)}

    @staticmethod
    def from_doc(doc: Any) -> Selection:
        """Read back ``to_doc``; anything else is refused (a saved plan is untrusted input)."""
        if doc is None:
            return Selection()
        if not isinstance(doc, dict):
            raise ValueError("selection must be an object")

        def strings(key: str) -> tuple[str, ...]:
            items = doc.get(key, [])
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ValueError(f"selection.{key} must be a list of strings")
            return tuple(items)

        return Selection(strings("target"), strings("exclude"), strings("replace"))


def unmatched(selection: Selection, aliases: Iterable[str]) -> list[str]:
    """The --target patterns that match none of ``aliases`` (a typo makes an empty plan, silently otherwise)."""
    left = list(selection.targets)
    for alias in aliases:
        left = [p for p in left if not fnmatchcase(alias, p)]
        if not left:
            break
    return left


EVERYTHING = Selection()


def make(targets: Iterable[str], excludes: Iterable[str], replace: Iterable[str]) -> Selection:
    """From the command line: duplicates dropped, order kept; empty patterns refused."""
    sel = Selection(*(tuple(dict.fromkeys(items)) for items in (targets, excludes, replace)))
    for flag, items in (("--target", sel.targets), ("--exclude", sel.excludes), ("--replace", sel.replace)):
        if any(not item for item in items):
            raise UsageError(f"{flag} needs a non-empty alias or pattern")
    return sel


def check_replace(selection: Selection, states: Iterable[DesiredState]) -> None:
    """Every --replace alias must be desired (in some connector's files) and inside the targeting."""
    desired: Mapping[str, str] = {a: state.path for state in states for a in state.secrets}
    unknown = [a for a in selection.replace if a not in desired]
    if unknown:
        raise UsageError(
            "--replace names aliases that are not in the desired state: "
            + ", ".join(printable(a) for a in unknown)
            + ". Only desired secrets can be rewritten; nothing was sent"
        )
    outside = [a for a in selection.replace if not selection.matches(a)]
    if outside:
        raise UsageError(
            "--replace names aliases outside "
            + selection.describe()
            + ": "
            + ", ".join(printable(a) for a in outside)
            + "; nothing was sent"
        )
