"""dev-server --data: a file it cannot use is a clean error, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli


@pytest.mark.parametrize("content", ["{broken", '["a list"]', '{"alias": {"nested": 1}}'])
def test_unusable_data_file_is_refused_cleanly(tmp_path: Path, content: str) -> None:
    data = tmp_path / "vault.json"
    data.write_text(content, encoding="utf-8")
    result = run_cli("dev-server", "--port", "0", "--data", str(data))
    assert result.code == 1
    assert "not a dev-server data file" in result.err
    assert "Traceback" not in result.both
    assert "EDC_MANAGEMENT_URL" not in result.out  # it never started
