"""What vaultsync sends to EDC's secrets API: the JSON-LD vocabulary and the body of a POST or PUT.

v3 takes JSON-LD with ``@vocab``; v4beta and v4 take the v2 management context. Only the path tells
v4beta from v4.
"""

from __future__ import annotations

from typing import Any

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
V4_CONTEXT = "https://w3id.org/edc/connector/management/v2"
API_VERSIONS = ("v3", "v4beta", "v4")  # v4beta (EDC 0.15-0.16) and v4 (0.17+): same bodies, other path


def secret_body(api_version: str, alias: str, value: str) -> dict[str, Any]:
    """The POST/PUT body EDC expects for ``api_version``."""
    if api_version != "v3":
        return {"@context": [V4_CONTEXT], "@type": "Secret", "@id": alias, "value": value}
    return {"@context": {"@vocab": EDC_NS}, "@type": "Secret", "@id": alias, "value": value}
