"""The real sops and age programs for the tests, and a fresh age key per test.

Without them (a laptop without Go) the sops tests skip with the reason; under CI=true they fail instead:
CI must run them (.ci/run builds them with Go through .ci/sops-tools.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
HINT = "install Go (then `make test` builds them into .ci/bin), or put sops, age and age-keygen on PATH"


def tools_dir() -> Path | None:
    """The folder holding sops, age and age-keygen: PATH first, then .ci/bin and ~/go/bin."""
    search = os.pathsep.join([os.environ.get("PATH", ""), str(ROOT / ".ci" / "bin"), str(Path.home() / "go" / "bin")])
    found = [shutil.which(tool, path=search) for tool in ("sops", "age", "age-keygen")]
    if None in found:
        return None
    return Path(str(found[0])).parent


def require_sops() -> Path:
    folder = tools_dir()
    if folder is not None:
        return folder
    reason = f"sops, age or age-keygen not found: {HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the sops tests must run in CI, not skip)", pytrace=False)
    pytest.skip(reason)


@dataclass
class Sops:
    """An age key of the test's own, and sops run with it (never the user's keys: HOME is a fresh folder)."""

    bin: Path
    root: Path
    key_file: Path = field(init=False)
    recipient: str = field(init=False)

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.home.mkdir()
        self.key_file = self.root / "age-key.txt"
        subprocess.run([str(self.bin / "age-keygen"), "-o", str(self.key_file)], check=True, capture_output=True)
        out = subprocess.run(
            [str(self.bin / "age-keygen"), "-y", str(self.key_file)], check=True, capture_output=True, text=True
        )
        self.recipient = out.stdout.strip()

    def env(self, *, key: bool = True) -> dict[str, str]:
        """Environment for vaultsync: sops on PATH, this key (or none at all), no way to the user's keys."""
        env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "SOPS_AGE_KEY_FILE": str(self.key_file) if key else "",
            "SOPS_AGE_KEY": "",
        }
        return env

    def encrypt(self, path: Path, doc: Any, *, regex: str | None = None, kind: str = "json") -> Path:
        """Write ``doc`` (a str: as it is) to ``path`` encrypted with sops for this key (plaintext never on disk)."""
        argv = [str(self.bin / "sops"), "encrypt", "--age", self.recipient, "--input-type", kind]
        argv += ["--output-type", kind, *(["--encrypted-regex", regex] if regex else []), "/dev/stdin"]
        done = subprocess.run(
            argv,
            input=(doc if isinstance(doc, str) else json.dumps(doc)).encode(),
            capture_output=True,
            check=False,
            env={**os.environ, **self.env(), "SOPS_DISABLE_VERSION_CHECK": "1"},
            cwd=path.parent,
        )
        assert done.returncode == 0, done.stderr.decode()
        path.write_bytes(done.stdout)
        return path
