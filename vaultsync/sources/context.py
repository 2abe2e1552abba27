"""One run's view of the value sources that reach outside the desired-state file."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultsync.errors import UsageError
from vaultsync.model import canonical_json
from vaultsync.sources import sops
from vaultsync.sources.command import (
    COMMAND_PLACEHOLDER,
    DEFAULT_TIMEOUT,
    REFUSED,
    CommandPolicy,
    run_command,
)
from vaultsync.sources.paths import NotRegularFile, confined, read_regular

MAX_SOPS_FILE = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64


@dataclass
class Sources:
    """Resolves ``fromSops`` and ``fromCommand`` entries and decrypts sops-encrypted desired-state files.

    Each sops file is decrypted at most once per run (success or failure), whatever the number of entries
    or desired-state files naming it.
    """

    env: Mapping[str, str] = field(repr=False)
    commands: CommandPolicy = "refuse"
    command_timeout: float = DEFAULT_TIMEOUT
    _decrypted: dict[Path, tuple[Any, str | None]] = field(default_factory=dict, repr=False)

    @classmethod
    def for_run(cls, env: Mapping[str, str], commands: CommandPolicy) -> Sources:
        """A context for one command, honouring VAULTSYNC_COMMAND_TIMEOUT (seconds)."""
        raw = env.get("VAULTSYNC_COMMAND_TIMEOUT")
        timeout = DEFAULT_TIMEOUT
        if raw:
            try:
                timeout = float(raw)
            except ValueError:
                timeout = math.nan
            if not (0 < timeout <= 86400):
                raise UsageError(f"VAULTSYNC_COMMAND_TIMEOUT={raw!r}: expected a number of seconds (0 < s <= 86400)")
        return cls(env, commands, timeout)

    # -- encrypted desired-state files ------------------------------------------------------------

    def decrypt_desired(self, data: bytes) -> tuple[bytes | None, str | None]:
        """(the plaintext JSON of a sops-encrypted desired-state file, or why not)."""
        program, problem = sops.find_sops(self.env)
        if program is None:
            return None, f"the file is encrypted with sops, but {problem}"
        plain, problem = sops.decrypt(program, data, "json", env=self.env)
        if plain is None:
            return None, f"the file is encrypted with sops, and {problem}"
        return plain, None

    # -- fromSops ---------------------------------------------------------------------------------

    def sops_value(self, base: Path, spec: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(value, problem) for a schema-valid ``fromSops`` object, relative to the folder ``base``."""
        ref: str = spec["file"]
        pointer: str = spec.get("path", "")
        doc, problem = self._document(base, ref)
        if problem is not None:
            return None, problem
        value, problem = sops.pointer_get(doc, pointer)
        where = f"{json.dumps(pointer)} in {json.dumps(ref)}" if pointer else json.dumps(ref)
        if problem is not None:
            return None, f"{json.dumps(ref)}: {problem}"
        if spec.get("json") is True:
            return _canonical(value, where)
        if not isinstance(value, str):
            return None, (
                f'the value at {where} is {sops.type_name(value)}, not a string; add "json": true to store '
                "it as a JSON document"
            )
        if not value.strip():
            return None, f"the value at {where} is empty or blank: EDC refuses an empty or blank value with 400"
        if not _encodable(value):
            return None, f"the value at {where} is not valid UTF-8 text"
        return value, None

    def _document(self, base: Path, ref: str) -> tuple[Any, str | None]:
        target, problem = confined(base, ref)
        if target is None:
            return None, problem
        if target not in self._decrypted:
            self._decrypted[target] = self._decrypt_file(target, ref)
        return self._decrypted[target]

    def _decrypt_file(self, target: Path, ref: str) -> tuple[Any, str | None]:
        name = json.dumps(ref)
        try:
            data = read_regular(target, MAX_SOPS_FILE)
        except FileNotFoundError:
            return None, f"sops file {name} does not exist (looked in {target.parent})"
        except (IsADirectoryError, NotRegularFile):
            return None, f"{name} is not a regular file"
        except OSError as exc:
            return None, f"cannot read {name}: {exc.strerror}"
        if len(data) > MAX_SOPS_FILE:
            return None, f"{name} is larger than {MAX_SOPS_FILE} bytes"
        program, problem = sops.find_sops(self.env)
        if program is None:
            return None, f"cannot decrypt {name}: {problem}"
        plain, problem = sops.decrypt(program, data, sops.input_type(target), env=self.env)
        if plain is None:
            return None, f"cannot decrypt {name}: {problem}"
        try:
            return json.loads(plain), None
        except (ValueError, RecursionError):
            return None, f"cannot decrypt {name}: sops did not give back a JSON document"

    # -- fromCommand ------------------------------------------------------------------------------

    def command_value(self, base: Path, argv: Sequence[str]) -> tuple[str | None, str | None]:
        """(value, problem) for a schema-valid ``fromCommand`` argv, run in the folder ``base``."""
        if self.commands == "check":
            return COMMAND_PLACEHOLDER, None
        if self.commands == "refuse":
            return None, REFUSED
        return run_command(argv, cwd=base, env=self.env, timeout=self.command_timeout)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _canonical(value: Any, where: str) -> tuple[str | None, str | None]:
    if _depth(value) > MAX_JSON_DEPTH:
        return None, f"the JSON document at {where} is nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        json.dumps(value, allow_nan=False)  # 1e999 reads as infinity: not JSON once written back
    except ValueError:
        return None, f"a number at {where} is too large to store (it would be serialized as Infinity, not JSON)"
    text = canonical_json(value)
    if not _encodable(text):
        return None, f"the JSON document at {where} is not valid UTF-8 text"
    return text, None


def _depth(doc: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_JSON_DEPTH and isinstance(node, dict | list):
            stack.extend((v, depth + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest
