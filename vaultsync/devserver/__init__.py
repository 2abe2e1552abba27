"""An embedded EDC-compatible secrets API for demos, local development and tests.

It mimics the real connector's secrets endpoints (v3, v4beta and v4): status codes,
IdResponse, error bodies (a JSON array of {message, type, path, invalidValue}),
v3's JSON-LD leniency and v4's strict context/type rules, and X-Api-Key auth.
It also answers like the HTTP stack in front of them (Jetty 12 and Jersey, as
measured on EDC 0.15.1; see tests/edc/FINDINGS.md): a path nothing serves gets
Jetty's 404 page (not EDC's ObjectNotFound array), ``%25``, ``%2F`` and ``%5C``
in a path get Jetty's 400 page, request heads over 8 KiB get 431 or 414, and a
body that is not a JSON object gets a ``text/plain`` 400.
It is not a vault: values sit in memory, or in a plain JSON file with --data.

``Faults`` lets tests inject failures (status codes, delays, dropped
connections, garbage bodies) so retries and partial failures are exercised over
real sockets.

The parts: ``app`` (HTTP handler, server, ``serve``), ``api`` (routing through the stack's layers),
``secrets`` (the v3/v4 body rules and operations), ``store`` (the vault, ``--data``), ``errors`` (EDC's
error arrays, Jetty's pages), ``faults`` (injected failures), ``vocab`` (namespaces and contexts),
``assets`` (the assets API read for references: create, get, delete, the paged query).
"""

from __future__ import annotations

from vaultsync.devserver.api import Request, SecretsApi
from vaultsync.devserver.app import DevServer, serve
from vaultsync.devserver.errors import MAX_REQUEST_HEAD, Raw, Response, jetty_error, jetty_page, path_problem
from vaultsync.devserver.faults import Fault, Faults
from vaultsync.devserver.store import Vault
from vaultsync.devserver.vocab import BASE_PATH, EDC_NS, V3_RESPONSE_CONTEXT, V4_CONTEXT, VALUE_KEYS

__all__ = [
    "BASE_PATH",
    "EDC_NS",
    "MAX_REQUEST_HEAD",
    "V3_RESPONSE_CONTEXT",
    "V4_CONTEXT",
    "VALUE_KEYS",
    "DevServer",
    "Fault",
    "Faults",
    "Raw",
    "Request",
    "Response",
    "SecretsApi",
    "Vault",
    "jetty_error",
    "jetty_page",
    "path_problem",
    "serve",
]
