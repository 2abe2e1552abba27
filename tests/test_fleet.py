"""Many connectors: one plan/apply over several desired-state files, each with its own target and key.

Two dev-servers stand in for two connectors, each requiring its own API key. A file names its
target URL (`target.url`) and the environment variable holding its key (`target.apiKeyEnv`).
EDC_MANAGEMENT_URL and EDC_API_KEY would override every file's target, so they are unset here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CANARY, Server, run_cli, write_desired

from vaultsync.devserver import DevServer

PROVIDER_KEY = "provider-key-" + CANARY
CONSUMER_KEY = "consumer-key-" + CANARY
KEYS = {"PROVIDER_API_KEY": PROVIDER_KEY, "CONSUMER_API_KEY": CONSUMER_KEY}


@dataclass
class Fleet:
    provider: Server
    consumer: Server
    provider_file: Path
    consumer_file: Path

    @property
    def files(self) -> list[str]:
        return [str(self.provider_file), str(self.consumer_file)]

    def write(self, provider: dict[str, object], consumer: dict[str, object]) -> None:
        target = {"url": self.provider.url, "apiKeyEnv": "PROVIDER_API_KEY", "apiVersion": "v3"}
        write_desired(self.provider_file, provider, target=target)
        other = {"url": self.consumer.url, "apiKeyEnv": "CONSUMER_API_KEY", "apiVersion": "v3"}
        write_desired(self.consumer_file, consumer, target=other)

    def reset_logs(self) -> None:
        self.provider.reset_log()
        self.consumer.reset_log()

    @property
    def requests(self) -> int:
        return len(self.provider.requests) + len(self.consumer.requests)


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    for name in ("EDC_MANAGEMENT_URL", "EDC_API_KEY", "EDC_API_VERSION", *KEYS):
        monkeypatch.delenv(name, raising=False)
    servers = [DevServer("127.0.0.1", 0, api_key=PROVIDER_KEY), DevServer("127.0.0.1", 0, api_key=CONSUMER_KEY)]
    for server in servers:
        server.start_background()
    try:
        fleet = Fleet(Server(servers[0]), Server(servers[1]), tmp_path / "provider.json", tmp_path / "consumer.json")
        fleet.write(
            {"provider-oauth": CANARY + "p1", "provider-token": CANARY + "p2"},
            {"consumer-s3": {"json": {"accessKeyId": "AKIA", "secretAccessKey": CANARY}}},
        )
        yield fleet
    finally:
        for server in servers:
            server.stop()


def aliases_requested(server: Server) -> set[str]:
    return {path.rsplit("/", 1)[1] for _, path, _ in server.requests if "/secrets/" in path}


def assert_each_server_saw_only_its_own(fleet: Fleet) -> None:
    reserved = {"vaultsync-state", "vaultsync-lock"}
    assert aliases_requested(fleet.provider) - reserved <= {"provider-oauth", "provider-token", "provider-new"}
    assert aliases_requested(fleet.consumer) - reserved <= {"consumer-s3", "consumer-new"}
    # Each server requires its own key: a single 401 would mean a key went to the wrong connector.
    assert all(status != 401 for _, _, status in fleet.provider.requests + fleet.consumer.requests)
    assert fleet.provider.requests and fleet.consumer.requests


# -- plan --------------------------------------------------------------------------------------------


def test_text_plan_has_a_section_per_connector_and_one_combined_summary(fleet: Fleet) -> None:
    fleet.consumer.secrets["consumer-s3"] = "not the document"  # unmanaged, other value: conflict
    result = run_cli("plan", *fleet.files, env=KEYS)
    assert result.code == 0, result.err
    provider = result.out.index(f"{fleet.provider_file} -> {fleet.provider.url} (v3)")
    consumer = result.out.index(f"{fleet.consumer_file} -> {fleet.consumer.url} (v3)")
    assert provider < consumer
    sections = result.out[provider:consumer], result.out[consumer:]
    assert "Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged." in sections[0]
    assert "conflict consumer-s3" in sections[1] and "provider" not in sections[1].split("\n", 1)[1]
    assert result.out.rstrip().endswith(
        "All 2 connectors: 2 to create, 0 to update, 0 to delete, 0 unchanged. 1 in conflict."
    )
    assert_each_server_saw_only_its_own(fleet)
    assert CANARY not in result.both


def test_json_plan_combines_the_summary_and_breaks_it_down_per_connector(fleet: Fleet) -> None:
    result = run_cli("plan", *fleet.files, "--format", "json", env=KEYS)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["summary"] == {"create": 3, "update": 0, "delete": 0, "conflict": 0, "unchanged": 0}
    breakdown = {
        t["url"]: (t["file"], t["summary"]["create"], [c["alias"] for c in t["changes"]]) for t in doc["targets"]
    }
    assert breakdown == {
        fleet.provider.url: (str(fleet.provider_file), 2, ["provider-oauth", "provider-token"]),
        fleet.consumer.url: (str(fleet.consumer_file), 1, ["consumer-s3"]),
    }
    assert CANARY not in result.both


def test_markdown_plan_has_a_connector_table_and_a_section_per_connector(fleet: Fleet) -> None:
    result = run_cli("plan", *fleet.files, "--format", "markdown", env=KEYS)
    assert result.code == 0, result.err
    assert "**Plan (2 connectors): 3 to create, 0 to update, 0 to delete, 0 unchanged.**" in result.out
    table = [line for line in result.out.splitlines() if line.startswith("| <code>") and line.count("|") == 8]
    assert [line.split("|")[3:5] for line in table] == [[" 2 ", " 0 "], [" 1 ", " 0 "]]
    assert "provider&#46;json" in table[0] and "consumer&#46;json" in table[1]
    assert result.out.count("<details>") == 2
    assert CANARY not in result.both


def test_detailed_exitcode_counts_changes_in_any_connector(fleet: Fleet) -> None:
    assert run_cli("apply", *fleet.files, "--auto-approve", env=KEYS).code == 0
    assert run_cli("plan", *fleet.files, "--detailed-exitcode", env=KEYS).code == 0
    fleet.write({"provider-oauth": CANARY + "p1", "provider-token": CANARY + "p2"}, {"consumer-new": "n"})
    assert run_cli("plan", *fleet.files, "--detailed-exitcode", env=KEYS).code == 2


# -- apply -------------------------------------------------------------------------------------------


def test_apply_writes_each_connector_with_its_own_key_and_reports_a_combined_outcome(fleet: Fleet) -> None:
    result = run_cli("apply", *fleet.files, "--auto-approve", env=KEYS)
    assert result.code == 0, result.err
    assert set(fleet.provider.secrets) == {"provider-oauth", "provider-token", "vaultsync-state"}
    assert set(fleet.consumer.secrets) == {"consumer-s3", "vaultsync-state"}
    assert fleet.provider.secrets["provider-oauth"] == CANARY + "p1"
    assert f"Apply complete ({fleet.provider_file}): 2 created" in result.out
    assert f"Apply complete ({fleet.consumer_file}): 1 created" in result.out
    assert "All 2 connectors: 3 created, 0 updated, 0 deleted, 0 failed." in result.out
    assert_each_server_saw_only_its_own(fleet)
    assert CANARY not in result.both

    fleet.reset_logs()
    again = run_cli("plan", *fleet.files, "--detailed-exitcode", env=KEYS)
    assert again.code == 0
    assert_each_server_saw_only_its_own(fleet)


def test_each_connector_keeps_its_own_state(fleet: Fleet) -> None:
    assert run_cli("apply", *fleet.files, "--auto-approve", env=KEYS).code == 0
    fleet.write({"provider-oauth": CANARY + "p1"}, {"consumer-s3": {"json": {"other": "doc"}}})
    result = run_cli("plan", *fleet.files, "--format", "json", env=KEYS)
    doc = json.loads(result.out)
    per_target = {t["url"]: t["summary"] for t in doc["targets"]}
    assert per_target[fleet.provider.url] == {"create": 0, "update": 0, "delete": 1, "conflict": 0, "unchanged": 1}
    assert per_target[fleet.consumer.url] == {"create": 0, "update": 1, "delete": 0, "conflict": 0, "unchanged": 0}


def test_a_conflict_in_one_connector_stops_the_whole_apply(fleet: Fleet) -> None:
    fleet.consumer.secrets["consumer-s3"] = "not the document"
    result = run_cli("apply", *fleet.files, "--auto-approve", env=KEYS)
    assert result.code == 1
    assert "apply refused, nothing was written" in result.err and "consumer-s3" in result.err
    assert set(fleet.provider.secrets) == set()  # the healthy connector was not half-applied either
    assert fleet.consumer.secrets == {"consumer-s3": "not the document"}


# -- refused before any request ----------------------------------------------------------------------


def test_a_missing_api_key_variable_fails_before_any_request_to_any_connector(fleet: Fleet) -> None:
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run_cli(*command, *fleet.files, env={"PROVIDER_API_KEY": PROVIDER_KEY})
        assert result.code == 1
        assert (
            f"{fleet.consumer_file}: target.apiKeyEnv: environment variable CONSUMER_API_KEY is not set" in result.err
        )
        assert fleet.requests == 0
        assert PROVIDER_KEY not in result.both


def test_every_missing_api_key_variable_is_reported_at_once(fleet: Fleet) -> None:
    result = run_cli("plan", *fleet.files)
    assert result.code == 1
    assert "PROVIDER_API_KEY is not set" in result.err and "CONSUMER_API_KEY is not set" in result.err
    assert fleet.requests == 0


def test_validate_needs_no_api_key(fleet: Fleet) -> None:
    result = run_cli("validate", *fleet.files)
    assert result.code == 0, result.err
    assert fleet.requests == 0


def test_an_api_key_in_the_file_is_refused_with_a_pointer_to_apikeyenv(fleet: Fleet) -> None:
    write_desired(fleet.consumer_file, {"a": "x"}, target={"url": fleet.consumer.url, "apiKey": CONSUMER_KEY})
    result = run_cli("plan", *fleet.files, env=KEYS)
    assert result.code == 1
    assert "apiKeyEnv" in result.err
    assert CONSUMER_KEY not in result.both
    assert fleet.requests == 0


@pytest.mark.parametrize(
    "spelling",
    ["{url}", "{url}/"],
    ids=["same", "trailing-slash"],
)
def test_two_files_for_the_same_connector_are_merged(fleet: Fleet, tmp_path: Path, spelling: str) -> None:
    """Lifecycle: files for one connector (however its URL is spelled) form one desired state, one state."""
    other = spelling.format(url=fleet.provider.url)
    twin = write_desired(tmp_path / "twin.json", {"other": "x"}, target={"url": other, "apiKeyEnv": "PROVIDER_API_KEY"})
    result = run_cli("plan", str(fleet.provider_file), str(twin), "--format", "json", env=KEYS)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert [t["files"] for t in doc["targets"]] == [[str(fleet.provider_file), str(twin)]]
    assert "other" in {c["alias"] for c in doc["changes"]}
    assert fleet.consumer.requests == []


def test_host_case_and_default_ports_are_the_same_connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDC_MANAGEMENT_URL", raising=False)
    a = write_desired(
        tmp_path / "a.json", {"a": "x"}, target={"url": "https://edc.example.com/api/management", "apiVersion": "v3"}
    )
    b = write_desired(
        tmp_path / "b.json",
        {"b": "x"},
        target={"url": "https://EDC.example.com:443/api/management/", "apiVersion": "v4"},
    )
    result = run_cli("plan", str(a), str(b))
    assert result.code == 1  # merged as one connector, so they must agree on the API version
    assert "targets the same connector" in result.err and "another API version" in result.err


def test_edc_management_url_overrides_every_file_so_a_fleet_is_refused_with_the_reason(fleet: Fleet) -> None:
    result = run_cli("plan", *fleet.files, env={**KEYS, "EDC_MANAGEMENT_URL": fleet.provider.url})
    assert result.code == 1
    assert "targets the same connector" in result.err and "another API key" in result.err
    assert "EDC_MANAGEMENT_URL overrides every file's target.url" in result.err
    assert fleet.requests == 0


def test_url_flag_overrides_the_files_target(fleet: Fleet) -> None:
    """--url beats the file: the provider's file goes to the consumer's server (with the provider's key: 401)."""
    result = run_cli("plan", str(fleet.provider_file), "--url", fleet.consumer.url, env=KEYS)
    assert result.code == 1
    assert fleet.provider.requests == []
    assert fleet.consumer.requests and fleet.consumer.requests[0][2] == 401
    assert PROVIDER_KEY not in result.both


def test_edc_api_key_overrides_the_files_api_key_env(fleet: Fleet) -> None:
    result = run_cli("plan", str(fleet.consumer_file), env={**KEYS, "EDC_API_KEY": PROVIDER_KEY})
    assert result.code == 1  # the consumer refuses the provider's key
    assert {status for _, _, status in fleet.consumer.requests} == {401}
    assert CANARY not in result.both


def test_state_file_is_for_one_connector_only(fleet: Fleet, tmp_path: Path) -> None:
    result = run_cli("plan", *fleet.files, "--state-file", str(tmp_path / "state.json"), env=KEYS)
    assert result.code == 1
    assert "--state-file holds the state of one connector" in result.err
    assert fleet.requests == 0


def test_a_saved_fleet_plan_is_applied_to_each_connector_with_its_own_key(fleet: Fleet, tmp_path: Path) -> None:
    saved = str(tmp_path / "fleet.plan")
    planned = run_cli("plan", *fleet.files, "--out", saved, env=KEYS)
    assert planned.code == 0, planned.err
    fleet.reset_logs()

    without_key = run_cli("apply", saved, env={"PROVIDER_API_KEY": PROVIDER_KEY})
    assert without_key.code == 1
    assert "CONSUMER_API_KEY is not set" in without_key.err
    assert fleet.requests == 0

    result = run_cli("apply", saved, env=KEYS)
    assert result.code == 0, result.err
    assert "All 2 connectors: 3 created, 0 updated, 0 deleted, 0 failed." in result.out
    assert {"provider-oauth", "provider-token"} <= set(fleet.provider.secrets)
    assert "consumer-s3" in fleet.consumer.secrets and "provider-oauth" not in fleet.consumer.secrets
    assert_each_server_saw_only_its_own(fleet)
    assert CANARY not in result.both
