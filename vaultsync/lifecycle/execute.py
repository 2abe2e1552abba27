"""Apply-time lifecycle work: generated values made, and renames carried out against the vault.

A rename is: read the old alias, write the new one (one POST, or a PUT when an interrupted
rename left it with another value), record it in state, and only then delete the old one. The
caller records the state between the two halves, so an interruption anywhere loses no value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from vaultsync.client import EdcClient
from vaultsync.engine import run_bounded
from vaultsync.errors import VaultsyncError
from vaultsync.lifecycle.generate import new_value
from vaultsync.model import DesiredSecret
from vaultsync.plan import Action, Change, Outcome, Plan
from vaultsync.state import fingerprint


def materialize(secrets: Mapping[str, DesiredSecret], plan: Plan) -> dict[str, DesiredSecret]:
    """The desired secrets with a fresh value for every generated one this plan writes."""
    out = dict(secrets)
    for change in plan.changes:
        secret = secrets.get(change.alias)
        if change.generated and secret is not None and secret.generate is not None:
            out[change.alias] = replace(secret, value=new_value(secret.generate))
    return out


@dataclass
class Renamed:
    """What the first half of the renames did. ``fingerprints`` holds no value, only keyed fingerprints."""

    outcomes: list[Outcome] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict, repr=False)
    deletes: list[Change] = field(default_factory=list)  # the old aliases, to delete once state records the new


async def write_new_aliases(
    client: EdcClient,
    plan: Plan,
    secrets: Mapping[str, DesiredSecret],
    key: bytes,
    parallelism: int,
    *,
    stop: asyncio.Event | None = None,
) -> Renamed:
    """The first half of every rename in ``plan``: the new alias holds the value afterwards."""
    moves = [c for c in plan.changes if c.action is Action.MOVE]
    result = Renamed()
    if not moves:
        return result

    async def one(change: Change) -> str:
        try:
            return await _write_new(client, change, secrets)
        except VaultsyncError:
            raise
        except Exception as exc:  # a bug must not cost the record of what already happened
            raise VaultsyncError(f"unexpected {type(exc).__name__}") from exc

    results = await run_bounded(moves, one, parallelism, stop=stop)
    for index, change in enumerate(moves):
        got = results.get(index)
        if got is None:
            result.outcomes.append(Outcome(change.alias, Action.MOVE, "skipped", "not started: interrupted"))
        elif isinstance(got, BaseException):
            result.outcomes.append(Outcome(change.alias, Action.MOVE, "failed", str(got)))
        else:
            result.fingerprints[change.alias] = fingerprint(key, change.alias, got)
            result.outcomes.append(Outcome(change.alias, Action.MOVE, "done", f"from {change.source}"))
            result.deletes.append(Change(change.source, Action.DELETE, True))
    return result


async def _write_new(client: EdcClient, change: Change, secrets: Mapping[str, DesiredSecret]) -> str:
    """Returns the value the new alias now holds (for its fingerprint; never shown)."""
    if change.resume:
        if change.rewrite:
            value = secrets[change.alias].value
            await client.update(change.alias, value)
            return value
        current = await client.get(change.alias)
        if current is None:
            raise VaultsyncError("the new alias is gone from the vault since planning; plan again")
        return current
    old = await client.get(change.source)
    if old is None:
        raise VaultsyncError(f"{change.source} is gone from the vault since planning: nothing to rename; plan again")
    value = secrets[change.alias].value if change.rewrite else old
    await client.create(change.alias, value)
    return value


def all_outcomes(renamed: Renamed, rest: Sequence[Outcome]) -> list[Outcome]:
    return [*renamed.outcomes, *rest]
