"""Files a desired-state file may read: only inside its own folder tree, unless the user allows more.

A desired-state file comes from a branch; the machine reading it (a CI runner) holds files that
are none of that branch's business (another job's API key, the runner's own credentials). A file
reference is therefore confined to the desired-state file's folder and its subfolders, resolved
with symlinks followed, so neither an absolute path, a ``..`` nor a symlink can reach out.
"""

from __future__ import annotations

import json
from pathlib import Path

ALLOW_FLAG = "--allow-outside-files"


def outside_problem(base: Path, ref: str) -> str | None:
    """Why ``ref`` (relative to the folder ``base``) may not be read, or None when it stays inside ``base``.

    Checked before the file is touched, so nothing tells whether a file outside exists.
    """
    try:
        root = base.resolve()
        resolved = (root / ref).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop or a NUL: reading it reports the problem
        return None
    if resolved.is_relative_to(root):
        return None
    return (
        f"{json.dumps(ref)} resolves outside {root} (the desired-state file's folder and its subfolders): refused, "
        f"so that a desired-state file cannot send any file of this machine to the vault; pass {ALLOW_FLAG} "
        "if that is intended"
    )
