"""The dev-server's assets API answers like EDC 0.15.1 (shapes measured there, README "References")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import Server, running_devserver

NS = "https://w3id.org/edc/v0.0.1/ns/"
V4 = "https://w3id.org/edc/connector/management/v2"
V3_CONTEXT = {"@vocab": NS, "edc": NS, "odrl": "http://www.w3.org/ns/odrl/2/"}


@pytest.fixture
def keyed() -> Iterator[tuple[Server, httpx.Client]]:
    headers = {"X-Api-Key": "k", "Accept": "application/json"}
    with running_devserver(api_key="k") as server, httpx.Client(base_url=server.url, headers=headers) as http:
        yield server, http


def v3_asset(asset_id: str, address: dict[str, Any]) -> dict[str, Any]:
    return {"@context": {"@vocab": NS}, "@id": asset_id, "properties": {"name": "n"}, "dataAddress": address}


def test_create_get_delete_with_edcs_documents(keyed: tuple[Server, httpx.Client]) -> None:
    _, http = keyed
    address = {"type": "HttpData", NS + "secretName": "s", "oauth2:clientSecretKey": "o", "edc:baseUrl": "http://x"}
    created = http.post("/v3/assets", json=v3_asset("a1", address))
    assert created.status_code == 200
    assert created.json()["@type"] == "IdResponse" and created.json()["@id"] == "a1"
    assert created.json()["@context"] == V3_CONTEXT
    got = http.get("/v3/assets/a1").json()
    assert got == {
        "@id": "a1",
        "@type": "Asset",
        "properties": {"name": "n", "id": "a1"},
        "dataAddress": {
            "@type": "DataAddress",
            "type": "HttpData",
            "secretName": "s",
            "oauth2:clientSecretKey": "o",
            "baseUrl": "http://x",
        },
        "@context": V3_CONTEXT,
    }
    assert http.get("/v4beta/assets/a1").json()["@context"] == [V4]
    conflict = http.post("/v3/assets", json=v3_asset("a1", address))
    assert conflict.status_code == 409
    assert conflict.json()[0] == {
        "message": "Asset with ID a1 already exists",
        "type": "ObjectConflict",
        "path": None,
        "invalidValue": None,
    }
    assert http.delete("/v3/assets/a1").status_code == 204
    gone = http.delete("/v3/assets/a1")
    assert gone.status_code == 404 and gone.json()[0]["message"] == "Object of type Asset with ID=a1 was not found"


def test_create_validation_like_edc(keyed: tuple[Server, httpx.Client]) -> None:
    _, http = keyed
    no_address = http.post("/v3/assets", json={"@context": {"@vocab": NS}, "@id": "x", "properties": {}})
    assert no_address.status_code == 400
    assert no_address.json()[0]["message"] == f"mandatory object '{NS}dataAddress' is missing"
    no_type = http.post("/v3/assets", json=v3_asset("x", {"baseUrl": "b"}))
    assert no_type.json()[0]["path"] == f"{NS}dataAddress/{NS}type"
    v4_untyped = http.post(
        "/v4beta/assets",
        json={"@context": [V4], "@type": "Asset", "@id": "y", "properties": {}, "dataAddress": {"type": "HttpData"}},
    )
    assert v4_untyped.status_code == 400
    assert v4_untyped.json()[0]["message"] == "required property '@type' not found"
    assert http.get("/v3/assets").status_code == 405
    assert http.get("/v3/assets").headers["allow"] == "POST,OPTIONS,PUT"
    assert http.get("/v3/assets/request").json()[0]["type"] == "ObjectNotFound"  # GET .../request is an id


def test_the_query_pages_sorts_and_validates_like_edc(keyed: tuple[Server, httpx.Client]) -> None:
    _, http = keyed
    for i in (3, 1, 2):
        assert http.post("/v3/assets", json=v3_asset(f"p{i}", {"type": "HttpData"})).status_code == 200

    def ids(version: str, body: dict[str, Any] | None) -> list[str]:
        response = http.post(f"/{version}/assets/request", json=body)
        assert response.status_code == 200, response.text
        return [a["@id"] for a in response.json()]

    v3 = {"@context": {"@vocab": NS}, "@type": "QuerySpec"}
    assert ids("v3", {**v3, "sortField": "id", "sortOrder": "ASC", "offset": 1, "limit": 1}) == ["p2"]
    assert ids("v3", {**v3, "sortField": "id", "sortOrder": "DESC"}) == ["p3", "p2", "p1"]
    assert ids("v3", None) == ["p3", "p1", "p2"]  # an empty body: the defaults
    assert ids("v4beta", {"@context": [V4], "@type": "QuerySpec", "offset": 2, "limit": 5}) == ["p2"]
    zero = http.post("/v3/assets/request", json={**v3, "limit": 0})
    assert zero.status_code == 400
    assert zero.json()[0]["message"] == f"optional value '{NS}limit' must be greater than zero"
    v4_zero = http.post("/v4beta/assets/request", json={"@context": [V4], "@type": "QuerySpec", "limit": 0})
    assert v4_zero.json()[0]["message"] == "must have a minimum value of 1"
    v4_object = http.post("/v4beta/assets/request", json={**v3, "limit": 1})
    assert v4_object.json()[0]["message"] == "object found, array expected"
    assert http.post("/v3/assets/request", json={**v3, "sortField": "nosuch"}).status_code == 500
    assert http.post("/v3/assets/request", json={"offset": 0}).status_code == 400  # no context: Jetty's 400
    assert http.post("/v3/assets/request", json={}).status_code == 400


def test_auth_comes_after_routing_like_every_management_path(keyed: tuple[Server, httpx.Client]) -> None:
    server, _ = keyed
    no_key = httpx.post(f"{server.url}/v3/assets/request", json={})
    assert no_key.status_code == 401 and no_key.json()[0]["message"] == "x-api-key not found"
    assert httpx.put(f"{server.url}/v3/assets/request", json={}).status_code == 405  # before auth
