"""References against the real EDC 0.15.1 connector: its own asset documents, its paging and its vault.

Assets with AmazonS3, HttpData and OAuth2 data addresses are created through EDC's asset API, then
vaultsync shows them on the plan, refuses a referenced delete, warns about dangling references and
mis-shaped S3 credentials, and pages through more assets than one page. Every test uses its own aliases,
asset ids and state file: the connector is shared by the whole session.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CANARY, Result, run_cli, write_desired
from edc_fixtures import runtime

pytest_plugins = ("edc_fixtures",)
pytestmark = pytest.mark.edc

NS = "https://w3id.org/edc/v0.0.1/ns/"


@pytest.fixture
def edc3(edc: runtime.Connector) -> runtime.Connector:
    if "v3" not in edc.secrets_api:
        pytest.skip("this EDC runtime serves no /v3/secrets (tests/edc/FINDINGS.md)")
    return edc


class World:
    def __init__(self, edc: runtime.Connector, root: Path) -> None:
        self.edc = edc
        self.root = root
        self.tag = uuid.uuid4().hex[:8]
        self.http = httpx.Client(headers={"X-Api-Key": edc.api_key}, timeout=30)

    def name(self, base: str) -> str:
        return f"{base}-{self.tag}"

    def asset(self, base: str, address: dict[str, Any]) -> str:
        asset_id = self.name(base)
        body = {"@context": {"@vocab": NS}, "@id": asset_id, "properties": {"name": base}, "dataAddress": address}
        response = self.http.post(f"{self.edc.url}/v3/assets", json=body)
        assert response.status_code == 200, response.text
        return asset_id

    def secret_exists(self, alias: str) -> bool:
        response = self.http.get(f"{self.edc.url}/v3/secrets/{alias}")
        assert response.status_code in (200, 404), response.text
        return response.status_code == 200

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Result:
        base = {"EDC_MANAGEMENT_URL": self.edc.url, "EDC_API_KEY": self.edc.api_key, "EDC_API_VERSION": "v3"}
        state = ("--state-file", str(self.root / "state.json")) if args[0] in ("plan", "apply", "drift") else ()
        result = run_cli(*args, *state, "--no-color", env=base | (env or {}))
        assert CANARY not in result.both and self.edc.api_key not in result.both
        return result


@pytest.fixture
def world(edc3: runtime.Connector, tmp_path: Path) -> World:
    return World(edc3, tmp_path)


def mine(world: World, doc: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    return {c["alias"]: c.get("references", []) for c in doc["changes"] if world.tag in c["alias"]}


def test_the_plan_shows_s3_http_and_oauth2_references_from_the_real_connector(world: World) -> None:
    s3, token, oauth, key = (world.name(n) for n in ("aws", "token", "oauth", "pk"))
    a_s3 = world.asset("s3", {"type": "AmazonS3", "region": "eu", "bucketName": "b", "keyName": s3})
    a_http = world.asset(
        "http",
        {
            "type": "HttpData",
            "baseUrl": "http://127.0.0.1:9/x",
            "secretName": token,
            "oauth2:clientSecretKey": oauth,
            NS + "oauth2:privateKeyName": key,
        },
    )
    path = write_desired(
        world.root / "d.json",
        {
            s3: {"json": {"accessKeyId": "AKIA", "secretAccessKey": CANARY}},
            token: CANARY + "-t",
            oauth: CANARY + "-o",
            key: CANARY + "-k",
        },
    )
    result = world.cli("plan", str(path), "--format", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert mine(world, doc) == {
        s3: [{"asset": a_s3, "property": "keyName"}],
        token: [{"asset": a_http, "property": "secretName"}],
        oauth: [{"asset": a_http, "property": "oauth2:clientSecretKey"}],
        key: [{"asset": a_http, "property": "oauth2:privateKeyName"}],
    }
    assert [w for w in doc["warnings"] if world.tag in (w["alias"] or "")] == []
    text = world.cli("plan", str(path))
    assert f"used by asset {a_s3} (keyName)" in text.out


def test_a_referenced_delete_is_refused_on_the_real_connector(world: World) -> None:
    keep, old = world.name("keep"), world.name("old")
    path = write_desired(world.root / "d.json", {keep: CANARY + "-k", old: CANARY + "-o"})
    assert world.cli("apply", str(path), "--auto-approve").code == 0
    asset = world.asset("uses-old", {"type": "HttpData", "baseUrl": "http://127.0.0.1:9/x", "secretName": old})
    path = write_desired(world.root / "d.json", {keep: CANARY + "-k"})
    for command in (("plan",), ("apply", "--auto-approve")):
        result = world.cli(command[0], str(path), *command[1:])
        assert result.code == 1
        assert f"delete of {old} would break asset {asset} (secretName)" in result.err
    assert world.secret_exists(old)
    allowed = world.cli("apply", str(path), "--auto-approve", "--allow-dangling")
    assert allowed.code == 0, allowed.err
    assert not world.secret_exists(old)
    assert f"asset {asset} (secretName) names {old}" in allowed.out  # now dangling


def test_dangling_and_shape_warnings_on_the_real_connector(world: World) -> None:
    missing, s3 = world.name("missing"), world.name("s3creds")
    broken = world.asset("broken", {"type": "HttpData", "baseUrl": "http://127.0.0.1:9/x", "secretName": missing})
    bucket = world.asset("bucket", {"type": "AmazonS3", "bucketName": "b", "keyName": s3})
    path = write_desired(world.root / "d.json", {s3: CANARY + "-not-json"})
    result = world.cli("plan", str(path), "--format", "json", "--detailed-exitcode")
    assert result.code == 2  # one create; warnings do not change the exit code
    warnings = {(w["kind"], w["alias"], w["asset"], w["property"]) for w in json.loads(result.out)["warnings"]}
    assert ("dangling", missing, broken, "secretName") in warnings
    assert ("shape", s3, bucket, "keyName") in warnings


def test_paging_over_more_assets_than_one_page_on_the_real_connector(world: World) -> None:
    aliases = [world.name(f"paged{i}") for i in range(7)]
    ids = [
        world.asset(f"p{i}", {"type": "HttpData", "baseUrl": "http://x", "secretName": a})
        for i, a in enumerate(aliases)
    ]
    path = write_desired(world.root / "d.json", {a: CANARY + a for a in aliases})
    result = world.cli("plan", str(path), "--format", "json", "--assets-page-size", "3", "-v")
    assert result.code == 0, result.err
    refs = mine(world, json.loads(result.out))
    assert refs == {a: [{"asset": i, "property": "secretName"}] for a, i in zip(aliases, ids, strict=True)}
    assert result.err.count("POST /api/management/v3/assets/request 200") >= 3


def test_init_from_the_real_connector_adopts_without_writing(world: World) -> None:
    alias = world.name("existing")
    assert world.http.post(
        f"{world.edc.url}/v3/secrets",
        json={"@context": {"@vocab": NS}, "@type": "Secret", "@id": alias, "value": CANARY + "-e"},
    ).status_code in (200, 204)
    world.asset("init", {"type": "HttpData", "baseUrl": "http://x", "secretName": alias})
    out = world.root / "starter.json"
    result = world.cli("init", "--out", str(out))
    assert result.code == 0, result.err
    doc = json.loads(out.read_text())
    assert CANARY not in out.read_text()
    entry = doc["secrets"][alias]
    assert entry["fromEnv"] == alias.upper().replace("-", "_")
    # Only this test's alias: other tests' secrets on the shared connector are not ours to adopt.
    doc["secrets"] = {alias: entry}
    out.write_text(json.dumps(doc))
    planned = world.cli("plan", str(out), "--detailed-exitcode", env={entry["fromEnv"]: CANARY + "-e"})
    assert planned.code == 0, planned.err
    assert "adopt" in planned.out
