"""A sops-encrypted desired-state file, fromSops and fromCommand, planned and applied on a real EDC connector
(0.15.1 by default, v3 API) with the real sops and age programs, and on the dev-server for comparison."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import CANARY, Result, run_cli, write_desired
from edc_fixtures import Connectors, edc_versions
from sops_tools import Sops, require_sops

from vaultsync.devserver import DevServer

pytest_plugins = ("edc_fixtures",)
KEY = "dev-key-for-sources-tests"
S3 = {"accessKeyId": "AKIA-SOPS-TEST", "secretAccessKey": CANARY + "-s3"}


@dataclass
class Connector:
    url: str
    api_key: str
    prefix: str  # every alias of one test starts with it
    server: DevServer | None = None

    def cli(self, kit: Sops, *args: str) -> Result:
        env = {**kit.env(), "EDC_MANAGEMENT_URL": self.url, "EDC_API_KEY": self.api_key, "NO_COLOR": "1"}
        reserved = ["--state-alias", f"{self.prefix}state", "--lock-alias", f"{self.prefix}lock"]
        return run_cli(*args, *reserved, env=env)

    def read(self, alias: str) -> str | None:
        with httpx.Client(timeout=30, headers={"X-Api-Key": self.api_key}) as client:
            response = client.get(f"{self.url}/v3/secrets/{quote(alias, safe='')}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        value = response.json()["value"]
        assert isinstance(value, str)
        return value


def _kinds() -> list[object]:
    return ["devserver", *(pytest.param(f"edc-{v}", marks=pytest.mark.edc) for v in edc_versions())]


@pytest.fixture(params=_kinds())
def connector(request: pytest.FixtureRequest) -> Iterator[Connector]:
    prefix = f"src-{uuid.uuid4().hex[:8]}-"
    if request.param == "devserver":
        server = DevServer("127.0.0.1", 0, api_key=KEY)
        server.start_background()
        try:
            yield Connector(server.url, KEY, prefix, server)
        finally:
            server.stop()
        return
    connectors: Connectors = request.getfixturevalue("edc_connectors")
    edc = connectors.get(str(request.param).removeprefix("edc-"))
    yield Connector(edc.url, edc.api_key, prefix)


def test_an_encrypted_desired_file_with_sops_and_command_sources_plans_and_applies(
    connector: Connector, tmp_path: Path
) -> None:
    kit = Sops(require_sops(), tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    p = connector.prefix
    kit.encrypt(repo / "secrets.sops.json", {"oauth": {"clientSecret": CANARY + "-oauth"}, "s3": S3})
    desired = kit.encrypt(
        repo / "connector.json",
        {
            "version": 1,
            "secrets": {
                f"{p}db-password": {"value": CANARY + "-db", "description": "encrypted in place"},
                f"{p}s3-inline": {"json": S3},
                f"{p}oauth": {"fromSops": {"file": "secrets.sops.json", "path": "/oauth/clientSecret"}},
                f"{p}token": {"fromCommand": [sys.executable, "-c", "print('from-a-program')"]},
            },
        },
        regex="^(value|json)$",
    )
    companion = write_desired(
        repo / "companion.json",
        {f"{p}s3-from-sops": {"fromSops": {"file": "secrets.sops.json", "path": "/s3", "json": True}}},
    )
    refused = connector.cli(kit, "plan", str(desired))
    assert refused.code == 1 and "--allow-commands" in refused.err
    assert connector.read(f"{p}db-password") is None

    plan = connector.cli(kit, "plan", str(desired), "--allow-commands", "--format", "json", "--detailed-exitcode")
    assert plan.code == 2, plan.err
    actions = {c["alias"]: c["action"] for c in json.loads(plan.out)["changes"]}
    assert set(actions.values()) == {"create"} and len(actions) == 4
    applied = connector.cli(kit, "apply", str(desired), "--allow-commands", "--auto-approve", "-v")
    assert applied.code == 0, applied.err
    applied2 = connector.cli(kit, "apply", str(companion), "--auto-approve", "--state-file", str(tmp_path / "s.json"))
    assert applied2.code == 0, applied2.err

    assert connector.read(f"{p}db-password") == CANARY + "-db"
    assert connector.read(f"{p}oauth") == CANARY + "-oauth"
    assert connector.read(f"{p}token") == "from-a-program"
    assert connector.read(f"{p}s3-inline") == json.dumps(S3, sort_keys=True, separators=(",", ":"))
    assert connector.read(f"{p}s3-from-sops") == connector.read(f"{p}s3-inline")

    again = connector.cli(kit, "plan", str(desired), "--allow-commands", "--detailed-exitcode")
    assert again.code == 0, again.both
    for result in (refused, plan, applied, applied2, again):
        assert CANARY not in result.both
    for path in repo.iterdir():
        assert CANARY.encode() not in path.read_bytes()

    # Clean up the shared connector: an empty desired file deletes what this test created.
    write_desired(repo / "empty.json", {})
    for file, extra in ((repo / "empty.json", ()), (repo / "empty.json", ("--state-file", str(tmp_path / "s.json")))):
        done = connector.cli(kit, "apply", str(file), "--auto-approve", "--allow-mass-delete", *extra)
        assert done.code == 0, done.err
    assert connector.read(f"{p}db-password") is None and connector.read(f"{p}s3-from-sops") is None
