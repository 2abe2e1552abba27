"""The extra cost of reading references: a plan with and without --no-references. A script, not a test.

    .venv/bin/python bench/references.py                    # 10,000 aliases, 1,000 assets (the issue's goal)
    .venv/bin/python bench/references.py --aliases 500 --assets 50 --repeat 1   # a smoke run

Against `vaultsync dev-server` in its own process: every alias is applied first (so the plan is a steady
state of no-ops), one asset in ten names an alias, then `vaultsync plan` is timed end to end (a subprocess)
with references and with --no-references, interleaved, --repeat times each; medians are compared.
Goal: references add less than 10 % to the plan's time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
_script = Path(sys.executable).parent / "vaultsync"
VAULTSYNC = [str(_script)] if _script.exists() else [sys.executable, "-m", "vaultsync"]
NS = "https://w3id.org/edc/v0.0.1/ns/"
GOAL = 0.10


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aliases", type=int, default=10_000)
    parser.add_argument("--assets", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args(argv)

    server = subprocess.Popen(
        [*VAULTSYNC, "dev-server", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip().split("=", 1)[1]
        env = {**os.environ, "EDC_MANAGEMENT_URL": url}
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / "d.json"
            secrets = {f"alias-{i:05}": f"value-{i}" for i in range(opts.aliases)}
            file.write_text(json.dumps({"version": 1, "secrets": secrets}))
            timed([*VAULTSYNC, "apply", str(file), "--auto-approve", "-q"], env)
            step = max(1, opts.aliases // max(1, opts.assets))
            with httpx.Client(timeout=30) as http:
                for i in range(opts.assets):
                    address = {"type": "HttpData", "baseUrl": "http://x", "secretName": f"alias-{(i * step):05}"}
                    body = {
                        "@context": {"@vocab": NS},
                        "@id": f"asset-{i:05}",
                        "properties": {},
                        "dataAddress": address,
                    }
                    http.post(f"{url}/v3/assets", json=body).raise_for_status()
            plan = [*VAULTSYNC, "plan", str(file), "-q"]
            with_refs: list[float] = []
            without: list[float] = []
            for turn in range(opts.repeat):
                runs = [(with_refs, plan), (without, [*plan, "--no-references"])]
                for samples, cmd in runs if turn % 2 == 0 else reversed(runs):
                    samples.append(timed(cmd, env))
    finally:
        server.terminate()
        server.wait(timeout=10)
    a, b = statistics.median(with_refs), statistics.median(without)
    extra = (a - b) / b
    verdict = "meets" if extra < GOAL else "MISSES"
    print(f"| plan of {opts.aliases} aliases, {opts.assets} assets | seconds (median of {opts.repeat}) |")
    print("|---|--:|")
    print(f"| with references | {a:.2f} |")
    print(f"| --no-references | {b:.2f} |")
    print(f"\nreferences add {extra:+.1%} to the plan's time ({verdict} the goal of < {GOAL:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
