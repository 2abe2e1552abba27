"""The names and contexts EDC's management API speaks, shared by the dev-server's parts."""

from __future__ import annotations

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
V4_CONTEXT = "https://w3id.org/edc/connector/management/v2"
BASE_PATH = "/api/management"
VALUE_KEYS = ("value", "edc:value", EDC_NS + "value")
V3_RESPONSE_CONTEXT = {
    "@vocab": EDC_NS,
    "edc": EDC_NS,
    "odrl": "http://www.w3.org/ns/odrl/2/",
}
