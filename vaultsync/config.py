"""Connection settings: flags over environment over the file's ``target``."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from vaultsync.errors import InputError, Problem, UsageError
from vaultsync.model import DEFAULT_LOCK_ALIAS, DEFAULT_STATE_ALIAS, Target
from vaultsync.sources import CommandPolicy
from vaultsync.text import printable
from vaultsync.versions import check_choice, suffix_problem


@dataclass(frozen=True, slots=True)
class Flags:
    """What the command line said (None: not given)."""

    url: str | None = None
    api_key_file: str | None = None
    api_version: str | None = None
    parallelism: int = 10
    timeout: float = 30.0
    max_retries: int = 4
    ca_bundle: str | None = None
    insecure: bool = False
    state_file: str | None = None
    state_alias: str = DEFAULT_STATE_ALIAS
    lock_alias: str = DEFAULT_LOCK_ALIAS
    references: bool = True  # read the assets for references (--no-references: False)
    assets_page_size: int = 500
    allow_dangling: bool = False
    commands: CommandPolicy = "refuse"  # fromCommand: run (--allow-commands), refuse, or check only
    allow_outside_files: bool = False  # fromFile may read outside the desired-state file's folder tree

    @property
    def reserved(self) -> tuple[str, str]:
        return (self.state_alias, self.lock_alias)


@dataclass(frozen=True, slots=True)
class Connection:
    url: str
    api_key: str | None = field(repr=False)
    api_version: str
    warnings: tuple[str, ...] = ()


def read_key_file(path: str) -> str:
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--api-key-file {path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    key = text[:-1] if text.endswith("\n") else text
    key = key[:-1] if key.endswith("\r") else key
    if not key:
        raise UsageError(f"--api-key-file {path}: the file is empty")
    return key


_HEADER_SAFE = re.compile(r"[\x20-\x7e]+")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve(flags: Flags, target: Target, env: Mapping[str, str], where: str) -> Connection:
    """Pick url, key and API version; fail before any request when something is missing."""
    url = flags.url or env.get("EDC_MANAGEMENT_URL") or target.url
    if not url:
        raise UsageError(
            f"{where}: no management API URL: use --url, set EDC_MANAGEMENT_URL, or add target.url to the file"
        )
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise UsageError(f"{where}: the management API URL is malformed") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{where}: the management API URL must be http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        # It would be printed in plans and errors and saved in plan files.
        raise UsageError(
            f"{where}: the management API URL must not hold a user name or password; "
            "give the API key with --api-key-file or EDC_API_KEY"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"{where}: the management API URL must not have a query (?...) or fragment (#...)")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise UsageError(f"{where}: the management API URL has an invalid port") from None
    suffix = suffix_problem(url)
    if suffix is not None:
        raise UsageError(f"{where}: {suffix}")
    api_version = check_choice(flags.api_version or env.get("EDC_API_VERSION") or target.api_version or "auto", where)
    if flags.api_key_file:
        key: str | None = read_key_file(flags.api_key_file)
    elif env.get("EDC_API_KEY"):
        key = env["EDC_API_KEY"]
    elif target.api_key_env:
        key = env.get(target.api_key_env)
        if not key:
            raise InputError(
                [Problem(f"{where}: target.apiKeyEnv", f"environment variable {target.api_key_env} is not set")]
            )
    else:
        key = None
    if key is not None and not _HEADER_SAFE.fullmatch(key):
        source = (
            f"--api-key-file {flags.api_key_file}"
            if flags.api_key_file
            else ("EDC_API_KEY" if env.get("EDC_API_KEY") else str(target.api_key_env))
        )
        raise UsageError(
            f"{where}: the API key from {source} holds characters an HTTP header cannot carry "
            "(only printable ASCII is allowed; no line breaks, tabs or control characters)"
        )
    warnings: list[str] = []
    if flags.insecure and parts.scheme == "https":
        warnings.append("--insecure: TLS certificates are NOT verified; anyone on the path can read the secrets")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        what = "the API key and secret values travel" if key else "secret values travel"
        warnings.append(f"{what} unencrypted over plain HTTP to {printable(parts.hostname)}; use https://")
    return Connection(url.rstrip("/"), key, api_version, tuple(warnings))


def verify_setting(flags: Flags) -> bool | str:
    if flags.insecure:
        return False
    if flags.ca_bundle:
        if not Path(flags.ca_bundle).is_file():
            raise UsageError(f"--ca-bundle {flags.ca_bundle}: no such file")
        return flags.ca_bundle
    return True
