"""Conformance: the same raw HTTP requests to the dev-server and to real EDC connectors, the same answers.

Each case is one data row sent to every target that serves its API version (the dev-server: v3, v4beta and
v4; EDC 0.15.1: v3 and v4beta; EDC 0.12.0: v3); it asserts the status code and the shape of the body (EDC's
JSON error array, IdResponse, empty, Jetty's error page, Jersey's plain-text 400...). A row that holds on
some targets only says where (``on``), or what another target answers instead (``differs``): the dev-server
answers like EDC 0.15.1 (Jetty 12) where the two EDC lines differ. v4 rows run on the dev-server only (no
EDC 0.17+ builds here); they are the v4beta rows, since v4beta and v4 differ in the path alone.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from edc_fixtures import ALIAS_SAMPLES, LONG_ALIASES, Connectors, edc_versions, http_client, runtime

from vaultsync.client import ClientOptions, EdcClient
from vaultsync.devserver import DevServer
from vaultsync.errors import ApiError, NotFoundError
from vaultsync.responses import NOT_SERVED

pytest_plugins = ("edc_fixtures",)

EDC_NS = "https://w3id.org/edc/v0.0.1/ns/"
V4_CONTEXT = "https://w3id.org/edc/connector/management/v2"
MISSING_VALUE = f"mandatory value '{EDC_NS}value' is missing or it is blank"
DEV_KEY = "conformance-key"
ERROR_KEYS = {"message", "type", "path", "invalidValue"}


DEV_APIS = ("v3", "v4beta", "v4")


@dataclass
class Target:
    name: str
    url: str
    api_key: str
    served: tuple[str, ...]  # secrets API versions served


@dataclass
class Ctx:
    target: Target
    api: str
    alias: str

    @property
    def collection(self) -> str:
        return f"/{self.api}/secrets"

    @property
    def item(self) -> str:
        return f"{self.collection}/{quote(self.alias, safe='')}"


Shape = Callable[[httpx.Response, Ctx], None]
Body = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str  # "{collection}", "{item}", or a path with them as prefixes; else literal
    status: int
    shape: Shape
    body: Body | bytes | dict[str, Any] | None = None
    layer: str = "stack"  # "stack": any served management resource; "secrets": the secrets API itself
    api: str = "v3"
    key: str = "good"  # "good", "none" or "wrong"
    accept: str | None = "application/json"
    content_type: str | None = "application/json"
    exists: bool = False  # create the alias before the request
    stored: str | None = None  # after the request, GET returns this value
    headers: dict[str, str] = field(default_factory=dict)
    on: tuple[str, ...] | None = None  # the targets where the row holds (None: all serving ``api``)
    differs: dict[str, tuple[int, Shape]] = field(default_factory=dict)  # target -> its own status and shape


# -- body shapes ------------------------------------------------------------------------------------


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def edc_errors(kind: str, message: str | Callable[[Ctx], str] | None = None, path: Any = ...) -> Shape:
    """EDC's error body: a JSON array of {message, type, path, invalidValue} objects."""

    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert _content_type(response) == "application/json"
        items = response.json()
        assert isinstance(items, list) and items, items
        assert all(isinstance(item, dict) and set(item) == ERROR_KEYS for item in items), items
        assert items[0]["type"] == kind
        if message is not None:
            expected = message(ctx) if callable(message) else message
            assert items[0]["message"] == expected
        if path is not ...:
            assert items[0]["path"] == path

    return check


def auth_failed(message: str) -> Shape:
    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert _content_type(response) == "application/json"
        expected = [{"message": message, "type": "AuthenticationFailed", "path": None, "invalidValue": None}]
        assert response.json() == expected

    return check


def not_found(response: httpx.Response, ctx: Ctx) -> None:
    edc_errors("ObjectNotFound", f"Object of type Secret with ID={ctx.alias} was not found", None)(response, ctx)


def conflict(response: httpx.Response, ctx: Ctx) -> None:
    edc_errors("ObjectConflict", f"Secret {ctx.alias} already exist", None)(response, ctx)


def validation(*failures: tuple[str, str]) -> Shape:
    """EDC's array of ValidationFailure items, exactly these (message, path) pairs, ``invalidValue`` null."""

    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert _content_type(response) == "application/json"
        expected = [{"message": m, "type": "ValidationFailure", "path": p, "invalidValue": None} for m, p in failures]
        assert response.json() == expected

    return check


def response_context(ctx: Ctx) -> Any:
    if ctx.api == "v3":
        return {"@vocab": EDC_NS, "edc": EDC_NS, "odrl": "http://www.w3.org/ns/odrl/2/"}
    return [V4_CONTEXT]


def id_response(generated: bool = False) -> Shape:
    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert _content_type(response) == "application/json"
        doc = response.json()
        assert doc["@type"] == "IdResponse"
        assert isinstance(doc["createdAt"], int) and doc["createdAt"] > 1_600_000_000_000  # epoch milliseconds
        assert doc["@context"] == response_context(ctx)
        if generated:
            assert isinstance(doc["@id"], str) and doc["@id"].strip()
        else:
            assert doc["@id"] == ctx.alias

    return check


def empty(response: httpx.Response, ctx: Ctx) -> None:
    assert response.content == b""


def secret_doc(value: str) -> Shape:
    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert _content_type(response) == "application/json"
        doc = response.json()
        assert doc == {"@id": ctx.alias, "@type": "Secret", "value": value, "@context": response_context(ctx)}

    return check


def jetty_page(message: str) -> Shape:
    """Jetty's HTML error page, e.g. ``<title>Error 404 Not Found</title>``."""

    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert _content_type(response) == "text/html"
        assert f"<title>Error {response.status_code} {message}</title>" in response.text

    return check


def bad_message(reason: str) -> Shape:
    """Jetty 11's (EDC 0.12.0) page for a request it refuses while parsing: ``<h1>Bad Message 400</h1>``."""

    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert _content_type(response) == "text/html"
        assert response.text == f"<h1>Bad Message {response.status_code}</h1><pre>reason: {reason}</pre>"

    return check


def not_found_id(alias: str) -> Shape:
    return edc_errors("ObjectNotFound", f"Object of type Secret with ID={alias} was not found", None)


def jetty_json(message: str) -> Shape:
    """Jetty's error as JSON (when the request accepts JSON): an object, not EDC's array."""

    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert _content_type(response) == "application/json"
        doc = response.json()
        assert isinstance(doc, dict)
        assert doc["message"] == message
        assert doc["status"] == str(response.status_code)
        assert doc["url"].endswith(response.request.url.raw_path.decode())

    return check


def jetty_text(response: httpx.Response, ctx: Ctx) -> None:
    assert _content_type(response) == "text/plain"
    assert response.text.startswith(f"HTTP ERROR {response.status_code} ")


def plain_text(fragment: str) -> Shape:
    """Jersey's answer to a body Jackson cannot read: text/plain, not an EDC error array."""

    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert _content_type(response) == "text/plain"
        assert fragment in response.text

    return check


def allow(methods: str, inner: Shape) -> Shape:
    def check(response: httpx.Response, ctx: Ctx) -> None:
        assert response.headers.get("allow") == methods
        inner(response, ctx)

    return check


# -- bodies ------------------------------------------------------------------------------------------


def valid(value: str = "s3cr3t-v") -> Body:
    """A valid create/update body in the row's API version."""

    def make(ctx: Ctx) -> Any:
        if ctx.api != "v3":
            return {"@context": [V4_CONTEXT], "@type": "Secret", "@id": ctx.alias, "value": value}
        return {"@context": {"@vocab": EDC_NS}, "@type": "Secret", "@id": ctx.alias, "value": value}

    return make


def with_id(alias: str) -> Body:
    def make(ctx: Ctx) -> Any:
        body = valid()(ctx)
        body["@id"] = alias
        return body

    return make


def without_id(ctx: Ctx) -> Any:
    body = valid()(ctx)
    del body["@id"]
    return body


def secret(fields: dict[str, Any]) -> Body:
    """A secrets body with exactly these fields; ``@id`` is the row's alias unless given."""

    def make(ctx: Ctx) -> Any:
        return {"@id": ctx.alias, **fields}

    return make


V3CTX = {"@vocab": EDC_NS}
V4CTX = [V4_CONTEXT]

# -- the rows ------------------------------------------------------------------------------------------

UNSERVED = "/v1/secrets"  # removed after EDC 0.10: served by neither target

STACK: list[Case] = [
    # success and EDC's own errors (measured on the real stack through /v3/assets)
    # authentication: after resource matching, before the body is read
    Case("401-missing-key", "GET", "{item}", 401, auth_failed("x-api-key not found"), key="none"),
    Case("401-wrong-key", "GET", "{item}", 401, auth_failed("Request could not be authenticated"), key="wrong"),
    Case("401-before-body", "POST", "{collection}", 401, auth_failed("x-api-key not found"), b"{no", key="none"),
    # bodies Jersey cannot read: text/plain 400, not EDC's array
    Case("400-not-json-text-plain", "POST", "{collection}", 400, plain_text("line: 1, column: "), b"{not json"),
    Case("400-put-not-json", "PUT", "{collection}", 400, plain_text("line: 1, column: "), b"{not json"),
    Case("400-array-body", "POST", "{collection}", 400, plain_text("encountered ARRAY Value"), b"[1]"),
    Case("400-string-body", "POST", "{collection}", 400, plain_text("encountered STRING Value"), b'"x"'),
    Case(
        "400-empty-body",
        "POST",
        "{collection}",
        400,
        edc_errors("ValidationFailure", "input json is null", ""),
        b"",
    ),
    Case("500-null-body", "POST", "{collection}", 500, jetty_page("Internal Server Error"), b"null", accept="*/*"),
    Case(
        "415-no-content-type",
        "POST",
        "{collection}",
        415,
        jetty_page("Unsupported Media Type"),
        valid(),
        accept="*/*",
        content_type=None,
    ),
    Case(  # no Content-Type matches any resource method: auth runs first
        "401-no-content-type-no-key",
        "POST",
        "{collection}",
        401,
        auth_failed("x-api-key not found"),
        valid(),
        key="none",
        content_type=None,
    ),
    Case(  # a Content-Type no resource method consumes fails matching: before auth
        "415-text-plain-no-key",
        "PUT",
        "{collection}",
        415,
        empty,
        valid(),
        key="none",
        content_type="text/plain",
    ),
    Case(
        "415-text-plain",
        "POST",
        "{collection}",
        415,
        jetty_page("Unsupported Media Type"),
        valid(),
        accept="*/*",
        content_type="text/plain",
    ),
    # no such method on a served path: Jersey's 405, before auth; a page only for GET and POST
    Case(
        "405-get-collection",
        "GET",
        "{collection}",
        405,
        allow("POST,OPTIONS,PUT", jetty_page("Method Not Allowed")),
        accept="*/*",
    ),
    Case("405-delete-collection", "DELETE", "{collection}", 405, allow("POST,OPTIONS,PUT", empty)),
    Case("405-patch-item-no-key", "PATCH", "{item}", 405, allow("DELETE,GET,OPTIONS", empty), key="none"),
    # a path nothing serves: Jetty's 404, whatever the key; never EDC's ObjectNotFound array
    Case("404-unserved-json", "GET", UNSERVED + "/x", 404, jetty_json("Not Found")),
    Case("404-unserved-html", "GET", UNSERVED + "/x", 404, jetty_page("Not Found"), accept="*/*"),
    Case("404-unserved-text", "GET", UNSERVED + "/x", 404, jetty_text, accept="text/plain"),
    Case("404-unserved-no-accept", "GET", UNSERVED + "/x", 404, jetty_page("Not Found"), accept=None),
    Case("404-unserved-empty-accept", "GET", UNSERVED + "/x", 404, empty, accept=""),
    Case("404-unserved-accept-xml", "GET", UNSERVED + "/x", 404, empty, accept="application/xml"),
    Case("404-unserved-post", "POST", UNSERVED, 404, jetty_json("Not Found"), valid()),
    Case("404-unserved-put", "PUT", UNSERVED, 404, empty, valid()),
    Case("404-unserved-delete", "DELETE", UNSERVED + "/x", 404, empty),
    Case("404-unserved-no-key", "GET", UNSERVED + "/x", 404, jetty_json("Not Found"), key="none"),
    Case("404-unserved-wrong-key", "GET", UNSERVED + "/x", 404, jetty_json("Not Found"), key="wrong"),
    # paths Jetty 12 refuses before anything else (auth included): why '%', '/', '\' cannot be in an alias
    Case("400-encoded-percent", "GET", "{collection}/vs%25x", 400, jetty_page("Ambiguous URI path encoding")),
    Case("400-encoded-percent-delete", "DELETE", "{collection}/vs%25x", 400, empty),
    Case("400-encoded-percent-post", "POST", "{collection}/vs%25x", 400, jetty_page("Ambiguous URI path encoding")),
    Case("400-encoded-slash", "GET", "{collection}/vs%2Fx", 400, jetty_page("Ambiguous URI path separator")),
    Case("400-encoded-backslash", "GET", "{collection}/vs%5Cx", 400, jetty_page("Suspicious Path Character")),
    Case(
        "400-encoded-slash-no-key",
        "GET",
        "{collection}/vs%2fx",
        400,
        jetty_page("Ambiguous URI path separator"),
        key="none",
    ),
    Case("400-encoded-tab", "GET", "{collection}/vs%09x", 400, jetty_page("Suspicious Path Character")),
    Case("400-encoded-dotdot", "GET", "{collection}/%2e%2e", 400, jetty_page("Ambiguous URI path segment")),
    Case("400-broken-escape", "GET", "{collection}/vs%zzx", 400, jetty_page("Bad Request")),
    # request heads over Jetty's 8 KiB buffer
    Case("431-long-path", "GET", "{collection}/" + "a" * 8100, 431, jetty_page("Request Header Fields Too Large")),
    Case("431-long-path-delete", "DELETE", "{collection}/" + "a" * 8100, 431, empty),
    Case("414-longer-path", "GET", "{collection}/" + "a" * 10000, 414, jetty_page("URI Too Long")),
    Case("414-longer-path-delete", "DELETE", "{collection}/" + "a" * 10000, 414, jetty_page("URI Too Long")),
    Case(
        "431-big-header",
        "GET",
        "{item}",
        431,
        jetty_page("Request Header Fields Too Large"),
        headers={"X-Padding": "p" * 9000},
    ),
]


JETTY_400_JSON = jetty_json("Bad Request")
EDC_12 = "edc-0.12.0"

# EDC 0.12.0 runs Jetty 11: it decodes %25, %2F, %5C and %09 in a path (an alias with them round-trips), and
# its parser's refusals are a bare "Bad Message" page, for every method. The dev-server answers like Jetty 12.
JETTY_11: dict[str, tuple[int, Shape]] = {
    "400-encoded-percent": (404, not_found_id("vs%x")),
    "400-encoded-percent-delete": (404, not_found_id("vs%x")),
    "400-encoded-percent-post": (405, allow("DELETE,GET,OPTIONS", jetty_json("Method Not Allowed"))),
    "400-encoded-slash": (404, not_found_id("vs/x")),
    "400-encoded-backslash": (404, not_found_id("vs\\x")),
    "400-encoded-slash-no-key": (401, auth_failed("x-api-key not found")),
    "400-encoded-tab": (404, not_found_id("vs\tx")),
    "400-encoded-dotdot": (400, bad_message("Ambiguous URI path segment")),
    "400-broken-escape": (400, bad_message("Bad Request")),
    "431-long-path": (431, bad_message("Request Header Fields Too Large")),
    "431-long-path-delete": (431, bad_message("Request Header Fields Too Large")),
    "414-longer-path": (414, bad_message("URI Too Long")),
    "414-longer-path-delete": (414, bad_message("URI Too Long")),
    "431-big-header": (431, bad_message("Request Header Fields Too Large")),
}
STACK = [replace(c, differs={EDC_12: JETTY_11[c.id]}) if c.id in JETTY_11 else c for c in STACK]


def _secrets_rows(api: str) -> list[Case]:
    ctx = V3CTX if api == "v3" else V4CTX
    rows = [
        Case("post-200", "POST", "{collection}", 200, id_response(), valid("s3cr3t-1"), stored="s3cr3t-1"),
        Case("post-409-message", "POST", "{collection}", 409, conflict, valid(), exists=True),
        Case(
            "post-400-empty-value",
            "POST",
            "{collection}",
            400,
            validation((MISSING_VALUE, EDC_NS + "value")),
            secret({"@context": ctx, "@type": "Secret", "value": ""}),
        ),
        Case(
            "post-400-blank-value",
            "POST",
            "{collection}",
            400,
            validation((MISSING_VALUE, EDC_NS + "value")),
            secret({"@context": ctx, "@type": "Secret", "value": "   "}),
        ),
        Case("get-200-value", "GET", "{item}", 200, secret_doc("s3cr3t-v"), exists=True),
        Case("get-404", "GET", "{item}", 404, not_found),
        Case(
            "put-204-changes-value",
            "PUT",
            "{collection}",
            204,
            empty,
            valid("s3cr3t-2"),
            exists=True,
            stored="s3cr3t-2",
        ),
        Case("put-404-never-creates", "PUT", "{collection}", 404, not_found, valid()),
        Case(  # EDC makes up an id, which then names no secret
            "put-no-id-404",
            "PUT",
            "{collection}",
            404,
            edc_errors("ObjectNotFound"),
            lambda c: {k: v for k, v in valid()(c).items() if k != "@id"},
        ),
        Case(
            "put-400-blank-id",
            "PUT",
            "{collection}",
            400,
            edc_errors("ValidationFailure", "@id cannot be blank", "@id"),
            secret({"@context": ctx, "@type": "Secret", "@id": " ", "value": "s3cr3t"}),
        ),
        Case("delete-204", "DELETE", "{item}", 204, empty, exists=True),
        Case("delete-404", "DELETE", "{item}", 404, not_found),
        Case(  # no list endpoint in any version
            "get-collection-405",
            "GET",
            "{collection}",
            405,
            allow("POST,OPTIONS,PUT", jetty_json("Method Not Allowed")),
        ),
    ]
    if api == "v3":
        rows += [
            Case(
                "post-400-missing-value",
                "POST",
                "{collection}",
                400,
                validation((MISSING_VALUE, EDC_NS + "value")),
                secret({"@context": ctx, "@type": "Secret"}),
            ),
            Case(  # without a context JSON-LD drops the plain key: the value is gone
                "post-400-no-context",
                "POST",
                "{collection}",
                400,
                validation((MISSING_VALUE, EDC_NS + "value")),
                secret({"@type": "Secret", "value": "s3cr3t"}),
            ),
            Case(
                "v3-null-value-400",
                "POST",
                "{collection}",
                400,
                validation((MISSING_VALUE, EDC_NS + "value")),
                secret({"@context": V3CTX, "@type": "Secret", "value": None}),
            ),
            Case(
                "v3-empty-array-value-400",
                "POST",
                "{collection}",
                400,
                validation((MISSING_VALUE, EDC_NS + "value")),
                secret({"@context": V3CTX, "@type": "Secret", "value": []}),
            ),
            Case(
                "v3-edc-prefix",
                "POST",
                "{collection}",
                200,
                id_response(),
                secret({"@context": {"edc": EDC_NS}, "@type": "edc:Secret", "edc:value": "s3cr3t-px"}),
                stored="s3cr3t-px",
            ),
            Case(
                "v3-full-iri",
                "POST",
                "{collection}",
                200,
                id_response(),
                lambda c: {"@context": {"edc": EDC_NS}, "@id": c.alias, EDC_NS + "value": "s3cr3t-iri"},
                stored="s3cr3t-iri",
            ),
            Case(
                "v3-empty-context-gets-vocab",
                "POST",
                "{collection}",
                200,
                id_response(),
                secret({"@context": {}, "value": "s3cr3t-ec"}),
                stored="s3cr3t-ec",
            ),
            Case(
                "v3-type-not-checked",
                "POST",
                "{collection}",
                200,
                id_response(),
                secret({"@context": V3CTX, "@type": "foo:Whatever", "value": "s3cr3t-t"}),
                stored="s3cr3t-t",
            ),
            Case(
                "v3-post-no-id-generates-one",
                "POST",
                "{collection}",
                200,
                id_response(generated=True),
                {"@context": V3CTX, "@type": "Secret", "value": "s3cr3t-g"},
            ),
            Case(
                "v3-post-blank-id-400",
                "POST",
                "{collection}",
                400,
                edc_errors("ValidationFailure", "@id cannot be blank", "@id"),
                with_id(" "),
            ),
            # EDC v3 throws on a value that is not a string: Jetty's 500 page (an empty body for PUT)
            Case(
                "v3-number-500",
                "POST",
                "{collection}",
                500,
                jetty_json("Internal Server Error"),
                secret({"@context": V3CTX, "value": 42}),
            ),
            Case(
                "v3-boolean-500",
                "POST",
                "{collection}",
                500,
                jetty_json("Internal Server Error"),
                secret({"@context": V3CTX, "value": True}),
            ),
            Case(
                "v3-object-500-html",
                "POST",
                "{collection}",
                500,
                jetty_page("Internal Server Error"),
                secret({"@context": V3CTX, "value": {"k": "s3cr3t"}}),
                accept="*/*",
            ),
            Case(
                "v3-put-number-500-empty",
                "PUT",
                "{collection}",
                500,
                empty,
                secret({"@context": V3CTX, "value": 42}),
                exists=True,
            ),
            Case(
                "v3-array-keeps-first",
                "POST",
                "{collection}",
                200,
                id_response(),
                secret({"@context": V3CTX, "value": ["s3cr3t-first", "s3cr3t-second"]}),
                stored="s3cr3t-first",
            ),
            # bodies whose JSON-LD reading fails: Jetty's 400 page, not EDC's array
            Case(
                "v3-edc-type-undeclared-400",
                "POST",
                "{collection}",
                400,
                JETTY_400_JSON,
                secret({"@context": V3CTX, "@type": "edc:Secret", "value": "s3cr3t"}),
            ),
            Case(
                "v3-edc-type-undeclared-400-html",
                "POST",
                "{collection}",
                400,
                jetty_page("Bad Request"),
                secret({"@context": V3CTX, "@type": "edc:Secret", "value": "s3cr3t"}),
                accept="*/*",
            ),
            Case(
                "v3-edc-value-undeclared-400",
                "POST",
                "{collection}",
                400,
                JETTY_400_JSON,
                secret({"@context": V3CTX, "@type": "Secret", "edc:value": "s3cr3t"}),
            ),
            Case("v3-only-id-400", "POST", "{collection}", 400, JETTY_400_JSON, secret({"@context": V3CTX})),
            Case(
                "v3-only-null-value-400",
                "POST",
                "{collection}",
                400,
                JETTY_400_JSON,
                secret({"@context": V3CTX, "value": None}),
            ),
            Case("v3-no-context-no-type-400", "POST", "{collection}", 400, JETTY_400_JSON, secret({"value": "s3cr3t"})),
            Case("v3-empty-object-400", "POST", "{collection}", 400, JETTY_400_JSON, {}),
            Case(
                "v3-put-edc-type-400-empty",
                "PUT",
                "{collection}",
                400,
                empty,
                secret({"@context": V3CTX, "@type": "edc:Secret", "value": "s3cr3t"}),
                exists=True,
            ),
            Case(  # the v4 array context: EDC 0.15.1 reads it on v3 too, 0.12.0 refuses it
                "v3-array-context",
                "POST",
                "{collection}",
                200,
                id_response(),
                secret({"@context": V4CTX, "@type": "Secret", "value": "s3cr3t-ac"}),
                stored="s3cr3t-ac",
                differs={EDC_12: (400, JETTY_400_JSON)},
            ),
        ]
    else:
        wrong_context = [("object found, array expected", "/@context")] * 2
        rows += [
            Case(
                "post-400-missing-value",
                "POST",
                "{collection}",
                400,
                validation(("required property 'value' not found", "")),
                secret({"@context": ctx, "@type": "Secret"}),
            ),
            Case(
                "post-400-no-context",
                "POST",
                "{collection}",
                400,
                validation(("required property '@context' not found", "")),
                secret({"@type": "Secret", "value": "s3cr3t"}),
            ),
            Case(
                "v4-post-no-id-generates-one",
                "POST",
                "{collection}",
                200,
                id_response(generated=True),
                {"@context": V4CTX, "@type": "Secret", "value": "s3cr3t-g"},
            ),
            Case(
                "v4-post-blank-id-400",
                "POST",
                "{collection}",
                400,
                edc_errors("ValidationFailure", "@id cannot be blank", "@id"),
                with_id(" "),
            ),
            # the type is checked before the schema: Jetty's 400 page
            Case(
                "v4-type-edc-secret-400",
                "POST",
                "{collection}",
                400,
                JETTY_400_JSON,
                secret({"@context": V4CTX, "@type": "edc:Secret", "value": "s3cr3t"}),
            ),
            Case(
                "v4-no-type-400",
                "POST",
                "{collection}",
                400,
                jetty_page("Bad Request"),
                secret({"@context": V4CTX, "value": "s3cr3t"}),
                accept="*/*",
            ),
            Case(
                "v4-put-type-400-empty",
                "PUT",
                "{collection}",
                400,
                empty,
                secret({"@context": V4CTX, "@type": "Whatever", "value": "s3cr3t"}),
                exists=True,
            ),
            # the schema: the validator's own messages
            Case(
                "v4-context-object-400",
                "POST",
                "{collection}",
                400,
                validation(*wrong_context),
                secret({"@context": {"@vocab": EDC_NS}, "@type": "Secret", "value": "s3cr3t"}),
            ),
            Case(
                "v4-context-string-400",
                "POST",
                "{collection}",
                400,
                validation(*[("string found, array expected", "/@context")] * 2),
                secret({"@context": V4_CONTEXT, "@type": "Secret", "value": "s3cr3t"}),
            ),
            Case(
                "v4-context-other-iri-400",
                "POST",
                "{collection}",
                400,
                validation(
                    (
                        'must contain at least 1 element(s) that passes these validations: {"const":"'
                        + V4_CONTEXT
                        + '"}',
                        "/@context",
                    )
                ),
                secret({"@context": ["https://example.com/ctx"], "@type": "Secret", "value": "s3cr3t"}),
            ),
            Case(
                "v4-context-and-value-400",
                "POST",
                "{collection}",
                400,
                validation(*wrong_context, ("required property 'value' not found", "")),
                secret({"@context": {"@vocab": EDC_NS}, "@type": "Secret"}),
            ),
            Case(
                "v4-put-number-400",
                "PUT",
                "{collection}",
                400,
                validation(("integer found, string expected", "/value")),
                secret({"@context": V4CTX, "@type": "Secret", "value": 42}),
                exists=True,
            ),
        ]
        for label, value in [
            ("number", 4.5),
            ("boolean", True),
            ("object", {"k": "s3cr3t"}),
            ("array", ["s3cr3t"]),
            ("null", None),
        ]:
            rows.append(
                Case(
                    f"v4-{label}-value-400",
                    "POST",
                    "{collection}",
                    400,
                    validation((f"{label} found, string expected", "/value")),
                    secret({"@context": V4CTX, "@type": "Secret", "value": value}),
                )
            )
    return [Case(**{**row.__dict__, "id": f"{api}-{row.id}", "api": api, "layer": "secrets"}) for row in rows]


SECRETS = _secrets_rows("v3") + _secrets_rows("v4beta") + _secrets_rows("v4")
CASES = STACK + SECRETS


# -- targets -------------------------------------------------------------------------------------------

TARGET_NAMES = ["devserver", *(f"edc-{v}" for v in edc_versions())]


def served(target: str) -> tuple[str, ...]:
    return DEV_APIS if target == "devserver" else runtime.VERSIONS[target.removeprefix("edc-")]


def holds_on(case: Case, target: str) -> bool:
    return case.api in served(target) and (case.on is None or target in case.on)


def _pairs(cases: list[Case]) -> list[Any]:
    """(target, case) for every target the row holds on; the real connectors' pairs are marked ``edc``."""
    return [
        pytest.param(name, case, id=f"{name}-{case.id}", marks=[pytest.mark.edc] if name != "devserver" else [])
        for case in cases
        for name in TARGET_NAMES
        if holds_on(case, name)
    ]


@pytest.fixture(scope="module")
def dev_target() -> Iterator[Target]:
    server = DevServer("127.0.0.1", 0, api_key=DEV_KEY)
    server.start_background()
    try:
        yield Target("devserver", server.url, DEV_KEY, DEV_APIS)
    finally:
        server.stop()


def get_target(request: pytest.FixtureRequest, name: str) -> Target:
    if name == "devserver":
        target: Target = request.getfixturevalue("dev_target")
        return target
    connectors: Connectors = request.getfixturevalue("edc_connectors")
    edc = connectors.get(name.removeprefix("edc-"))
    return Target(name, edc.url, edc.api_key, edc.secrets_api)


@pytest.fixture(params=[pytest.param(n, marks=[pytest.mark.edc] if n != "devserver" else []) for n in TARGET_NAMES])
def target(request: pytest.FixtureRequest) -> Target:
    return get_target(request, request.param)


def send(client: httpx.Client, target: Target, case: Case, ctx: Ctx, path: str | None = None) -> httpx.Response:
    path = path if path is not None else case.path.replace("{collection}", ctx.collection).replace("{item}", ctx.item)
    headers = dict(case.headers)
    if case.accept is not None:
        headers["Accept"] = case.accept
    key = {"good": target.api_key, "wrong": "wrong-" + target.api_key, "none": None}[case.key]
    if key is not None:
        headers["X-Api-Key"] = key
    content: bytes | None = None
    if case.body is not None:
        if isinstance(case.body, bytes):
            raw = case.body
        else:
            raw = json.dumps(case.body(ctx) if callable(case.body) else case.body).encode()
        content = raw
        if case.content_type is not None:
            headers["Content-Type"] = case.content_type
    request = client.build_request(case.method, target.url + path, content=content, headers=headers)
    if case.accept is None:
        del request.headers["Accept"]  # httpx adds "*/*" on its own
    return client.send(request)


def seed(client: httpx.Client, target: Target, ctx: Ctx) -> None:
    response = client.post(target.url + ctx.collection, json=valid()(ctx), headers={"X-Api-Key": target.api_key})
    assert response.status_code == 200, response.text


def read_value(client: httpx.Client, target: Target, ctx: Ctx) -> Any:
    response = client.get(target.url + ctx.item, headers={"X-Api-Key": target.api_key, "Accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.json().get("value")


@pytest.mark.parametrize(("target_name", "case"), _pairs(CASES))
def test_same_status_and_body_shape(request: pytest.FixtureRequest, target_name: str, case: Case) -> None:
    target = get_target(request, target_name)
    ctx = Ctx(target, case.api, f"conf-{case.id}-{uuid.uuid4().hex[:8]}")
    status, shape = case.differs.get(target_name, (case.status, case.shape))
    with http_client() as client:
        if case.exists:
            seed(client, target, ctx)
        response = send(client, target, case, ctx)
        assert response.status_code == status, response.text[:500]
        shape(response, ctx)
        if case.stored is not None and status < 300:
            assert read_value(client, target, ctx) == case.stored


# -- aliases through the URL path ---------------------------------------------------------------------


@pytest.mark.parametrize("alias", list(ALIAS_SAMPLES), ids=[a[:24] for a in ALIAS_SAMPLES])
def test_alias_round_trip_or_jetty_400(target: Target, alias: str) -> None:
    # POST carries the alias in the body (always accepted); GET and DELETE carry it in the path, encoded as
    # vaultsync's client encodes it. On Jetty 12 '%', '/' and '\' make an orphan: created, never reachable.
    ctx = Ctx(target, "v3", alias)
    expected = ALIAS_SAMPLES[alias]
    if target.name == EDC_12:  # Jetty 11 decodes %25, %2F and %5C: those aliases round-trip there
        expected = "ok"
    with http_client() as client:
        seed(client, target, ctx)
        headers = {"X-Api-Key": target.api_key, "Accept": "application/json"}
        got = client.get(target.url + ctx.item, headers=headers)
        deleted = client.delete(target.url + ctx.item, headers=headers)
    if expected == "ok":
        assert got.status_code == 200, got.text[:300]
        assert got.json()["@id"] == alias
        assert deleted.status_code == 204
    else:
        assert (got.status_code, deleted.status_code) == (expected, expected)
        assert _content_type(got) == "text/html"


@pytest.mark.parametrize("alias", list(LONG_ALIASES), ids=[f"{len(a)}x{a[0]}" for a in LONG_ALIASES])
def test_alias_too_long_for_the_request_head(target: Target, alias: str) -> None:
    ctx = Ctx(target, "v3", alias)
    with http_client() as client:
        got = client.get(target.url + ctx.item, headers={"X-Api-Key": target.api_key})
    if target.name == EDC_12 and alias == "\u00e9" * 1343:  # Jetty 11's limit is a few bytes higher: it fits
        assert got.status_code == 404
        assert got.json()[0]["type"] == "ObjectNotFound"
        return
    assert got.status_code == LONG_ALIASES[alias]
    assert _content_type(got) == "text/html"


# -- what vaultsync's client makes of these answers -----------------------------------------------------


@pytest.mark.parametrize("operation", ["get", "create", "update", "delete"])
def test_client_never_reads_a_jetty_404_as_absent(target: Target, operation: str) -> None:
    # A base URL that serves no secrets API (here: one path segment too many) answers every call with
    # Jetty's 404; only EDC's ObjectNotFound array may mean "absent" or "already deleted".
    async def run() -> object:
        options = ClientOptions(max_retries=0)
        async with EdcClient(target.url + "/nowhere", target.api_key, "v3", options) as client:
            if operation in ("create", "update"):
                return await getattr(client, operation)("conf-alias", "s3cr3t")
            return await getattr(client, operation)("conf-alias")

    with pytest.raises(ApiError) as info:
        asyncio.run(run())
    assert info.value.status == 404
    assert not isinstance(info.value, NotFoundError)
    assert NOT_SERVED in str(info.value)
