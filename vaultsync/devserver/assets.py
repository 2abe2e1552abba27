"""The dev-server's assets API: create, get, delete and the paged ``assets/request`` query.

Enough of EDC's asset endpoints for references (demos and tests), with the shapes measured on EDC 0.15.1
(``/v3`` and ``/v4beta``; ``/v4`` answers like ``/v4beta``): IdResponse on create, ``Asset`` documents
with the data address compacted against EDC's namespace, ``ObjectNotFound`` and ``ObjectConflict``
arrays, the QuerySpec validation messages of each version, a default page of 50, no maximum limit, and
Jetty's 400/500 pages where EDC throws. Assets live in memory only (``--data`` persists secrets).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from vaultsync.devserver.errors import Response, jetty_error, json_kind, not_json
from vaultsync.devserver.errors import edc_error as _error
from vaultsync.devserver.vocab import BASE_PATH, EDC_NS, V3_RESPONSE_CONTEXT, V4_CONTEXT

if TYPE_CHECKING:
    from vaultsync.devserver.api import Request

VERSIONS = ("v3", "v4beta", "v4")
DEFAULT_LIMIT = 50


def route(path: str) -> tuple[str, str | None] | None:
    """(version, id or "" for the collection or "?request" for the query) for an assets path."""
    for version in VERSIONS:
        prefix = f"{BASE_PATH}/{version}/assets"
        if path == prefix:
            return version, ""
        if path.startswith(prefix + "/") and len(path) > len(prefix) + 1:
            tail = path[len(prefix) + 1 :]
            if "/" in tail:
                return None
            return version, ("?request" if tail == "request" else unquote(tail))
    return None


def _compact(key: str) -> str:
    for prefix in (EDC_NS, "edc:"):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and "@value" in value:
        return value["@value"]
    return value


def _compacted(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        return {}
    return {_compact(k): _plain(v) for k, v in doc.items() if k not in ("@context", "@type")}


def _get(doc: dict[str, Any], name: str) -> Any:
    for key in (name, "edc:" + name, EDC_NS + name):
        if key in doc:
            return doc[key]
    return None


class AssetsApi:
    """In-memory assets (insertion order, like EDC's in-memory store answers an unsorted query)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.assets: dict[str, dict[str, Any]] = {}

    @staticmethod
    def serves(path: str) -> bool:
        return route(path) is not None

    def handle(self, request: Request, api_key: str | None) -> Response:
        """Answer in the real stack's order: method (405), media type (415), auth (401), then the body."""
        found = route(request.path)
        assert found is not None
        version, target = found
        method = request.method
        url = f"http://{request.headers.get('host', 'localhost')}{request.path}"
        accept = request.headers.get("accept")
        where = (method, url, accept)
        if target == "":
            allow = "POST,OPTIONS,PUT"
        elif target == "?request" and method not in ("GET", "DELETE"):
            allow = "POST,OPTIONS"  # GET and DELETE of .../request look up an asset with the id "request"
        else:
            allow = "DELETE,GET,OPTIONS"
            target = "request" if target == "?request" else target
        if method not in allow.split(","):
            return 405, jetty_error(405, method, url, accept, (("Allow", allow),))
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if method in ("POST", "PUT") and content_type and content_type != "application/json":
            return 415, jetty_error(415, method, url, accept)
        if api_key is not None:
            given = request.headers.get("x-api-key")
            if given is None:
                return 401, _error("x-api-key not found", "AuthenticationFailed")
            if given != api_key:
                return 401, _error("Request could not be authenticated", "AuthenticationFailed")
        if method == "GET":
            return self.get(version, str(target))
        if method == "DELETE":
            return self.delete(str(target))
        if target == "?request":
            return self.query(version, request.body, where)
        if method == "PUT":
            return self.update(version, request.body, where)
        return self.create(version, request.body, where)

    # -- bodies ---------------------------------------------------------------------------------

    @staticmethod
    def _object(body: bytes, where: Any, *, empty_ok: bool) -> tuple[dict[str, Any] | None, Response | None]:
        if not body.strip():
            if empty_ok:
                return {}, None
            return None, (400, _error("input json is null", "ValidationFailure", ""))
        try:
            doc = json.loads(body)
        except json.JSONDecodeError as exc:
            return None, not_json(exc)
        except ValueError:
            return None, not_json(json.JSONDecodeError("Invalid UTF-8 start byte", "", 0))
        if doc is None:
            return None, (500, jetty_error(500, *where))
        if not isinstance(doc, dict):
            return None, not_json(None, json_kind(doc))
        return doc, None

    @staticmethod
    def _context_problem(version: str, doc: dict[str, Any], kind: str, where: Any) -> Response | None:
        """v4's JSON-schema checks of ``@context`` and ``@type``; v3 needs a context to expand anything."""
        context = doc.get("@context")
        if version == "v3":
            return None if context is not None else (400, jetty_error(400, *where))
        if isinstance(context, dict):
            message = "object found, array expected"
            return 400, _error(message, "ValidationFailure", "/@context") * 2
        if not isinstance(context, list) or V4_CONTEXT not in context or doc.get("@type") != kind:
            return 400, jetty_error(400, *where)
        return None

    def _response(self, version: str, asset: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = {"@id": asset["id"], "@type": "Asset", "properties": asset["properties"]}
        if asset.get("privateProperties"):
            doc["privateProperties"] = asset["privateProperties"]
        doc["dataAddress"] = asset["dataAddress"]
        doc["@context"] = V3_RESPONSE_CONTEXT if version == "v3" else [V4_CONTEXT]
        return doc

    # -- operations -------------------------------------------------------------------------------

    def _parse_asset(self, version: str, body: bytes, where: Any) -> tuple[dict[str, Any] | None, Response | None]:
        doc, problem = self._object(body, where, empty_ok=False)
        if doc is None:
            return None, problem
        problem = self._context_problem(version, doc, "Asset", where)
        if problem is not None:
            return None, problem
        raw_id = doc.get("@id", str(uuid.uuid4()))
        if not isinstance(raw_id, str) or not raw_id.strip():
            return None, (400, _error("@id cannot be blank", "ValidationFailure", "@id"))
        address = _get(doc, "dataAddress")
        if not isinstance(address, dict):
            name = f"{EDC_NS}dataAddress"
            return None, (400, _error(f"mandatory object '{name}' is missing", "ValidationFailure", name))
        if version != "v3" and address.get("@type") != "DataAddress":
            return None, (400, _error("required property '@type' not found", "ValidationFailure", "/dataAddress"))
        kind = _plain(_get(address, "type"))
        if not isinstance(kind, str) or not kind.strip():
            name = f"{EDC_NS}dataAddress/{EDC_NS}type"
            return None, (400, _error(f"mandatory value '{name}' is missing or it is blank", "ValidationFailure", name))
        asset = {
            "id": raw_id,
            "properties": {**_compacted(_get(doc, "properties")), "id": raw_id},
            "privateProperties": _compacted(_get(doc, "privateProperties")),
            "dataAddress": {"@type": "DataAddress", **_compacted(address)},
        }
        return asset, None

    def create(self, version: str, body: bytes, where: Any) -> Response:
        asset, problem = self._parse_asset(version, body, where)
        if asset is None:
            return problem or (400, None)
        with self.lock:
            if asset["id"] in self.assets:
                return 409, _error(f"Asset with ID {asset['id']} already exists", "ObjectConflict")
            self.assets[asset["id"]] = asset
        return 200, {
            "@type": "IdResponse",
            "@id": asset["id"],
            "createdAt": int(time.time() * 1000),
            "@context": V3_RESPONSE_CONTEXT if version == "v3" else [V4_CONTEXT],
        }

    def update(self, version: str, body: bytes, where: Any) -> Response:
        asset, problem = self._parse_asset(version, body, where)
        if asset is None:
            return problem or (400, None)
        with self.lock:
            if asset["id"] not in self.assets:
                return 404, _error(f"Object of type Asset with ID={asset['id']} was not found", "ObjectNotFound")
            self.assets[asset["id"]] = asset
        return 204, None

    def get(self, version: str, asset_id: str) -> Response:
        with self.lock:
            asset = self.assets.get(asset_id)
        if asset is None:
            return 404, _error(f"Object of type Asset with ID={asset_id} was not found", "ObjectNotFound")
        return 200, self._response(version, asset)

    def delete(self, asset_id: str) -> Response:
        with self.lock:
            if self.assets.pop(asset_id, None) is None:
                return 404, _error(f"Object of type Asset with ID={asset_id} was not found", "ObjectNotFound")
        return 204, None

    def query(self, version: str, body: bytes, where: Any) -> Response:
        doc, problem = self._object(body, where, empty_ok=version == "v3")
        if doc is None:
            return problem or (400, None)
        if body.strip():  # no body at all means the defaults; ``{}`` still needs a context
            problem = self._context_problem(version, doc, "QuerySpec", where)
            if problem is not None:
                return problem
        numbers: dict[str, int] = {}
        for name, default, least in (("offset", 0, 0), ("limit", DEFAULT_LIMIT, 1)):
            raw = _plain(_get(doc, name))
            if raw is None:
                numbers[name] = default
                continue
            if isinstance(raw, bool) or not isinstance(raw, int):
                if version == "v3":
                    return 500, jetty_error(500, *where)
                found = {"STRING": "string", "NUMBER": "number", "ARRAY": "array"}.get(json_kind(raw), "object")
                return 400, _error(f"{found} found, integer expected", "ValidationFailure", f"/{name}")
            if raw < least:
                if version != "v3":
                    return 400, _error(f"must have a minimum value of {least}", "ValidationFailure", f"/{name}")
                rule = "be greater than zero" if name == "limit" else "be greater or equal to zero"
                path = EDC_NS + name
                return 400, _error(f"optional value '{path}' must {rule}", "ValidationFailure", path, raw)
            numbers[name] = raw
        with self.lock:
            assets = list(self.assets.values())
        sort_field = _plain(_get(doc, "sortField"))
        if sort_field is not None:
            if _compact(str(sort_field)) != "id":  # EDC's in-memory store throws on a field it cannot sort by
                return 500, jetty_error(500, *where)
            descending = str(_plain(_get(doc, "sortOrder")) or "ASC").upper() == "DESC"
            assets.sort(key=lambda a: str(a["id"]), reverse=descending)
        page = assets[numbers["offset"] : numbers["offset"] + numbers["limit"]]
        return 200, [self._response(version, a) for a in page]
