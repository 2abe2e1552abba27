"""--state-alias / --lock-alias must themselves be aliases the vault can hold, and differ."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Server, run_cli, write_desired


@pytest.mark.parametrize(
    ("flag", "alias", "expected"),
    [
        ("--state-alias", "team/state", "'/'"),
        ("--lock-alias", "lock 1", "whitespace"),
        ("--state-alias", "..", "alias"),
        ("--lock-alias", "", "empty"),
    ],
)
def test_unusable_reserved_alias_is_a_usage_error_before_any_request(
    tmp_path: Path, devserver: Server, env_for: dict[str, str], flag: str, alias: str, expected: str
) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "value-a"})
    for command in ("validate", "plan"):
        result = run_cli(command, str(desired), flag, alias, env=env_for)
        assert result.code == 1, result.both
        assert flag in result.err and expected in result.err
        assert "Traceback" not in result.both
    assert devserver.requests == []


def test_custom_reserved_alias_is_used_and_refused_in_the_file(
    tmp_path: Path, devserver: Server, env_for: dict[str, str]
) -> None:
    desired = write_desired(tmp_path / "d.json", {"a": "value-a", "team-state": "x"})
    refused = run_cli("validate", str(desired), "--state-alias", "team-state", env=env_for)
    assert refused.code == 1 and "reserved" in refused.err
    write_desired(desired, {"a": "value-a"})
    applied = run_cli("apply", str(desired), "--auto-approve", "--state-alias", "team-state", env=env_for)
    assert applied.code == 0, applied.both
    assert "team-state" in devserver.secrets and "vaultsync-state" not in devserver.secrets


@pytest.mark.parametrize(
    ("secrets", "extra", "place"),
    [
        ({"abc\n": "v"}, {}, 'secrets["abc\\n"]'),
        ({"a": {"fromEnv": "HOME\n"}}, {}, "secrets.a.fromEnv"),
        ({"a": "v"}, {"target": {"apiKeyEnv": "KEY\n"}}, "target.apiKeyEnv"),
        ({"a": "v"}, {"target": {"url": "http://127.0.0.1:1/api\n"}}, "target.url"),
    ],
)
def test_a_trailing_newline_does_not_slip_past_an_anchored_rule(
    tmp_path: Path, secrets: dict[str, object], extra: dict[str, object], place: str
) -> None:
    # Python's `$` also matches before a final newline; the schema's patterns must not.
    desired = write_desired(tmp_path / "d.json", secrets, **extra)
    result = run_cli("validate", str(desired))
    assert result.code == 1, result.both
    assert place in result.err
