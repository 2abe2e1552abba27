"""Lost state is said out loud: no state at all, or a managed set smaller than the vault suggests.

Deleting the state alias by hand used to make the next plan adopt everything as new, silently, while the
aliases vaultsync managed and the file no longer lists were orphaned for ever.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired

from vaultsync.model import DesiredSecret
from vaultsync.plan import diff
from vaultsync.state import decode, encode_vault_value

SECRETS = {f"app-{i}": f"{CANARY}-{i}" for i in range(5)}


def cli(env: dict[str, str], *args: str) -> Result:
    result = run_cli(*args, env=env)
    assert "Traceback" not in result.both
    assert CANARY not in result.both
    return result


def test_the_first_plan_says_that_there_is_no_state_yet_and_later_ones_do_not(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    file = write_desired(tmp_path / "d.json", SECRETS)
    first = cli(env_for, "plan", str(file))
    assert "no state found in vault alias vaultsync-state: nothing is managed yet; apply starts a new state" in (
        first.err
    )
    assert "Warning" not in first.err  # a first run is nothing to worry about
    assert cli(env_for, "apply", str(file), "--auto-approve").code == 0
    again = cli(env_for, "plan", str(file))
    assert "no state" not in again.err
    assert "Warning" not in again.err


def test_a_state_alias_deleted_by_hand_is_reported_with_how_to_recover(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    file = write_desired(tmp_path / "d.json", {**SECRETS, "retired": "old"})
    assert cli(env_for, "apply", str(file), "--auto-approve").code == 0
    write_desired(file, {**SECRETS, "app-4": "changed by the file"})  # "retired" removed from the file
    del devserver.secrets["vaultsync-state"]

    for command in (["plan"], ["drift"], ["apply", "--auto-approve", "--adopt"]):
        result = cli(env_for, command[0], str(file), *command[1:])
        assert "Warning: no state found in vault alias vaultsync-state" in result.err, command
        assert "5 of the 5 secrets" in result.err
        assert "4 with the desired value, 1 with another" in result.err
        assert "state was lost" in result.err
        assert f"vaultsync import {file} ALIAS" in result.err
    # The orphan stays in the vault: vaultsync cannot know it any more, which is why it must be said.
    assert "retired" in devserver.secrets
    after = cli(env_for, "plan", str(file))
    assert "no state" not in after.err and "Warning" not in after.err


def test_a_lost_state_file_is_reported_even_when_nothing_is_in_the_vault_yet(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    state = tmp_path / "state.json"
    file = write_desired(tmp_path / "d.json", SECRETS)
    assert cli(env_for, "apply", str(file), "--auto-approve", "--state-file", str(state)).code == 0

    lost = cli(env_for, "plan", str(file), "--state-file", str(state))
    assert "no state" not in lost.err
    state.unlink()
    lost = cli(env_for, "plan", str(file), "--state-file", str(state))
    assert f"Warning: no state found in file {state}, yet 5 of the 5 secrets" in lost.err

    # A mistyped --state-file on a file whose secrets are all new: the key in the vault gives it away.
    other = write_desired(tmp_path / "other.json", {"brand-new": "v"})
    typo = cli(env_for, "plan", str(other), "--state-file", str(tmp_path / "stat.json"))
    assert "Warning: no state found in file" in typo.err
    assert "holds vaultsync's fingerprint key" in typo.err
    assert "check --state-file" in typo.err


def _shrink_state(devserver: Server, keep: set[str]) -> None:
    """Edit the state alias as a person would by hand (or restore an older copy): fewer managed aliases."""
    stored = decode(devserver.secrets["vaultsync-state"], "state")
    assert stored.record is not None and stored.key is not None
    record = stored.record
    smaller = type(record)(record.lineage, record.serial, {a: fp for a, fp in record.managed.items() if a in keep})
    devserver.secrets["vaultsync-state"] = encode_vault_value(smaller, stored.key)


def test_managed_aliases_vanishing_from_the_state_are_reported(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    many = {f"svc-{i:02}": f"{CANARY}-{i}" for i in range(20)}
    file = write_desired(tmp_path / "d.json", many)
    assert cli(env_for, "apply", str(file), "--auto-approve").code == 0
    _shrink_state(devserver, {f"svc-{i:02}" for i in range(5)})
    result = cli(env_for, "plan", str(file))
    assert "Warning: the state in vault alias vaultsync-state records 5 managed secrets" in result.err
    assert "15 of the 20 secrets" in result.err
    assert "smaller than the vault suggests" in result.err


def test_a_state_emptied_by_hand_is_reported(tmp_path: Path, devserver: Server, env_for: dict[str, str]) -> None:
    file = write_desired(tmp_path / "d.json", SECRETS)
    assert cli(env_for, "apply", str(file), "--auto-approve").code == 0
    _shrink_state(devserver, set())
    result = cli(env_for, "plan", str(file))
    assert "records no managed secret, yet 5 of the 5 secrets" in result.err


def test_adopting_a_few_secrets_created_by_hand_raises_no_alarm(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    file = write_desired(tmp_path / "d.json", SECRETS)
    assert cli(env_for, "apply", str(file), "--auto-approve").code == 0
    devserver.secrets["made-by-hand"] = "v"
    write_desired(file, {**SECRETS, "made-by-hand": "v"})
    result = cli(env_for, "plan", str(file))
    assert "adopt" in result.out
    assert "Warning" not in result.err and "no state" not in result.err


def test_quiet_silences_the_first_run_note_but_never_the_lost_state_warning(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    file = write_desired(tmp_path / "d.json", SECRETS)
    assert "no state" not in cli(env_for, "plan", str(file), "-q").err
    assert cli(env_for, "apply", str(file), "--auto-approve").code == 0
    del devserver.secrets["vaultsync-state"]
    assert "Warning: no state found" in cli(env_for, "plan", str(file), "-q").err


# -- the rule itself, without a server -------------------------------------------------------------------------


def _facts(**overrides: object) -> Any:
    from vaultsync.lost_state import StateFacts

    base: dict[str, object] = {
        "file": "d.json",
        "location": "vault alias vaultsync-state",
        "record_exists": True,
        "managed": 0,
        "key_in_vault": True,
        "file_backend": False,
        "state_alias": "vaultsync-state",
    }
    return StateFacts(**{**base, **overrides})


@pytest.mark.parametrize(
    ("managed", "unmanaged", "warned"),
    [
        (90, 9, False),  # a few adoptions: ordinary
        (90, 10, False),  # 10 of 100 present: within the usual
        (20, 10, True),  # 10 of 30 present (33%): the state lost some
        (1, 1, False),
        (0, 1, True),  # a state that manages nothing while the vault holds the file's secrets
    ],
)
def test_shrink_thresholds(managed: int, unmanaged: int, warned: bool) -> None:
    aliases = [f"s{i:03}" for i in range(managed + unmanaged)]
    desired = {a: DesiredSecret(a, "value", "v") for a in aliases}
    plan = diff(desired, dict.fromkeys(aliases, "v"), aliases[:managed])
    from vaultsync.lost_state import state_notices

    notices = state_notices(_facts(managed=managed), plan)
    assert bool(notices) is warned
    assert all(n.warning for n in notices)
