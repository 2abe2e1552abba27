"""A sharded state on a real EDC connector: every stored value under 24 KB, read back whole.

The shards are ordinary secrets to EDC (POST create-only, PUT update-only, DELETE); what depends on the
real connector is that it stores and returns values of about 24,000 characters unchanged.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from conftest import CANARY, Result, run_cli, write_desired
from edc_fixtures import http_client, runtime

from vaultsync.statecodec import LIMIT

pytest_plugins = ("edc_fixtures",)
pytestmark = pytest.mark.edc

COUNT = 600  # about 400 fit in the head alone


def test_a_sharded_state_round_trips_on_a_real_connector(edc: runtime.Connector, tmp_path: Path) -> None:
    prefix = f"sz-{uuid.uuid4().hex[:8]}-"
    state, lock = prefix + "state", prefix + "lock"
    env = {"EDC_MANAGEMENT_URL": edc.url, "EDC_API_KEY": edc.api_key, "EDC_API_VERSION": "v3"}

    def cli(*args: str) -> Result:
        return run_cli(*args, "--state-alias", state, "--lock-alias", lock, env=env)

    secrets = {f"{prefix}app-{i:04d}": f"{CANARY}-{i}" for i in range(COUNT)}
    file = write_desired(tmp_path / "d.json", secrets)
    stored: dict[str, str] = {}
    try:
        applied = cli("apply", str(file), "--auto-approve", "--parallelism", "8")
        assert applied.code == 0, applied.both
        assert CANARY not in applied.both
        with http_client() as http:
            head = http.get(f"{edc.url}/v3/secrets/{state}", headers={"X-Api-Key": edc.api_key}).json()["value"]
            shards = json.loads(head)["shards"]
            assert shards[0] == f"{state}-2"
            for alias in [state, *shards]:
                answer = http.get(f"{edc.url}/v3/secrets/{alias}", headers={"X-Api-Key": edc.api_key})
                stored[alias] = answer.json()["value"]
        assert len(stored) > 1 and max(len(v) for v in stored.values()) <= LIMIT
        assert not any(CANARY in v for v in stored.values())

        listed = cli("state", "list", str(file))
        assert listed.out.split() == sorted(secrets)
        assert cli("plan", str(file), "--detailed-exitcode").code == 0
        drift = cli("drift", str(file))
        assert drift.code == 0, drift.both
    finally:
        with http_client() as http:
            for alias in [*secrets, *stored, state, lock]:
                http.delete(f"{edc.url}/v3/secrets/{alias}", headers={"X-Api-Key": edc.api_key})
