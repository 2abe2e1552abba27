"""Print a saved plan's counts as GitHub step outputs (``create=1`` ...), read by vaultsync itself.

Run with the Python of the venv the action installed vaultsync into: the saved plan is read
by the same code that wrote it, so the counts are those of the JSON plan's summary.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vaultsync.planfile import decode

KEYS = ("create", "update", "delete", "conflict", "unchanged")


def outputs(data: bytes, where: str) -> list[str]:
    targets = decode(data, where)
    totals = dict.fromkeys(KEYS, 0)
    for target in targets:
        for key, count in target.plan.summary.items():
            totals[key] = totals.get(key, 0) + count
    changes = any(t.plan.has_changes for t in targets)
    return [f"{key}={totals[key]}" for key in KEYS] + [f"changes={'true' if changes else 'false'}"]


def main(argv: list[str]) -> int:
    path = Path(argv[1])
    print("\n".join(outputs(path.read_bytes(), str(path))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
