"""Decrypting with the real ``sops`` binary, in memory, and reading a JSON Pointer in what it gives.

The ciphertext goes to sops on stdin and the plaintext comes back on stdout: no temporary file, ever.
sops's own messages are never shown (for a damaged file they can quote parts of it); its documented
exit statuses say what went wrong well enough.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

SOPS_TIMEOUT = 120.0  # a cloud KMS behind sops can be slow; sops itself never waits for input here

# https://github.com/getsops/sops/blob/main/cmd/sops/codes/codes.go
_NO_KEY = (
    "no key that can decrypt it is available (sops exit status 128): give sops the private key, e.g. "
    "SOPS_AGE_KEY_FILE=/path/to/keys.txt or SOPS_AGE_KEY for age, or the credentials of the file's KMS or PGP key"
)
_DAMAGED = (
    "it does not decrypt (sops exit status {status}): it was changed without sops (an edited value or a "
    "renamed key) or is damaged; edit encrypted files with `sops edit`"
)
_STATUS_MESSAGES = {
    2: "sops could not read it (sops exit status 2)",
    24: _DAMAGED,
    25: _DAMAGED,
    51: _DAMAGED,
    52: "its sops metadata has no MAC (sops exit status 52): the file is damaged",
    128: _NO_KEY,
}
_INPUT_TYPES = {".yaml": "yaml", ".yml": "yaml", ".env": "dotenv", ".ini": "ini"}


def input_type(path: PurePath) -> str:
    """The sops input type for a file, from its extension as sops itself decides (JSON otherwise)."""
    return _INPUT_TYPES.get(path.suffix.lower(), "json")


def find_sops(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(the sops program to run, or why there is none): VAULTSYNC_SOPS, else ``sops`` on PATH."""
    given = env.get("VAULTSYNC_SOPS")
    if given:
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            return None, f"VAULTSYNC_SOPS={json.dumps(given)} is not an executable file"
        return given, None
    found = shutil.which("sops", path=env.get("PATH", os.defpath))
    if found is None:
        return None, (
            "the sops program is not installed (not on PATH); install sops "
            "(https://github.com/getsops/sops) or set VAULTSYNC_SOPS to its path"
        )
    return found, None


def decrypt(program: str, data: bytes, kind: str, *, env: Mapping[str, str]) -> tuple[bytes | None, str | None]:
    """(the decrypted document as JSON bytes, or why not) for the sops-encrypted ``data``.

    sops runs in vaultsync's own working directory, so a relative SOPS_AGE_KEY_FILE means what the user meant.
    """
    # The version check would reach for the internet (absent on many runners); decrypt never needs it.
    child_env = {**env, "SOPS_DISABLE_VERSION_CHECK": "1"}
    argv = [program, "decrypt", "--input-type", kind, "--output-type", "json"]
    try:
        done = subprocess.run(argv, input=data, capture_output=True, env=child_env, timeout=SOPS_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return None, f"sops did not finish within {SOPS_TIMEOUT:g} s"
    except OSError as exc:
        return None, f"sops ({program}) cannot be run: {exc.strerror}"
    if done.returncode == 0:
        return done.stdout, None
    if b"sops metadata not found" in done.stderr:
        return None, "it is not encrypted with sops (it has no sops metadata)"
    template = _STATUS_MESSAGES.get(done.returncode, "sops failed with exit status {status}")
    return None, template.format(status=done.returncode)


_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "a number")


def pointer_get(doc: Any, pointer: str) -> tuple[Any, str | None]:
    """(the value at the RFC 6901 JSON Pointer ``pointer`` in ``doc``, or why there is none)."""
    if pointer == "":
        return doc, None
    if not pointer.startswith("/"):
        return None, f"path {json.dumps(pointer)} is not a JSON Pointer: it must be empty or start with /"
    node = doc
    walked = ""
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        here = json.dumps(walked) if walked else "the top of the document"
        if isinstance(node, dict):
            if token not in node:
                return None, f"path {json.dumps(pointer)} is not there: no key {json.dumps(token)} at {here}"
            node = node[token]
        elif isinstance(node, list):
            if not (token == "0" or (token.isdigit() and token.isascii() and not token.startswith("0"))):
                return None, f"path {json.dumps(pointer)}: {json.dumps(token)} is not an array index (at {here})"
            if int(token) >= len(node):
                return None, f"path {json.dumps(pointer)} is not there: the array at {here} has {len(node)} items"
            node = node[int(token)]
        else:
            what = type_name(node)
            return None, f"path {json.dumps(pointer)} is not there: {here} holds {what}, not an object or an array"
        walked += "/" + raw
    return node, None
