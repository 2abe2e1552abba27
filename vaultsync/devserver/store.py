"""The dev-server's secret store: in memory, optionally persisted to a JSON file (--data) after each write."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from vaultsync.errors import UsageError


class Vault:
    """The in-memory secret store, optionally persisted to a JSON file after each write."""

    def __init__(self, data_file: Path | None = None) -> None:
        self.data_file = data_file
        self.lock = threading.Lock()
        self.secrets: dict[str, str] = {}
        if data_file is not None and data_file.exists():
            try:
                loaded = json.loads(data_file.read_text("utf-8") or "{}")
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise UsageError(f"--data {data_file}: not a dev-server data file ({type(exc).__name__})") from None
            if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
                raise UsageError(f"--data {data_file}: not a dev-server data file (expected an object of strings)")
            self.secrets = {str(k): v for k, v in loaded.items()}

    def persist(self) -> None:
        if self.data_file is None:
            return
        tmp = self.data_file.with_name(self.data_file.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.secrets, handle)
        os.replace(tmp, self.data_file)
