"""Which secrets API version a connector serves: ``--api-version auto`` (the default).

Once per run and connector, before planning and before the lock, vaultsync GETs an alias that cannot
exist under each version in the order v4, v3, v4beta and takes the first that answers like EDC's secrets
API: a JSON ``ObjectNotFound`` 404 (served), or EDC's own 401 (served, but the key was refused: the run
stops with the key message). Anything else (Jetty's 404 or 405 page, HTML, a JSON object, an empty body,
a plain web server) means that version is not served there. When none is, the URL does not serve the
EDC secrets API, and the message names what each probe answered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from vaultsync.errors import UsageError, VaultsyncError
from vaultsync.text import printable

EXPLICIT = ("v3", "v4beta", "v4")
CHOICES = ("auto", *EXPLICIT)
PROBE_ORDER = ("v4", "v3", "v4beta")  # v4 first: EDC 0.17+ serves v3 too, deprecated
# What a management API base URL must not end with: vaultsync appends /{version}/secrets itself.
_SUFFIXES = tuple(f"/{v}/secrets" for v in EXPLICIT) + tuple(f"/{v}" for v in EXPLICIT) + ("/secrets",)


class NotServedError(VaultsyncError):
    """No secrets API version answered like EDC at this URL."""


def check_choice(value: str, where: str) -> str:
    if value not in CHOICES:
        raise UsageError(
            f"{where}: API version must be auto, v3, v4beta or v4 (EDC_API_VERSION), not {printable(value)}"
        )
    return value


def suffix_problem(url: str) -> str | None:
    """Why ``url`` cannot be a management API base: it already names a version or the secrets path."""
    path = urlsplit(url).path.rstrip("/")
    for suffix in _SUFFIXES:
        if path.lower().endswith(suffix):
            base = url.rstrip("/")[: -len(suffix)]
            return (
                f'the management API URL ends in "{suffix}": drop it, vaultsync adds /VERSION/secrets itself '
                f"(use {printable(base)})"
            )
    return None


def probe_alias() -> str:
    """An alias no vault holds: a fresh UUID under a name vaultsync never writes."""
    return f"vaultsync-version-probe-{uuid.uuid4()}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What one probe got back, classified."""

    version: str
    status: int
    kind: str  # "served", "key-refused" or "not-served"
    what: str  # a short, value-free description for messages

    def __str__(self) -> str:
        return f"{self.version}: {self.what}"


def _edc_error_types(response: httpx.Response) -> set[str]:
    try:
        doc = response.json()
    except (ValueError, RecursionError):
        return set()
    if not isinstance(doc, list):
        return set()
    return {str(item.get("type")) for item in doc if isinstance(item, dict)}


def _describe(response: httpx.Response) -> str:
    content_type = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    if not response.content:
        body = "an empty body"
    elif content_type == "text/html":
        body = "an HTML page"
    elif content_type == "application/json":
        body = "a JSON document that is not EDC's answer"
    else:
        body = f"a {printable(content_type)} body"
    return f"HTTP {response.status_code} with {body}"


def classify(version: str, response: httpx.Response) -> Answer:
    status = response.status_code
    types = _edc_error_types(response)
    if status == 404 and "ObjectNotFound" in types:
        return Answer(version, status, "served", "served (EDC's ObjectNotFound)")
    if status in (401, 403) and "AuthenticationFailed" in types:
        return Answer(version, status, "key-refused", f"served, HTTP {status} AuthenticationFailed")
    if status == 200 and response.headers.get("content-type", "").startswith("application/json"):
        try:
            doc = response.json()
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict) and "@id" in doc:  # the impossible alias exists after all
            return Answer(version, status, "served", "served (HTTP 200)")
    return Answer(version, status, "not-served", _describe(response))


def not_served_message(url: str, answers: list[Answer]) -> str:
    said = "; ".join(f"GET /{a.version}/secrets/… answered {a.what}" for a in answers)
    return (
        f"{printable(url)} does not serve the EDC secrets API: what answers there is not the EDC secrets API "
        f"({said}): check --url / EDC_MANAGEMENT_URL, the "
        "management API base with its path (e.g. http://HOST:8181/api/management; EDC's samples use "
        "http://HOST:19193/management), and that the connector includes EDC's secrets-api extension"
    )


def chosen_message(version: str, answers: list[Answer]) -> str:
    steps = ", ".join(f"{a.version} {'served' if a.kind != 'not-served' else 'not served'}" for a in answers)
    return f"API version {version} (detected: {steps})"
