"""The reference clients bench.py compares vaultsync with, each run in its own process.

    python bench/clients.py floor URL ALIASES_FILE --parallelism 10 --method GET
    python bench/clients.py sequential URL ALIASES_FILE --method GET
    python bench/clients.py engine DESIRED_FILE --parallelism 10

``floor``: the same requests as vaultsync, made by a minimal httpx.AsyncClient loop at the same
parallelism (nothing else: no retries, no state, no planning). ``sequential``: the same requests
one after another with a synchronous httpx.Client (keep-alive). ``engine``: vaultsync's own plan
in-process, timing only the requests and the planning (no interpreter start, no file validation).
Each prints one JSON line: {"seconds": loop time, "requests": count, "cpu": process CPU seconds}.
ALIASES_FILE is a desired-state file; PUT sends each alias its value from that file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"


def _secrets(path: str) -> dict[str, str]:
    doc = json.loads(Path(path).read_text("utf-8"))
    return {alias: entry if isinstance(entry, str) else entry["value"] for alias, entry in doc["secrets"].items()}


def _headers() -> dict[str, str]:
    headers = {"Accept": "application/json"}
    key = os.environ.get("EDC_API_KEY")
    if key:
        headers["X-Api-Key"] = key
    return headers


def _body(alias: str, value: str) -> dict[str, Any]:
    return {"@context": {"@vocab": EDC_NS}, "@type": "Secret", "@id": alias, "value": value}


def _check(response: httpx.Response, method: str) -> None:
    expected = {"GET": (200, 404), "PUT": (200, 204), "POST": (200, 201, 204)}[method]
    if response.status_code not in expected:
        raise SystemExit(f"{method} {response.url}: unexpected status {response.status_code}")
    if method == "GET" and response.status_code == 200:
        response.json()  # vaultsync reads every answer; so does the floor


async def floor(url: str, secrets: dict[str, str], parallelism: int, method: str) -> int:
    base = url.rstrip("/") + "/v3/secrets"
    items = iter(secrets.items())
    limits = httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)
    async with httpx.AsyncClient(headers=_headers(), limits=limits, timeout=30) as client:

        async def worker() -> None:
            for alias, value in items:
                if method == "GET":
                    response = await client.get(f"{base}/{alias}")
                else:
                    response = await client.request(method, base, json=_body(alias, value))
                _check(response, method)

        await asyncio.gather(*(worker() for _ in range(parallelism)))
    return len(secrets)


def sequential(url: str, secrets: dict[str, str], method: str) -> int:
    base = url.rstrip("/") + "/v3/secrets"
    with httpx.Client(headers=_headers(), timeout=30) as client:
        for alias, value in secrets.items():
            if method == "GET":
                response = client.get(f"{base}/{alias}")
            else:
                response = client.request(method, base, json=_body(alias, value))
            _check(response, method)
    return len(secrets)


def engine(desired_file: str, parallelism: int) -> tuple[int, float]:
    """vaultsync's plan in-process: (requests, seconds) without start-up and validation."""
    from vaultsync.commands.planning import plan_files
    from vaultsync.commands.runtime import Runtime, prepare
    from vaultsync.config import Flags
    from vaultsync.console import Console

    rt = Runtime(Flags(parallelism=parallelism), os.environ, Console(quiet=True))
    targets = prepare(rt, [desired_file])
    started = time.perf_counter()
    reports = asyncio.run(plan_files(rt, targets, adopt=False, out=None))
    return sum(len(r.plan.changes) for r in reports) + 1, time.perf_counter() - started  # + the state read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["floor", "sequential", "engine"])
    parser.add_argument("args", nargs="+", help="URL ALIASES_FILE (floor, sequential) or DESIRED_FILE (engine)")
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--method", choices=["GET", "PUT", "POST"], default="GET")
    opts = parser.parse_args(argv)
    cpu = time.process_time()
    if opts.mode == "engine":
        count, seconds = engine(opts.args[0], opts.parallelism)
    else:
        url, file = opts.args
        secrets = _secrets(file)
        started = time.perf_counter()
        cpu = time.process_time()
        if opts.mode == "floor":
            count = asyncio.run(floor(url, secrets, opts.parallelism, opts.method))
        else:
            count = sequential(url, secrets, opts.method)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "requests": count, "cpu": time.process_time() - cpu}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
