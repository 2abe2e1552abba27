"""Real EDC connectors for the tests: one JVM per EDC version per test session, booted side by side.

Load with ``pytest_plugins = ("edc_fixtures",)`` in a test module (not a plain import: pytest would then
register a separate session fixture per module, and boot one JVM per module).

The connectors are built by ``tests/edc/runtime.py`` with Maven (cached in ``~/.m2`` and ``tests/edc/.build``),
with EDC's secrets API installed from ``<repo>/../shared/edc`` (or ``$VAULTSYNC_EDC_JARS``): 0.15.1 serves
``/v3/secrets`` and ``/v4beta/secrets``, 0.12.0 ``/v3/secrets``. ``VAULTSYNC_EDC_VERSIONS`` (comma-separated,
default both) picks the versions tested; the first test that needs a connector boots all of them at once.

Without Java, Maven or the secrets-api jars the real-connector tests skip on a laptop, saying what fixes it,
and fail under ``CI=true``: CI never skips the real connector, and never runs one without the secrets API.

Test modules also import its helpers and data, before pytest loads it as a plugin; it holds no assert, so
it opts out of assertion rewriting (which would warn that it was imported too early): PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent / "edc"))
import runtime  # tests/edc/runtime.py (stdlib only)

ENABLE_HINT = "install Java 17 and Maven 3.8+ (e.g. apt-get install openjdk-17-jdk-headless maven)"


def edc_versions() -> list[str]:
    """The EDC versions the real-connector tests run against (default: every version with a pom)."""
    raw = os.environ.get("VAULTSYNC_EDC_VERSIONS", ",".join(runtime.VERSIONS))
    versions = [v.strip() for v in raw.split(",") if v.strip()]
    unknown = [v for v in versions if v not in runtime.VERSIONS]
    if unknown:
        raise pytest.UsageError(f"VAULTSYNC_EDC_VERSIONS: no pom for {', '.join(unknown)} in tests/edc")
    return versions


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def cannot_run(reason: str) -> NoReturn:
    """Skip on a laptop; fail under CI=true, where the real connector is required."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the real-connector tests must run in CI, not skip)", pytrace=False)
    pytest.skip(reason)


def require_tools() -> None:
    """Skip (laptop) or fail (CI) when Java or Maven is missing."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        cannot_run(f"{' and '.join(missing)} not found on PATH: {ENABLE_HINT}")


class Connectors:
    """Started connectors by version. The first ``get`` boots every version of the session in parallel."""

    def __init__(self) -> None:
        self._running: dict[str, runtime.Connector] = {}
        self._failed: dict[str, runtime.EdcRuntimeError] = {}

    def get(self, version: str) -> runtime.Connector:
        require_tools()
        if version not in self._running and version not in self._failed:
            wanted = [v for v in dict.fromkeys([version, *edc_versions()]) if v not in self._running]
            for got, result in runtime.start_many(wanted).items():
                if isinstance(result, runtime.Connector):
                    self._running[got] = result
                else:
                    self._failed[got] = result
        if version in self._failed:
            error = self._failed[version]
            if isinstance(error, runtime.SecretsApiUnavailable) and "Maven Central does not publish" in str(error):
                cannot_run(f"EDC {version} without its secrets API: {error}")
            pytest.fail(f"EDC {version} did not start: {error}", pytrace=False)
        return self._running[version]

    @property
    def running(self) -> dict[str, runtime.Connector]:
        return dict(self._running)

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


# -- aliases in the URL path -------------------------------------------------------------------------
# What each alias does on Jetty 12 (EDC 0.13+; measured on 0.15.1's /v3/secrets, FINDINGS.md) when it is
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
