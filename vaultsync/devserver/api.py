"""Routing: a request goes through the real stack's layers in their order, then to the secrets operations."""

from __future__ import annotations

from urllib.parse import unquote

from vaultsync.devserver import secrets
from vaultsync.devserver.assets import AssetsApi
from vaultsync.devserver.errors import Response, edc_error, jetty_error, path_problem
from vaultsync.devserver.store import Vault
from vaultsync.devserver.vocab import BASE_PATH


class Request:
    """The parts of an HTTP request the API logic needs."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


class SecretsApi:
    """The API logic, independent of the socket server so it is cheap to reason about."""

    def __init__(self, vault: Vault, api_key: str | None) -> None:
        self.vault = vault
        self.api_key = api_key
        self.assets = AssetsApi()

    def handle(self, request: Request) -> Response:
        """Answer in the real stack's order: Jetty's path checks, resource matching, auth, then the body."""
        problem = path_problem(request.path, request.method)
        if problem is not None:
            return 400, problem
        if self.assets.serves(request.path):
            return self.assets.handle(request, self.api_key)
        method = request.method
        url = f"http://{request.headers.get('host', 'localhost')}{request.path}"
        accept = request.headers.get("accept")
        route = self.route(request.path)
        if route is None:  # Jetty's 404: what a client meets when the URL or the API version is wrong
            return 404, jetty_error(404, method, url, accept)
        version, alias = route
        allow = "DELETE,GET,OPTIONS" if alias is not None else "POST,OPTIONS,PUT"  # Jersey's order, as measured
        if method not in allow.split(","):
            return 405, jetty_error(405, method, url, accept, (("Allow", allow),))
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if alias is None and content_type and content_type != "application/json":  # no method consumes it
            return 415, jetty_error(415, method, url, accept)
        if self.api_key is not None:  # EDC's auth filter runs after the resource was matched
            given = request.headers.get("x-api-key")
            if given is None:
                return 401, edc_error("x-api-key not found", "AuthenticationFailed")
            if given != self.api_key:
                return 401, edc_error("Request could not be authenticated", "AuthenticationFailed")
        if alias is None:
            if not content_type:  # matched as "any type", then no reader for application/octet-stream
                return 415, jetty_error(415, method, url, accept)
            if method == "POST":
                return secrets.create(self.vault, version, request.body, (method, url, accept))
            return secrets.update(self.vault, version, request.body, (method, url, accept))
        if method == "GET":
            return secrets.get(self.vault, version, alias)
        return secrets.delete(self.vault, alias)

    @staticmethod
    def route(path: str) -> tuple[str, str | None] | None:
        if not path.startswith(BASE_PATH + "/"):
            return None
        rest = path[len(BASE_PATH) + 1 :]
        for version in ("v3", "v4beta", "v4"):  # v4beta (EDC 0.15-0.16) and v4 (0.17+) differ in the path only
            prefix = f"{version}/secrets"
            if rest == prefix:
                return version, None
            if rest.startswith(prefix + "/") and len(rest) > len(prefix) + 1:
                tail = rest[len(prefix) + 1 :]
                if "/" in tail:  # an encoded %2F arrives decoded only after routing
                    return None
                return version, unquote(tail)
        return None
