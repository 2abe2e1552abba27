"""References from EDC assets: shown on each change, referenced deletes refused, dangling and shape warnings,
and a plan that degrades to one warning where the assets API is not served. Against the dev-server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CANARY, Server, run_cli, running_devserver, write_desired

from vaultsync.devserver import Fault
from vaultsync.model import DesiredSecret
from vaultsync.plan import Action, Change, Plan
from vaultsync.references import REMOVES, asset_references, build_index, check

NS = "https://w3id.org/edc/v0.0.1/ns/"
S3_CREDS = {"accessKeyId": "AKIA-TEST", "secretAccessKey": CANARY + "-s3"}


def add_asset(server: Server, asset_id: str, address: dict[str, Any], version: str = "v3") -> None:
    if version == "v3":
        body: dict[str, Any] = {"@context": {"@vocab": NS}, "@id": asset_id, "properties": {}, "dataAddress": address}
    else:
        body = {
            "@context": ["https://w3id.org/edc/connector/management/v2"],
            "@type": "Asset",
            "@id": asset_id,
            "properties": {},
            "dataAddress": {"@type": "DataAddress", **address},
        }
    response = httpx.post(f"{server.url}/{version}/assets", json=body)
    assert response.status_code == 200, response.text


def plan_json(path: Path, env: dict[str, str], *extra: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli("plan", str(path), "--format", "json", *extra, env=env)
    assert CANARY not in result.both
    return result.code, json.loads(result.out), result.err


# -- the pure index and check ---------------------------------------------------------------------------


def test_every_spelling_of_a_reference_property_is_indexed() -> None:
    asset = {
        "@id": "a1",
        "dataAddress": {
            "type": "HttpData",
            "secretName": "compact",
            "edc:keyName": "prefixed",
            NS + "oauth2:clientSecretKey": "full-iri",
            "oauth2:privateKeyName": [{"@value": "value-object"}],
            "baseUrl": "not-a-reference",
        },
    }
    found = {alias: ref.property for alias, ref in asset_references(asset)}
    assert found == {
        "compact": "secretName",
        "prefixed": "keyName",
        "full-iri": "oauth2:clientSecretKey",
        "value-object": "oauth2:privateKeyName",
    }
    expanded = [{"@id": "a2", NS + "dataAddress": [{NS + "type": [{"@value": "AmazonS3"}], NS + "keyName": "k"}]}]
    ((alias, ref),) = asset_references(expanded)
    assert (alias, ref.asset, ref.property, ref.address_type) == ("k", "a2", "keyName", "AmazonS3")
    assert asset_references({"@id": "x"}) == [] and asset_references("junk") == []


def test_removals_are_named_in_one_place_and_refused_with_asset_and_property() -> None:
    assert set(REMOVES) == {Action.DELETE, Action.MOVE}  # what takes an alias away
    index = build_index([{"@id": "orders", "dataAddress": {"type": "HttpData", "secretName": "old"}}])
    plan = Plan((Change("old", Action.DELETE, True),), managed_before=1)
    checked = check(index, plan, {}, {"old"})
    assert [r.message() for r in checked.refusals] == ["delete of old would break asset orders (secretName)"]
    assert [(w.kind, w.alias, w.asset) for w in checked.warnings] == [("dangling", "old", "orders")]
    allowed = check(index, plan, {}, {"old"}, allow_dangling=True)
    assert allowed.refusals == () and [w.kind for w in allowed.warnings] == ["dangling"]


@pytest.mark.parametrize(
    ("value", "warned"),
    [
        (json.dumps(S3_CREDS), False),
        (json.dumps({"accessKeyId": "A"}), True),
        (json.dumps({"accessKeyId": "A", "secretAccessKey": 5}), True),
        ("plain text", True),
        ("[1, 2]", True),
    ],
)
def test_s3_key_names_must_hold_json_credentials(value: str, warned: bool) -> None:
    index = build_index([{"@id": "s3", "dataAddress": {"type": "AmazonS3", "keyName": "creds"}}])
    plan = Plan((Change("creds", Action.CREATE),))
    checked = check(index, plan, {"creds": DesiredSecret("creds", "value", value)}, set())
    assert [w.kind for w in checked.warnings] == (["shape"] if warned else [])
    assert all(value not in w.message for w in checked.warnings)
    # keyName of another address type is not S3 credentials
    other = build_index([{"@id": "az", "dataAddress": {"type": "AzureStorage", "keyName": "creds"}}])
    assert check(other, plan, {"creds": DesiredSecret("creds", "value", value)}, set()).warnings == ()


# -- plans against the dev-server ---------------------------------------------------------------------------


def test_plan_shows_the_assets_that_use_each_secret_in_every_format(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    add_asset(devserver, "s3-orders", {"type": "AmazonS3", "keyName": "aws-creds"})
    add_asset(devserver, "api", {"type": "HttpData", "secretName": "token", NS + "oauth2:clientSecretKey": "oauth"})
    path = write_desired(
        tmp_path / "d.json",
        {"aws-creds": {"json": S3_CREDS}, "token": CANARY + "-t", "oauth": CANARY + "-o", "lonely": CANARY},
    )
    code, doc, _ = plan_json(path, env_for)
    assert code == 0
    refs = {c["alias"]: c.get("references") for c in doc["changes"]}
    assert refs == {
        "aws-creds": [{"asset": "s3-orders", "property": "keyName"}],
        "token": [{"asset": "api", "property": "secretName"}],
        "oauth": [{"asset": "api", "property": "oauth2:clientSecretKey"}],
        "lonely": None,
    }
    assert doc["warnings"] == []
    text = run_cli("plan", str(path), env=env_for)
    assert "used by asset s3-orders (keyName)" in text.out
    assert "used by asset api (oauth2:clientSecretKey)" in text.out
    markdown = run_cli("plan", str(path), "--format", "markdown", env=env_for)
    assert "used by <code>asset s3-orders &#40;keyName&#41;</code>" in markdown.out
    assert CANARY not in text.both + markdown.both


def test_a_referenced_delete_is_refused_with_no_writes_unless_dangling_is_allowed(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    path = write_desired(tmp_path / "d.json", {"keep": CANARY + "-k", "old": CANARY + "-old"})
    assert run_cli("apply", str(path), "--auto-approve", env=env_for).code == 0
    add_asset(devserver, "orders", {"type": "HttpData", "secretName": "old"})
    path = write_desired(tmp_path / "d.json", {"keep": CANARY + "-k"})
    devserver.reset_log()

    planned = run_cli("plan", str(path), "--out", str(tmp_path / "p.json"), env=env_for)
    assert planned.code == 1
    assert "delete of old would break asset orders (secretName)" in planned.err
    assert "--allow-dangling" in planned.err
    assert not (tmp_path / "p.json").exists()  # a refused plan is not saved

    applied = run_cli("apply", str(path), "--auto-approve", env=env_for)
    assert applied.code == 1
    assert "asset orders (secretName)" in applied.err and "nothing was written" in applied.err
    assert devserver.secret_writes() == []
    assert "old" in devserver.secrets

    allowed = run_cli("apply", str(path), "--auto-approve", "--allow-dangling", env=env_for)
    assert allowed.code == 0, allowed.err
    assert "old" not in devserver.secrets
    assert "dangling" in allowed.out
    assert CANARY not in planned.both + applied.both + allowed.both


def test_a_saved_plan_is_checked_again_when_applied_and_keeps_allow_dangling(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    path = write_desired(tmp_path / "d.json", {"keep": "k", "old": "o", "other": "x"})
    assert run_cli("apply", str(path), "--auto-approve", env=env_for).code == 0
    path = write_desired(tmp_path / "d.json", {"keep": "k"})
    reviewed = tmp_path / "q.json"
    assert run_cli("plan", str(path), "--out", str(reviewed), env=env_for).code == 0  # nothing referenced yet
    add_asset(devserver, "late", {"type": "HttpData", "secretName": "other"})
    devserver.reset_log()
    refused = run_cli("apply", str(reviewed), env=env_for)
    assert refused.code == 1 and "delete of other would break asset late (secretName)" in refused.err
    assert devserver.secret_writes() == [] and {"old", "other"} <= set(devserver.secrets)

    allowed = tmp_path / "p.json"
    assert run_cli("plan", str(path), "--out", str(allowed), "--allow-dangling", env=env_for).code == 0
    assert json.loads(allowed.read_text())["targets"][0]["inputs"]["allow_dangling"] is True
    done = run_cli("apply", str(allowed), env=env_for)
    assert done.code == 0, done.err
    assert not {"old", "other"} & set(devserver.secrets)


def test_dangling_references_are_warned_about_without_changing_the_exit_code(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    add_asset(devserver, "broken", {"type": "HttpData", "secretName": "never-created"})
    add_asset(devserver, "fine", {"type": "HttpData", "secretName": "exists-unmanaged"})
    devserver.secrets["exists-unmanaged"] = CANARY
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    assert run_cli("apply", str(path), "--auto-approve", env=env_for).code == 0
    code, doc, _ = plan_json(path, env_for, "--detailed-exitcode")
    assert code == 0
    assert [(w["kind"], w["alias"], w["asset"], w["property"]) for w in doc["warnings"]] == [
        ("dangling", "never-created", "broken", "secretName")
    ]
    drift = run_cli("drift", str(path), env=env_for)
    assert drift.code == 0
    assert "never-created" in drift.err and "broken" in drift.err


def test_a_mis_shaped_s3_credential_is_a_shape_warning_in_every_format(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    add_asset(devserver, "s3", {"type": "AmazonS3", "keyName": "aws"}, version="v4")
    path = write_desired(tmp_path / "d.json", {"aws": {"json": {"accessKeyId": CANARY}}})
    code, doc, _ = plan_json(path, env_for, "--api-version", "v4")
    assert code == 0
    (warning,) = doc["warnings"]
    assert (warning["kind"], warning["alias"], warning["asset"], warning["property"]) == (
        "shape",
        "aws",
        "s3",
        "keyName",
    )
    assert "secretAccessKey" in warning["message"]
    for fmt in ("text", "markdown"):
        result = run_cli("plan", str(path), "--format", fmt, "--api-version", "v4", env=env_for)
        assert result.code == 0 and "shape" in result.out and CANARY not in result.both


@pytest.mark.parametrize(
    "fault",
    [
        Fault(404, method="POST", body="<html>Not Found</html>", content_type="text/html"),
        Fault(405, method="POST", body="", content_type="text/plain"),
        Fault(401, method="POST"),
        Fault(403, method="POST", body="forbidden", content_type="text/plain"),
        Fault(200, method="POST", body="<html>login</html>", content_type="text/html"),
    ],
    ids=["404", "405", "401", "403", "html-200"],
)
def test_no_assets_api_is_one_unchecked_warning_and_the_same_plan(
    tmp_path: Path, devserver: Server, env_for: dict[str, str], fault: Fault
) -> None:
    path = write_desired(tmp_path / "d.json", {"a": "x", "b": "y"})
    _, before, _ = plan_json(path, env_for, "--no-references")
    devserver.server.faults.add(fault)
    code, doc, _ = plan_json(path, env_for, "--detailed-exitcode")
    assert code == 2  # changes present, as without references
    assert doc["changes"] == before["changes"]
    (warning,) = doc["warnings"]
    assert warning["kind"] == "unchecked" and warning["alias"] is None
    assert "not checked" in warning["message"]


def test_no_references_sends_no_assets_query(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    add_asset(devserver, "orders", {"type": "HttpData", "secretName": "a"})
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    devserver.server.requests.clear()
    _, doc, _ = plan_json(path, env_for, "--no-references")
    assert devserver.asset_requests == []
    assert "references" not in doc["changes"][0] and doc["warnings"] == []


def test_assets_are_paged_until_a_short_page_and_sorted_by_id(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    for i in range(23):
        add_asset(devserver, f"asset-{i:02}", {"type": "HttpData", "secretName": f"s{i % 3}"})
    path = write_desired(tmp_path / "d.json", {"s0": "a", "s1": "b", "s2": "c"})
    devserver.server.requests.clear()
    _, doc, _ = plan_json(path, env_for, "--assets-page-size", "5")
    assert len(devserver.asset_requests) == 5  # 5 + 5 + 5 + 5 + 3
    refs = {c["alias"]: len(c["references"]) for c in doc["changes"]}
    assert refs == {"s0": 8, "s1": 8, "s2": 7}


@pytest.mark.parametrize(
    "alias",
    ["edr--4711", "transfer-process-abc-data-address", "transfer-process-x-y-destination-secret"],
)
def test_edc_owned_aliases_are_refused_in_files_and_imports(tmp_path: Path, devserver: Server, alias: str) -> None:
    path = write_desired(tmp_path / "d.json", {alias: "x", "fine": "y"})
    result = run_cli("validate", str(path))
    assert result.code == 1
    assert alias in result.err and "EDC writes itself" in result.err
    ok = write_desired(tmp_path / "ok.json", {"fine": "y"})
    imported = run_cli("import", str(ok), alias, env={"EDC_MANAGEMENT_URL": devserver.url})
    assert imported.code == 1 and "EDC writes itself" in imported.err
    assert devserver.requests == []
    assert run_cli("validate", str(write_desired(tmp_path / "n.json", {"edr-token": "x"}))).code == 0


def test_the_api_key_never_shows_in_an_unchecked_warning(tmp_path: Path) -> None:
    key = "APIKEY-9c1d-never-print"
    (tmp_path / "key").write_text(key)
    with running_devserver(api_key=key) as server:
        echo = json.dumps([{"message": f"refused X-Api-Key {key}", "type": "InvalidRequest"}])
        server.server.faults.add(Fault(500, method="POST", body=echo))
        path = write_desired(tmp_path / "d.json", {"a": CANARY})
        env = {"EDC_MANAGEMENT_URL": server.url}
        result = run_cli("plan", str(path), "--format", "json", "-v", "--api-key-file", str(tmp_path / "key"), env=env)
        assert result.code == 0, result.err
        (warning,) = json.loads(result.out)["warnings"]
        assert warning["kind"] == "unchecked" and "HTTP 500" in warning["message"]
        assert key not in result.both and CANARY not in result.both


def test_a_key_name_no_get_can_reach_is_not_read_nor_called_dangling(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    # An S3 object key such as "data/file.csv": Jetty 12 refuses %2F in a path, so no GET is tried.
    add_asset(devserver, "s3", {"type": "AmazonS3", "keyName": "data/file.csv"})
    add_asset(devserver, "gone", {"type": "HttpData", "secretName": "missing"})
    path = write_desired(tmp_path / "d.json", {"a": "x"})
    code, doc, _ = plan_json(path, env_for)
    assert code == 0
    assert [w["alias"] for w in doc["warnings"]] == ["missing"]
    assert not any("file.csv" in p for _, p, _ in devserver.requests)


def test_a_rename_away_from_a_referenced_alias_is_refused_unless_dangling_is_allowed(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    path = write_desired(tmp_path / "d.json", {"old": CANARY + "-old"})
    assert run_cli("apply", str(path), "--auto-approve", env=env_for).code == 0
    add_asset(devserver, "orders", {"type": "HttpData", "secretName": "old"})
    doc = {"version": 1, "secrets": {"new": CANARY + "-old"}, "moved": [{"from": "old", "to": "new"}]}
    path.write_text(json.dumps(doc), "utf-8")
    devserver.reset_log()

    refused = run_cli("apply", str(path), "--auto-approve", env=env_for)
    assert refused.code == 1
    assert "would break asset orders (secretName)" in refused.err
    assert devserver.secret_writes() == [] and "old" in devserver.secrets and "new" not in devserver.secrets

    allowed = run_cli("apply", str(path), "--auto-approve", "--allow-dangling", env=env_for)
    assert allowed.code == 0, allowed.err
    assert devserver.secrets.get("new") == CANARY + "-old" and "old" not in devserver.secrets
    assert CANARY not in refused.both + allowed.both
