"""The EDC client against httpx.MockTransport: bodies, paths, headers, and every status a user can meet."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest
from conftest import CANARY

from vaultsync.bodies import EDC_NS, V4_CONTEXT
from vaultsync.client import ClientOptions, EdcClient
from vaultsync.errors import AlreadyExistsError, ApiError, AuthError, NotFoundError

BASE = "http://edc.test:8181/api/management"
T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler answering from a fixed response, remembering every request."""

    def __init__(self, response: httpx.Response | Handler) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response(request) if callable(self.response) else self.response

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]


def call(
    response: httpx.Response | Handler,
    operation: Callable[[EdcClient], Coroutine[Any, Any, T]],
    *,
    version: str = "v3",
    key: str | None = "test-key",
    retries: int = 0,
) -> tuple[T, Recorder]:
    recorder = Recorder(response)

    async def run() -> T:
        async def no_sleep(_: float) -> None:
            return None

        options = ClientOptions(max_retries=retries)
        transport = httpx.MockTransport(recorder)
        async with EdcClient(BASE, key, version, options, transport=transport, sleep=no_sleep) as client:
            return await operation(client)

    return asyncio.run(run()), recorder


def fails(
    response: httpx.Response | Handler,
    operation: Callable[[EdcClient], Coroutine[Any, Any, Any]],
    error: type[ApiError] = ApiError,
    **kw: Any,
) -> ApiError:
    with pytest.raises(error) as info:
        call(response, operation, **kw)
    return info.value


def edc_error(status: int, message: str, kind: str, path: str | None = None, invalid: Any = None) -> httpx.Response:
    return httpx.Response(status, json=[{"message": message, "type": kind, "path": path, "invalidValue": invalid}])


def not_found(alias: str) -> httpx.Response:
    """EDC's own answer for an alias it does not hold."""
    return edc_error(404, f"Object of type Secret with ID={alias} was not found", "ObjectNotFound")


VERSIONS = pytest.mark.parametrize("version", ["v3", "v4"])


# -- request bodies, paths and headers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "body"),
    [
        ("v3", {"@context": {"@vocab": EDC_NS}, "@type": "Secret", "@id": "oauth-client", "value": CANARY}),
        ("v4", {"@context": [V4_CONTEXT], "@type": "Secret", "@id": "oauth-client", "value": CANARY}),
    ],
)
@pytest.mark.parametrize(("method", "operation"), [("POST", "create"), ("PUT", "update")])
def test_write_bodies_are_exactly_what_edc_expects(
    version: str, body: dict[str, Any], method: str, operation: str
) -> None:
    answer = httpx.Response(200, json={"@id": "oauth-client", "@type": "IdResponse"}) if method == "POST" else None
    answer = answer or httpx.Response(204)
    _, rec = call(answer, lambda c: getattr(c, operation)("oauth-client", CANARY), version=version)
    request = rec.only
    assert request.method == method
    assert request.url.path == f"/api/management/{version}/secrets"  # PUT: the id is in the body, not the path
    assert json.loads(request.content) == body
    assert request.headers["content-type"] == "application/json"


@VERSIONS
def test_api_key_is_sent_as_x_api_key(version: str) -> None:
    _, rec = call(not_found("a"), lambda c: c.get("a"), version=version, key="s3cr3t-key")
    assert rec.only.headers["x-api-key"] == "s3cr3t-key"


def test_no_api_key_header_without_a_key() -> None:
    _, rec = call(not_found("a"), lambda c: c.get("a"), key=None)
    assert "x-api-key" not in rec.only.headers


@VERSIONS
@pytest.mark.parametrize(
    ("alias", "raw_path"),
    [
        ("a b", "a%20b"),
        ("ü", "%C3%BC"),
        ("urn:x:y", "urn%3Ax%3Ay"),
        ("plain-alias", "plain-alias"),
        ("a?b#c", "a%3Fb%23c"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_alias_is_percent_encoded_in_the_path(version: str, alias: str, raw_path: str, method: str) -> None:
    def op(c: EdcClient) -> Coroutine[Any, Any, Any]:
        return c.get(alias) if method == "GET" else c.delete(alias)

    _, rec = call(not_found(alias), op, version=version)
    assert rec.only.method == method
    assert rec.only.url.raw_path.decode() == f"/api/management/{version}/secrets/{raw_path}"


# -- GET --------------------------------------------------------------------------------------------


@VERSIONS
@pytest.mark.parametrize(
    "answer",
    [
        {"@id": "a", "@type": "Secret", "value": CANARY, "@context": {"@vocab": EDC_NS}},
        {"@id": "a", "@type": "edc:Secret", "edc:value": CANARY, "@context": {"edc": EDC_NS}},
        {"@id": "a", EDC_NS + "value": CANARY},
        {"@id": "a", EDC_NS + "value": [{"@value": CANARY}]},
        {"@id": "a", "value": {"@value": CANARY}},
        [{"@id": "a", "@type": [EDC_NS + "Secret"], EDC_NS + "value": [{"@value": CANARY}]}],
    ],
    ids=["value", "edc-prefix", "full-iri", "expanded-value", "value-object", "expanded-document"],
)
def test_get_reads_every_json_ld_shape(version: str, answer: Any) -> None:
    value, rec = call(httpx.Response(200, json=answer), lambda c: c.get("a"), version=version)
    assert value == CANARY
    assert rec.only.method == "GET"


@VERSIONS
def test_get_404_means_absent(version: str) -> None:
    value, _ = call(not_found("a"), lambda c: c.get("a"), version=version)
    assert value is None


def test_get_without_a_string_value_is_an_error() -> None:
    err = fails(httpx.Response(200, json={"@id": "a", "value": 42}), lambda c: c.get("a"))
    assert 'no string "value"' in str(err)


def test_get_truncated_json_is_an_error_naming_the_url() -> None:
    err = fails(httpx.Response(200, content=b'{"@id": "a", "value": "ab'), lambda c: c.get("a"))
    assert f"{BASE}/v3/secrets/a" in str(err)
    assert "not JSON" in str(err)


# -- POST / PUT / DELETE ------------------------------------------------------------------------------


@VERSIONS
def test_create_200_with_id_response(version: str) -> None:
    answer = httpx.Response(200, json={"@id": "a", "@type": "IdResponse", "createdAt": 1})
    result, rec = call(answer, lambda c: c.create("a", "x"), version=version)
    assert result is None
    assert rec.only.method == "POST"


@VERSIONS
def test_create_409_is_already_exists(version: str) -> None:
    answer = edc_error(409, "Secret a already exist", "ObjectConflict")
    err = fails(answer, lambda c: c.create("a", CANARY), AlreadyExistsError, version=version)
    assert err.status == 409
    assert "a already exists" in str(err)
    assert CANARY not in str(err)


@VERSIONS
def test_update_204(version: str) -> None:
    result, rec = call(httpx.Response(204), lambda c: c.update("a", "x"), version=version)
    assert result is None
    assert rec.only.method == "PUT"


@VERSIONS
def test_update_404_is_not_found(version: str) -> None:
    err = fails(not_found("a"), lambda c: c.update("a", CANARY), NotFoundError, version=version)
    assert "no secret a in the vault" in str(err)
    assert CANARY not in str(err)


@VERSIONS
@pytest.mark.parametrize(("answer", "existed"), [(httpx.Response(204), True), (not_found("a"), False)])
def test_delete(version: str, answer: httpx.Response, existed: bool) -> None:
    result, rec = call(answer, lambda c: c.delete("a"), version=version)
    assert result is existed
    assert rec.only.method == "DELETE"


# -- errors a person can act on -----------------------------------------------------------------------


@VERSIONS
def test_401_with_a_key_says_the_key_was_refused(version: str) -> None:
    answer = edc_error(401, "Request could not be authenticated", "AuthenticationFailed")
    err = fails(answer, lambda c: c.get("a"), AuthError, version=version, key="wrong")
    assert "API key was refused" in str(err)
    assert "wrong" not in str(err)


@VERSIONS
def test_401_without_a_key_says_none_was_given(version: str) -> None:
    answer = edc_error(401, "x-api-key not found", "AuthenticationFailed")
    err = fails(answer, lambda c: c.create("a", CANARY), AuthError, version=version, key=None)
    assert "none was given" in str(err)
    assert "EDC_API_KEY" in str(err)
    assert CANARY not in str(err)


@VERSIONS
@pytest.mark.parametrize("operation", ["create", "update"])
def test_validation_failure_never_repeats_the_invalid_value(version: str, operation: str) -> None:
    answer = edc_error(
        400, f"value '{CANARY}' is not valid", "ValidationFailure", path=EDC_NS + "value", invalid=CANARY
    )
    err = fails(answer, lambda c: getattr(c, operation)("a", CANARY), version=version)
    assert err.status == 400
    assert "ValidationFailure" in str(err)
    assert CANARY not in str(err)
    assert CANARY not in repr(err.args)


@VERSIONS
def test_500_with_empty_body_has_a_clear_message(version: str) -> None:
    err = fails(httpx.Response(500), lambda c: c.create("a", CANARY), version=version)
    assert err.status == 500
    assert "internal error" in str(err)
    assert f"POST {BASE}/{version}/secrets" in str(err)


@pytest.mark.parametrize("status", [500, 502])
def test_html_body_names_url_and_status(status: int) -> None:
    page = httpx.Response(status, html="<html><body><h1>Bad Gateway</h1><p>nginx</p></body></html>")
    err = fails(page, lambda c: c.get("a"), retries=0)
    text = str(err)
    assert f"{BASE}/v3/secrets/a" in text
    assert f"HTTP {status}" in text
    assert "<html>" not in text and "nginx" not in text
    assert "text/html" in text


def test_302_says_the_api_redirected() -> None:
    answer = httpx.Response(302, headers={"Location": "https://login.example.test/sso"})
    err = fails(answer, lambda c: c.get("a"))
    assert "redirected to https://login.example.test/sso" in str(err)
    assert err.status == 302


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, html="<html><body>Not Found</body></html>"),
        httpx.Response(404, json={"message": "Not Found", "status": 404}),
        httpx.Response(404),
    ],
    ids=["html", "json-object", "empty"],
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_404_not_from_edc_is_a_wrong_url_not_an_absent_secret(answer: httpx.Response, method: str) -> None:
    # Only EDC's ObjectNotFound means "no such alias". Anything else means the URL is wrong: reading it as
    # "absent" would plan every secret as a create, or count a delete as done.
    err = fails(answer, lambda c: c.get("a") if method == "GET" else c.delete("a"))
    assert "HTTP 404" in str(err)
    assert "--url" in str(err)
    assert not isinstance(err, NotFoundError)


def test_error_messages_escape_control_characters_from_the_server() -> None:
    answer = edc_error(400, "bad\x1b[31m thing", "InvalidRequest")
    err = fails(answer, lambda c: c.update("a", "x"))
    assert "\x1b" not in str(err)
