"""Real EDC connectors for the tests: one JVM per EDC version per test session.

Load with ``pytest_plugins = ("edc_fixtures",)`` in a test module (not a plain import: pytest would then
register a separate session fixture per module, and boot one JVM per module).

The connectors are built by ``tests/edc/runtime.py`` with Maven from Maven Central (cached in ``~/.m2`` and
``tests/edc/.build``) and started with ``require_secrets_api=False``: the Maven Central reachable here serves
no ``org.eclipse.edc:secrets-api``, so they boot without ``/v3/secrets`` (see tests/edc/FINDINGS.md). Tests
that need the secrets API skip with that reason; tests of the shared stack (Jetty, Jersey, auth, EDC's error
bodies) use the asset API of the same runtime.

Without Java or Maven the real-connector tests skip locally and fail in CI (``CI=true``).
``VAULTSYNC_EDC_VERSIONS`` (comma-separated, default ``0.15.1``) picks the versions tested.

Test modules also import its helpers and data, before pytest loads it as a plugin; it holds no assert, so
it opts out of assertion rewriting (which would warn that it was imported too early): PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent / "edc"))
import runtime  # tests/edc/runtime.py (stdlib only)

ENABLE_HINT = "install Java 17 and Maven to run the real-connector tests"


def edc_versions() -> list[str]:
    """The EDC versions the real-connector tests run against (only 0.15.1 by default: one JVM per session)."""
    raw = os.environ.get("VAULTSYNC_EDC_VERSIONS", runtime.DEFAULT_VERSION)
    versions = [v.strip() for v in raw.split(",") if v.strip()]
    unknown = [v for v in versions if v not in runtime.VERSIONS]
    if unknown:
        raise pytest.UsageError(f"VAULTSYNC_EDC_VERSIONS: no pom for {', '.join(unknown)} in tests/edc")
    return versions


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def require_tools() -> None:
    """Skip (laptop) or fail (CI) when Java or Maven is missing: CI must never skip the real connector."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not found on PATH: {ENABLE_HINT}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the real-connector tests must run in CI, not skip)", pytrace=False)
    pytest.skip(reason)


def no_secrets_api_reason(version: str, api: str) -> str:
    return (
        f"SecretsApiUnavailable: EDC {version} serves no /{api}/secrets here: org.eclipse.edc:secrets-api:{version} "
        "is not on the Maven Central reachable from this machine, so the runtime was built without it "
        "(tests/edc/FINDINGS.md)"
    )


def secrets_api_built(version: str) -> bool:
    """Whether the runtime of ``version`` includes EDC's secrets-api module (builds it with Maven if needed)."""
    require_tools()
    try:
        return runtime.secrets_api_in_lib(version)
    except runtime.EdcRuntimeError as exc:
        pytest.fail(f"EDC {version} could not be built: {exc}", pytrace=False)


class Connectors:
    """Started connectors by version; each boots at most once, the first time a test asks for it."""

    def __init__(self) -> None:
        self._running: dict[str, runtime.Connector] = {}
        self._failed: dict[str, str] = {}

    def get(self, version: str) -> runtime.Connector:
        require_tools()
        if version in self._failed:
            pytest.fail(self._failed[version], pytrace=False)
        if version not in self._running:
            try:
                self._running[version] = runtime.start(version, require_secrets_api=False)
            except runtime.EdcRuntimeError as exc:
                self._failed[version] = f"EDC {version} did not start: {exc}"
                pytest.fail(self._failed[version], pytrace=False)
        return self._running[version]

    def stop_all(self) -> None:
        for connector in self._running.values():
            connector.stop()
        self._running.clear()


@pytest.fixture(scope="session")
def edc_connectors() -> Iterator[Connectors]:
    """Every real connector the session started; all are stopped (their whole process group) at its end."""
    connectors = Connectors()
    try:
        yield connectors
    finally:
        connectors.stop_all()


@pytest.fixture(scope="session")
def edc(edc_connectors: Connectors) -> runtime.Connector:
    """The default real connector (the first of VAULTSYNC_EDC_VERSIONS), started once per session."""
    return edc_connectors.get(edc_versions()[0])


def asset_body(asset_id: str) -> dict[str, Any]:
    """A minimal valid asset: the stand-in resource for measuring the shared stack without a secrets API."""
    return {
        "@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"},
        "@id": asset_id,
        "properties": {"name": "vaultsync-test"},
        "dataAddress": {"type": "HttpData", "baseUrl": "http://127.0.0.1:9/none"},
    }


# -- aliases in the URL path -------------------------------------------------------------------------
# What each alias does on Jetty 12 (EDC 0.13+; measured on 0.15.1 via /v3/assets, FINDINGS.md) when it is
# POSTed in the body and then read and deleted through the path, percent-encoded as vaultsync's client does
# (urllib.parse.quote(alias, safe="")): "ok" round-trips; a number is the status GET and DELETE get (the
# alias was created all the same: an orphan). Aliases the schema refuses for other reasons (whitespace,
# control characters: the spec's rule) are not listed.
ALIAS_SAMPLES: dict[str, str | int] = {
    "plain-alias": "ok",
    "vs?question": "ok",
    "vs#hash": "ok",
    "vs:colon:1": "ok",
    "urn:edc:vault:key-1": "ok",
    "vs+plus": "ok",
    "vs;semicolon": "ok",
    "vs-\u00e9": "ok",
    "vs-\u65e5\u672c": "ok",
    "vs'quote\"": "ok",
    "vs[brackets]{braces}@at&amp=eq!$*(),~": "ok",
    "...": "ok",
    "x" * 1024: "ok",  # the schema's maxLength
    "\u00e9" * 682: "ok",  # 4092 bytes once encoded: just under the encoded-length limit
    "vs%percent": 400,  # %25: "Ambiguous URI path encoding"
    "vs%41hex": 400,
    "vs/slash": 400,  # %2F: "Ambiguous URI path separator"
    "vs\\backslash": 400,  # %5C: "Suspicious Path Character"
}
# Too long for the request head (Jetty's 8 KiB buffer): 431, or 414 once the request line alone is too long.
LONG_ALIASES: dict[str, int] = {"a" * 8100: 431, "\u00e9" * 1343: 431, "\u00e9" * 1400: 414, "c" * 10000: 414}


def http_client() -> httpx.Client:
    """A client that opens a connection per request: Jetty closes one after a request it refused while
    parsing (a 400 for the path, 414, 431), sometimes without saying so, and a reused one then fails."""
    return httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
