"""Bounded-parallel reads and writes over one client.

A fixed pool of workers pulls from one iterator, so memory stays flat whatever
the number of aliases (no task per alias), and results land in a dict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from vaultsync.client import EdcClient
from vaultsync.errors import Interrupted, VaultsyncError
from vaultsync.model import DesiredSecret
from vaultsync.plan import Action, Change, Outcome

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int], None]


async def run_bounded(
    items: Iterable[T],
    work: Callable[[T], Awaitable[R]],
    parallelism: int,
    *,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    fail_fast: bool = False,
    halt: Callable[[], bool] | None = None,
) -> dict[int, R | BaseException]:
    """Run ``work`` over ``items`` with at most ``parallelism`` in flight.

    Returns index -> result or exception. Items not started because ``stop`` was
    set, ``halt()`` said so (or, with ``fail_fast``, because one failed) are absent
    from the result.
    """
    iterator = iter(enumerate(items))
    results: dict[int, R | BaseException] = {}
    failed = False

    async def worker() -> None:
        nonlocal failed
        for index, item in iterator:
            if failed or (stop is not None and stop.is_set()) or (halt is not None and halt()):
                return
            try:
                results[index] = await work(item)
            except VaultsyncError as exc:
                results[index] = exc
                failed = fail_fast
            if progress is not None:
                progress(1)

    await asyncio.gather(*(worker() for _ in range(max(1, parallelism))))
    return results


async def read_values(
    client: EdcClient,
    aliases: Iterable[str],
    parallelism: int,
    progress: Progress | None = None,
    *,
    stop: asyncio.Event | None = None,
) -> dict[str, str | None]:
    """GET each alias once. Raises the first error: a plan on partial knowledge is no plan.

    After an error no further GET starts (a connector gone mid-run must not cost thousands of
    retried requests). When ``stop`` is set no further GET starts and Interrupted is raised once
    those in flight end.
    """
    ordered = list(aliases)
    results = await run_bounded(
        ordered,
        client.get,
        parallelism,
        stop=stop,
        progress=progress,
        fail_fast=True,
        halt=lambda: client.breaker.tripped,
    )
    for result in results.values():
        if isinstance(result, BaseException):
            raise result
    if len(results) < len(ordered):
        raise Interrupted("interrupted while reading the vault; nothing was written")
    observed: dict[str, str | None] = {}
    for index, alias in enumerate(ordered):
        value = results[index]
        assert not isinstance(value, BaseException)
        observed[alias] = value
    return observed


async def _perform(client: EdcClient, change: Change, desired: Mapping[str, DesiredSecret]) -> str:
    if change.action is Action.CREATE:
        await client.create(change.alias, desired[change.alias].value)
        return ""
    if change.action is Action.UPDATE:
        await client.update(change.alias, desired[change.alias].value)
        return ""
    if change.action is Action.DELETE:
        return "" if await client.delete(change.alias) else "already gone"
    raise AssertionError(f"not a write: {change.action}")


async def execute(
    client: EdcClient,
    changes: Iterable[Change],
    desired: Mapping[str, DesiredSecret],
    parallelism: int,
    *,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Make one write per change: creates and updates first, deletes after.

    Independent changes go on when one fails. Changes not started because
    ``stop`` was set, or because the client's breaker tripped (the connector is
    gone), are reported as skipped. ``on_outcome`` hears of each change as it ends.
    """
    writes = [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    outcomes: list[Outcome] = []
    # Deletes last: a secret renamed in the file is created before the old alias goes.
    for phase in (
        [c for c in writes if c.action is not Action.DELETE],
        [c for c in writes if c.action is Action.DELETE],
    ):

        async def one(change: Change) -> str:
            try:
                detail = await _perform(client, change, desired)
            except VaultsyncError as exc:
                _tell(on_outcome, Outcome(change.alias, change.action, "failed", str(exc)))
                raise
            except Exception as exc:  # a bug must not cost the record of what already happened
                _tell(on_outcome, Outcome(change.alias, change.action, "failed", f"unexpected {type(exc).__name__}"))
                raise VaultsyncError(f"unexpected {type(exc).__name__}") from exc
            _tell(on_outcome, Outcome(change.alias, change.action, "done", detail))
            return detail

        results = await run_bounded(
            phase, one, parallelism, stop=stop, progress=progress, halt=lambda: client.breaker.tripped
        )
        gone = client.breaker.tripped and not (stop is not None and stop.is_set())
        why = "not started: the connector stopped answering" if gone else "not started: interrupted"
        for index, change in enumerate(phase):
            if index not in results:
                outcomes.append(Outcome(change.alias, change.action, "skipped", why))
                continue
            result = results[index]
            if isinstance(result, BaseException):
                outcomes.append(Outcome(change.alias, change.action, "failed", str(result)))
            else:
                outcomes.append(Outcome(change.alias, change.action, "done", result))
    return outcomes


def _tell(listener: Callable[[Outcome], None] | None, outcome: Outcome) -> None:
    if listener is not None:
        listener(outcome)
