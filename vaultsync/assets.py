"""Reading the connector's assets for references: the paged ``assets/request`` query, over the client.

A connector or gateway that does not serve the assets API (404, 405, 401, 403, or an answer that is not
EDC's) never fails a run: the references are reported as unchecked instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from vaultsync.bodies import EDC_NS, V4_CONTEXT
from vaultsync.client import EdcClient
from vaultsync.desired import MAX_ENCODED_ALIAS
from vaultsync.engine import read_values
from vaultsync.errors import VaultsyncError
from vaultsync.model import DesiredSecret
from vaultsync.plan import Plan
from vaultsync.references import Checked, Reference, asset_references, check, unchecked
from vaultsync.text import printable

# No maximum was found on EDC 0.15.1 (a limit of 2^31-1 is accepted; without one it answers 50): 500 keeps a
# 10,000-asset connector to 21 requests with pages of a few hundred KB.
DEFAULT_PAGE_SIZE = 500
# A server that ignores offset would send the same full page forever.
MAX_ASSETS = 1_000_000


def query_body(api_version: str, offset: int, limit: int) -> dict[str, Any]:
    """A QuerySpec for one page, sorted by id so that pages do not overlap while the query walks them."""
    context: Any = [V4_CONTEXT] if api_version.startswith("v4") else {"@vocab": EDC_NS}
    return {
        "@context": context,
        "@type": "QuerySpec",
        "offset": offset,
        "limit": limit,
        "sortField": "id",
        "sortOrder": "ASC",
    }


@dataclass(frozen=True, slots=True)
class AssetIndex:
    """alias -> references, or why there is none (``reason``)."""

    index: Mapping[str, tuple[Reference, ...]]
    assets: int = 0
    pages: int = 0
    reason: str | None = None


def _not_served(client: EdcClient, response: httpx.Response, path: str) -> str:
    status = response.status_code
    if status in (401, 403):
        return f"the connector refused the assets query (HTTP {status} for POST {path}; the key may lack the right)"
    if status in (404, 405):
        return f"the connector does not serve POST {path} (HTTP {status})"
    return f"POST {path} answered HTTP {status}: {client.error_for('POST', path, response).detail}"


def _page(response: httpx.Response) -> list[Any] | None:
    if not response.headers.get("content-type", "").lower().startswith("application/json"):
        return None
    try:
        doc = response.json()
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, list) or not all(isinstance(item, dict) for item in doc):
        return None
    return doc


async def read_index(client: EdcClient, page_size: int = DEFAULT_PAGE_SIZE) -> AssetIndex:
    """Page through every asset (offset/limit until a short page) and index the aliases they name."""
    path = f"{client.api_version}/assets/request"
    collected: dict[str, set[Reference]] = {}
    seen: set[str] = set()
    offset = pages = 0
    while True:
        try:
            response = await client.post_json(path, query_body(client.api_version, offset, page_size))
        except VaultsyncError as exc:
            return AssetIndex({}, offset, pages, f"the assets query failed: {exc}")
        pages += 1
        if response.status_code != 200:
            return AssetIndex({}, offset, pages, _not_served(client, response, path))
        page = _page(response)
        if page is None:
            return AssetIndex({}, offset, pages, f"POST {path} answered 200 with something that is not EDC's list")
        ids = [item.get("@id") for item in page]
        if page and isinstance(ids[0], str) and ids[0] in seen:
            return AssetIndex({}, offset, pages, f"POST {path} repeats its pages (offset ignored)")
        seen.update(i for i in ids if isinstance(i, str))
        for asset in page:
            for alias, ref in asset_references(asset):
                collected.setdefault(alias, set()).add(ref)
        offset += len(page)
        if len(page) < page_size or offset >= MAX_ASSETS:
            break
    index = {alias: tuple(sorted(refs)) for alias, refs in collected.items()}
    return AssetIndex(index, offset, pages)


def start(client: EdcClient, enabled: bool, page_size: int) -> asyncio.Task[AssetIndex] | None:
    """Start reading the assets beside the secret reads (None when references are off)."""
    if not enabled:
        return None
    return asyncio.ensure_future(read_index(client, page_size))


_UNREACHABLE = re.compile(r"[/\\%\s\x00-\x1f\x7f-\x9f]")


def _reachable(alias: str) -> bool:
    """Whether a GET of ``alias`` can reach the secrets API (the desired-state rules for the URL path)."""
    return not _UNREACHABLE.search(alias) and len(quote(alias, safe="")) <= MAX_ENCODED_ALIAS


async def present(
    client: EdcClient, aliases: Iterable[str], parallelism: int, *, stop: asyncio.Event | None = None
) -> set[str]:
    """Which of ``aliases`` exist in the vault. The values read are dropped at once."""
    values = await read_values(client, sorted(aliases), parallelism, stop=stop)
    return {alias for alias, value in values.items() if value is not None}


async def finish(
    task: asyncio.Task[AssetIndex] | None,
    client: EdcClient,
    *,
    plan: Plan,
    desired: Mapping[str, DesiredSecret],
    observed: Mapping[str, str | None],
    parallelism: int,
    allow_dangling: bool,
    stop: asyncio.Event | None = None,
) -> Checked | None:
    """The references' verdict on ``plan``: refusals and warnings (None when references are off).

    Referenced aliases the plan did not read are read once more (existence only), so that a reference
    to an alias missing from the vault is reported too.
    """
    if task is None:
        return None
    found = await task
    if found.reason is not None:
        return unchecked(printable(found.reason))
    known = {alias for alias, value in observed.items() if value is not None}
    unread = [alias for alias in found.index if alias not in observed]
    # An S3 keyName is often an object key ("data/file.csv"): no GET can reach such an alias (Jetty 12
    # refuses %2F), so whether it exists is unknown, and it is not called dangling.
    unreachable = {alias for alias in unread if not _reachable(alias)}
    known |= unreachable
    unread = [alias for alias in unread if alias not in unreachable]
    if unread:
        known |= await present(client, unread, parallelism, stop=stop)
    return check(found.index, plan, desired, known, allow_dangling=allow_dangling)


async def cancel(task: asyncio.Task[AssetIndex] | None) -> None:
    """Stop an unfinished assets read (the plan failed before it was needed)."""
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, VaultsyncError):
            await task
