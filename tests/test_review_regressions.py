"""Regressions found by the second reading of the package."""

from __future__ import annotations

import pathlib
from pathlib import Path

import pytest
from conftest import CANARY, run_cli, write_desired

from vaultsync.commands.planning import Planned
from vaultsync.commands.runtime import Runtime, Target
from vaultsync.config import Connection, Flags
from vaultsync.console import Console
from vaultsync.model import DesiredState
from vaultsync.plan import Plan
from vaultsync.state import StateRecord, StoredState
from vaultsync.statestore import Loaded

KEY_BYTES = CANARY.encode()


def test_repr_of_runtime_does_not_show_the_api_key_or_environment_secrets() -> None:
    rt = Runtime(Flags(), {"EDC_API_KEY": CANARY, "DB_PASSWORD": CANARY}, Console())
    assert CANARY not in repr(rt)


def test_repr_of_a_planned_target_does_not_show_vault_values_or_the_fingerprint_key() -> None:
    loaded = Loaded(StateRecord.empty(), KEY_BYTES, True, True)
    target = Target(DesiredState("f.json", {}), Connection("http://127.0.0.1:1", CANARY, "v3"))
    planned = Planned(target, loaded, {"db": CANARY}, Plan(()), None)
    shown = repr(planned)
    assert CANARY not in shown
    assert repr(KEY_BYTES) not in shown


def test_repr_of_a_stored_state_does_not_show_the_fingerprint_key() -> None:
    assert repr(KEY_BYTES) not in repr(StoredState(None, KEY_BYTES))


def test_apply_of_an_unreadable_file_is_an_error_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desired = write_desired(tmp_path / "secrets.json", {"db": CANARY})
    real_read_bytes = pathlib.Path.read_bytes

    def read_bytes(self: pathlib.Path) -> bytes:
        if self.name == desired.name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)  # root ignores chmod 000, so simulate it
    result = run_cli("apply", str(desired), "--auto-approve", env={"EDC_MANAGEMENT_URL": "http://127.0.0.1:9"})
    assert result.code == 1
    assert "Error:" in result.err
    assert "Permission denied" in result.err
    assert "Traceback" not in result.err
