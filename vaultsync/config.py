"""Connection settings: flags over environment over the file's ``target``."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from vaultsync.errors import InputError, Problem, UsageError
from vaultsync.model import DEFAULT_LOCK_ALIAS, DEFAULT_STATE_ALIAS, Target


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
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{where}: the management API URL must be http:// or https:// with a host")
    api_version = flags.api_version or env.get("EDC_API_VERSION") or target.api_version or "v3"
    if api_version not in ("v3", "v4"):
        raise UsageError(f"{where}: API version must be v3 or v4 (EDC_API_VERSION)")
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
    warnings: list[str] = []
    if flags.insecure and parts.scheme == "https":
        warnings.append("--insecure: TLS certificates are NOT verified; anyone on the path can read the secrets")
    if key and parts.scheme == "http" and not _is_loopback(parts.hostname):
        warnings.append(
            f"the API key and secret values travel unencrypted over plain HTTP to {parts.hostname}; use https://"
        )
    return Connection(url.rstrip("/"), key, api_version, tuple(warnings))


def verify_setting(flags: Flags) -> bool | str:
    if flags.insecure:
        return False
    if flags.ca_bundle:
        if not Path(flags.ca_bundle).is_file():
            raise UsageError(f"--ca-bundle {flags.ca_bundle}: no such file")
        return flags.ca_bundle
    return True
