"""Where a file named in a desired-state file may be: inside that file's folder tree."""

from __future__ import annotations

import json
import stat
from pathlib import Path


def confined(base: Path, ref: str) -> tuple[Path | None, str | None]:
    """(the resolved path, or why it is refused) for ``ref`` relative to ``base``.

    Symbolic links are followed before the check, so a link pointing out of the tree is refused too:
    a desired-state file from a pull request must not make vaultsync read (and send) ``~/.ssh/id_rsa``.
    """
    if "\x00" in ref:
        return None, f"{json.dumps(ref)} is not a usable file path"
    root = base.resolve()
    try:
        target = (root / ref).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None, f"{json.dumps(ref)} cannot be resolved (a symbolic link loop?)"
    if not target.is_relative_to(root):
        return None, (
            f"{json.dumps(ref)} is outside the desired-state file's folder ({root}); "
            "files are read only from that folder and below"
        )
    return target, None


ALLOW_OUTSIDE_FLAG = "--allow-outside-files"


def outside_problem(base: Path, ref: str) -> str | None:
    """For ``fromFile``, which ``--allow-outside-files`` may widen: why ``ref`` is refused (None: inside ``base``).

    Checked before the file is touched, so nothing tells whether a file outside exists. A path that
    cannot be resolved (a symlink loop, a NUL) is left to the read, which reports it.
    """
    try:
        root = base.resolve()
        target = (root / ref).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if target.is_relative_to(root):
        return None
    return (
        f"{json.dumps(ref)} resolves outside {root} (the desired-state file's folder and its subfolders): refused, "
        f"so that a desired-state file cannot send any file of this machine to the vault; pass {ALLOW_OUTSIDE_FLAG} "
        "if that is intended"
    )


class NotRegularFile(Exception):
    """A path naming something other than a file or a directory: a FIFO, a device, a socket."""


def read_regular(target: Path, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of the regular file ``target`` (more than ``limit``: the file is too large).

    Only regular files: a FIFO or a device (/dev/zero, /dev/stdin) would block or never end. Raises
    FileNotFoundError, IsADirectoryError, NotRegularFile, another OSError, or ValueError (a NUL in the path).
    """
    mode = target.stat().st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(target)
    if not stat.S_ISREG(mode):
        raise NotRegularFile(target)
    with target.open("rb") as handle:
        return handle.read(limit + 1)
