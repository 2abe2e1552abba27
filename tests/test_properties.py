"""Properties over random (vault, state, desired) triples, through the CLI and the in-process dev-server:

- after apply, plan shows no changes;
- apply makes exactly the minimal calls: one GET per alias it must know about, one write per change;
- no value ever reaches the rendered output (every value holds CANARY);
- transient faults (429/503, lost answers) do not change the outcome.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from conftest import CANARY, Result, Server, run_cli, running_devserver, write_desired
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultsync.devserver import Fault
from vaultsync.state import StateRecord, decode, encode_vault_value, new_key

POOL = ["a", "b", "c", "d", "e", "ü-x", "x.y_z"]
RESERVED = ("vaultsync-state", "vaultsync-lock")
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

values = st.text(st.characters(exclude_categories=["Cs"]), max_size=8).map(lambda s: f"{CANARY}-{s}")
json_docs = st.fixed_dictionaries({"secret": values, "n": st.integers(-5, 5)})


@st.composite
def triples(draw: st.DrawFn) -> tuple[dict[str, str], set[str], dict[str, Any]]:
    """(vault: alias -> stored value, managed aliases, desired: alias -> desired-state entry)."""
    desired: dict[str, Any] = {}
    for alias in draw(st.sets(st.sampled_from(POOL))):
        desired[alias] = {"json": draw(json_docs)} if draw(st.booleans()) else draw(values)
    vault: dict[str, str] = {}
    for alias in draw(st.sets(st.sampled_from(POOL))):
        entry = desired.get(alias)
        choice = draw(st.sampled_from(["same", "reformatted", "other"]))
        if entry is None or choice == "other":
            vault[alias] = draw(values)
        elif isinstance(entry, str):
            vault[alias] = entry
        else:  # a JSON document, byte-identical or only formatted differently: either way no change
            vault[alias] = json.dumps(entry["json"], indent=1 if choice == "reformatted" else None)
    managed = draw(st.sets(st.sampled_from(POOL)))
    return vault, managed, desired


def same(entry: Any, stored: str) -> bool:
    if isinstance(entry, str):
        return stored == entry
    try:
        return bool(json.loads(stored) == entry["json"])
    except ValueError:
        return False


def expected_writes(vault: dict[str, str], managed: set[str], desired: dict[str, Any]) -> list[tuple[str, str]]:
    posts = [("POST", a) for a in desired if a not in vault]
    puts = [("PUT", a) for a in desired if a in vault and not same(desired[a], vault[a])]
    deletes = [("DELETE", a) for a in managed - desired.keys() if a in vault]
    return sorted(posts + puts + deletes)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_devserver() as dev:
        yield dev


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


def setup(server: Server, folder: Path, vault: dict[str, str], managed: set[str], desired: dict[str, Any]) -> Path:
    server.server.faults.clear()
    server.secrets.clear()
    server.secrets.update(vault)
    if managed:
        record = StateRecord("lineage-under-test", 1, {a: "" for a in managed})
        server.secrets["vaultsync-state"] = encode_vault_value(record, new_key())
    server.reset_log()
    return write_desired(folder / "desired.json", desired)


def cli(server: Server, *args: str) -> Result:
    result = run_cli(*args, env={"EDC_MANAGEMENT_URL": server.url, "EDC_API_VERSION": "v3"})
    assert CANARY not in result.both, "a value reached the output"
    assert "Traceback" not in result.both
    return result


def secret_reads(server: Server) -> list[str]:
    prefix = "/api/management/v3/secrets/"
    aliases = [unquote(p.removeprefix(prefix)) for m, p, _ in server.requests if m == "GET"]
    return sorted(a for a in aliases if a not in RESERVED)


def assert_converged(
    server: Server, file: Path, vault: dict[str, str], managed: set[str], desired: dict[str, Any]
) -> None:
    for alias, entry in desired.items():
        assert same(entry, server.secrets[alias])
    for alias in POOL:
        if alias in managed and alias not in desired:
            assert alias not in server.secrets
        elif alias not in managed and alias not in desired and alias in vault:
            assert server.secrets[alias] == vault[alias]  # never touched what it does not manage
    record = decode(server.secrets["vaultsync-state"], "state").record if desired or managed else None
    assert set(record.managed if record else ()) == set(desired)
    again = cli(server, "plan", str(file), "--detailed-exitcode")
    assert again.code == 0, again.out


@SETTINGS
@given(triples())
def test_apply_makes_the_minimal_calls_and_then_plan_shows_no_changes(
    server: Server, folder: Path, triple: tuple[dict[str, str], set[str], dict[str, Any]]
) -> None:
    vault, managed, desired = triple
    file = setup(server, folder, vault, managed, desired)
    result = cli(server, "apply", str(file), "--auto-approve", "--adopt", "--allow-mass-delete", "-v")
    assert result.code == 0, result.both
    assert sorted(server.secret_writes()) == expected_writes(vault, managed, desired)
    assert secret_reads(server) == sorted(desired.keys() | managed)  # one GET per alias, no more
    assert_converged(server, file, vault, managed, desired)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples())
def test_no_value_reaches_any_rendered_plan(
    server: Server, folder: Path, triple: tuple[dict[str, str], set[str], dict[str, Any]]
) -> None:
    vault, managed, desired = triple
    file = setup(server, folder, vault, managed, desired)
    for args in (("--format", "text", "--show-unchanged"), ("--format", "json", "--adopt"), ("--format", "markdown")):
        result = cli(server, "plan", str(file), "-v", *args)
        assert result.code == 0, result.both
    drift = cli(server, "drift", str(file), "--format", "json")
    assert drift.code in (0, 2)
    assert server.secret_writes() == []  # plan and drift never write a secret


@st.composite
def faults(draw: st.DrawFn) -> list[Fault]:
    chosen = []
    for alias in draw(st.lists(st.sampled_from(POOL), max_size=3)):
        kind = draw(st.sampled_from(["429", "503", "503", "drop-after"]))
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
        if kind == "drop-after":
            chosen.append(Fault("drop-after", method=method, alias=alias))
        else:
            chosen.append(Fault(int(kind), method=method, alias=alias, retry_after="0"))
    return chosen


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples(), faults())
def test_transient_faults_do_not_change_the_outcome(
    server: Server,
    folder: Path,
    triple: tuple[dict[str, str], set[str], dict[str, Any]],
    injected: list[Fault],
) -> None:
    vault, managed, desired = triple
    file = setup(server, folder, vault, managed, desired)
    for fault in injected:
        server.server.faults.add(fault)
    result = cli(server, "apply", str(file), "--auto-approve", "--adopt", "--allow-mass-delete")
    assert result.code == 0, result.both
    assert "FAILED" not in result.out
    server.server.faults.clear()
    assert_converged(server, file, vault, managed, desired)
