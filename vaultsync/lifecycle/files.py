"""Several desired-state files per connector: directories expanded, files merged, renames checked.

Files whose resolved target is the same connector become one desired state; an alias in two of
them is an error naming both files, reported with every other problem before any request.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from vaultsync.errors import InputError, Problem
from vaultsync.model import DesiredSecret, DesiredState
from vaultsync.statecodec import is_reserved

MAX_PEEK = 64 * 1024 * 1024  # as desired.MAX_FILE_BYTES: a larger file is refused when it is loaded


def expand(args: Sequence[str]) -> list[str]:
    """FILE and DIRECTORY arguments as files: a directory stands for its ``*.json`` files, sorted, not
    recursive (sops-encrypted value files beside them excepted). A file named twice (directly, or also
    through its directory) counts once."""
    files: list[str] = []
    problems: list[Problem] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = sorted(str(p) for p in path.glob("*.json") if p.is_file() and not _sops_values(p))
            if not found:
                problems.append(
                    Problem(arg, "is a directory with no *.json desired-state files (subfolders are not read)")
                )
            files.extend(found)
        else:
            files.append(arg)
    if problems:
        raise InputError(problems)
    seen: set[Path] = set()
    unique = []
    for file in files:
        key = Path(file).resolve()
        if key not in seen:
            seen.add(key)
            unique.append(file)
    return unique


def _sops_values(path: Path) -> bool:
    """A sops-encrypted file of values (read through fromSops), not a desired-state file: it has a top-level
    "sops" key and no "secrets" (sops keeps a document's keys, so an encrypted desired-state file has one).
    A directory holds both kinds side by side; only desired-state files stand for the directory."""
    try:
        with path.open("rb") as handle:
            doc = json.loads(handle.read(MAX_PEEK))
    except (OSError, ValueError, RecursionError):
        return False  # loading it reports what is wrong
    return isinstance(doc, dict) and "sops" in doc and "secrets" not in doc


def merge(states: Sequence[DesiredState]) -> DesiredState:
    """One desired state from several files for the same connector (the first file's target)."""
    if len(states) == 1:
        return states[0]
    owner: dict[str, str] = {}
    secrets: dict[str, DesiredSecret] = {}
    problems: list[Problem] = []
    for state in states:
        for alias, secret in state.secrets.items():
            if alias in owner:
                problems.append(
                    Problem(
                        f"{state.path}: secrets{_key(alias)}",
                        f"alias {json.dumps(alias)} is also defined in {owner[alias]}: files for one connector "
                        "are merged, so each alias must be defined in only one of them",
                    )
                )
                continue
            owner[alias] = state.path
            secrets[alias] = secret
    if problems:
        raise InputError(problems)
    paths = tuple(p for s in states for p in s.paths)
    return DesiredState(
        path=" + ".join(paths),
        secrets=secrets,
        target=states[0].target,
        moved=tuple(m for s in states for m in s.moved),
        files=paths,
        warnings=tuple(w for s in states for w in s.warnings),
    )


def _key(alias: str) -> str:
    from vaultsync.desired import describe_key

    return describe_key(alias)


def move_problems(state: DesiredState, reserved: Iterable[str], elsewhere: Collection[str] = ()) -> list[Problem]:
    """What is wrong with the ``moved`` entries of one (merged) desired state.

    ``elsewhere``: aliases of files that may belong to the same connector (validate, with no URL known).
    """
    from vaultsync.desired import alias_problems

    reserved_set = frozenset(reserved)
    problems: list[Problem] = []
    sources: dict[str, str] = {}
    dests: dict[str, str] = {}
    for move in state.moved:
        for field, alias in (("from", move.source), ("to", move.dest)):
            for message in alias_problems(alias):
                problems.append(Problem(f"{move.where}.{field}", message))
        name = json.dumps(move.source)
        if move.source == move.dest:
            problems.append(Problem(move.where, "from and to are the same alias"))
        if is_reserved(move.source, reserved_set):  # the state alias, its shards, the lock
            problems.append(Problem(f"{move.where}.from", f"{name} is reserved for vaultsync's own state and lock"))
        if move.source in state.secrets:
            problems.append(
                Problem(
                    f"{move.where}.from",
                    f"{name} is still in secrets: a renamed alias must be removed from the file "
                    "(keep only the new one)",
                )
            )
        if move.dest not in state.secrets and move.dest not in elsewhere:
            problems.append(
                Problem(
                    f"{move.where}.to",
                    f"{json.dumps(move.dest)} is not in secrets: add the new alias (its entry decides the value "
                    "after the move)",
                )
            )
        for seen, alias, field in ((sources, move.source, "from"), (dests, move.dest, "to")):
            if alias in seen:
                problems.append(
                    Problem(f"{move.where}.{field}", f"{json.dumps(alias)} is already moved by {seen[alias]}")
                )
            seen[alias] = move.where
    return problems


def connector_problems(states: Sequence[DesiredState], url: str | None, reserved: Iterable[str]) -> list[Problem]:
    """For ``validate`` (no network, no flags): files for one connector, as far as that is known without
    flags (``url``, i.e. EDC_MANAGEMENT_URL, else each file's target.url), must merge without clashes and
    their renames must hold. A file with no URL may belong to any connector (a fleet run later with
    EDC_MANAGEMENT_URL set per connector, as the pre-commit hook sees it): it is checked on its own, and a
    rename's new alias may be in any such file."""
    groups: dict[str, list[DesiredState]] = {}
    unknown: set[str] = set()
    for state in states:
        where = url or state.target.url
        if where:
            groups.setdefault(where.rstrip("/").lower(), []).append(state)
        else:
            groups[f"file:{state.path}"] = [state]
            unknown |= state.secrets.keys()
    problems: list[Problem] = []
    for key, group in groups.items():
        try:
            problems += move_problems(merge(group), reserved, unknown if key.startswith("file:") else ())
        except InputError as exc:
            problems += exc.problems
    return problems
