"""Faults injected into the dev-server, over real sockets: retries, partial failure, garbage answers.

Every test runs the real CLI (in-process) against the dev-server on loopback, so what is asserted is
what a user sees: exit code, the lines printed, the vault and the state afterwards.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from conftest import CANARY, Result, Server, run_cli, write_desired

from vaultsync.devserver import Fault
from vaultsync.state import decode


def cli(devserver: Server, *args: str) -> Result:
    result = run_cli(*args, env={"EDC_MANAGEMENT_URL": devserver.url, "EDC_API_VERSION": "v3"})
    assert "Traceback" not in result.both
    assert CANARY not in result.both
    return result


def apply(devserver: Server, file: Path, *args: str) -> Result:
    return cli(devserver, "apply", str(file), "--auto-approve", *args)


def managed(devserver: Server) -> set[str]:
    record = decode(devserver.secrets["vaultsync-state"], "state").record
    assert record is not None
    return set(record.managed)


def converged(devserver: Server, file: Path) -> bool:
    return cli(devserver, "plan", str(file), "--detailed-exitcode").code == 0


def fault(devserver: Server, *faults: Fault) -> None:
    for f in faults:
        devserver.server.faults.add(f)


# -- lost answers: every write happens exactly once ---------------------------------------------


def test_a_lost_create_answer_is_settled_by_a_get_and_counted_done(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": CANARY + "-a", "b": CANARY + "-b"})
    fault(devserver, Fault("drop-after", method="POST", alias="a"))
    result = apply(devserver, file)
    assert result.code == 0, result.err
    assert "created a" in result.out
    assert "0 failed" in result.out
    assert devserver.secrets["a"] == CANARY + "-a"
    assert devserver.secret_writes().count(("POST", "a")) == 2  # the second one met 409 and was settled
    assert managed(devserver) == {"a", "b"}
    assert converged(devserver, file)


def test_a_lost_delete_answer_counts_as_deleted(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa", "b": "bbbb", "c": "cccc"})
    assert apply(devserver, file).code == 0
    write_desired(file, {"a": "aaaa", "b": "bbbb"})
    fault(devserver, Fault("drop-after", method="DELETE", alias="c"))
    result = apply(devserver, file)
    assert result.code == 0, result.err
    assert "deleted c" in result.out
    assert "c" not in devserver.secrets
    assert managed(devserver) == {"a", "b"}
    assert converged(devserver, file)


def test_a_lost_update_answer_is_simply_repeated(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "old-value"})
    assert apply(devserver, file).code == 0
    write_desired(file, {"a": CANARY})
    fault(devserver, Fault("drop-after", method="PUT", alias="a"))
    result = apply(devserver, file)
    assert result.code == 0, result.err
    assert devserver.secret_writes().count(("PUT", "a")) == 2
    assert devserver.secrets["a"] == CANARY
    assert converged(devserver, file)


def test_an_answer_cut_off_midway_is_retried(devserver: Server, tmp_path: Path) -> None:
    devserver.secrets["a"] = "stored"
    file = write_desired(tmp_path / "d.json", {"a": "stored"})
    fault(devserver, Fault("cut", method="GET", alias="a"))
    result = cli(devserver, "plan", str(file), "-v")
    assert result.code == 0, result.err
    assert "adopt" in result.out
    assert "(attempt 2)" in result.err


# -- retry options over the wire ------------------------------------------------------------------


def test_max_retries_flag_bounds_the_retries(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa"})
    fault(devserver, Fault(503, method="GET", alias="a", times=2, retry_after="0"))
    result = cli(devserver, "plan", str(file), "--max-retries", "1")
    assert result.code == 1
    assert f"GET {devserver.url}/v3/secrets/a failed: HTTP 503" in result.err
    assert "gave up after 2 attempts" in result.err
    fault(devserver, Fault(503, method="GET", alias="a", times=2, retry_after="0"))
    assert cli(devserver, "plan", str(file), "--max-retries", "2").code == 0


def test_rate_limiting_is_waited_out(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa", "b": "bbbb"})
    fault(devserver, Fault(429, method="POST", alias="b", times=3, retry_after="0"))
    result = apply(devserver, file, "-v")
    assert result.code == 0, result.err
    assert devserver.secrets["b"] == "bbbb"
    assert "POST /api/management/v3/secrets 429" in result.err


def test_a_500_is_not_retried(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa"})
    fault(devserver, Fault(500, method="POST", alias="a", times=5))
    result = apply(devserver, file)
    assert result.code == 1
    assert devserver.server.faults.hits == 1
    assert "HTTP 500" in result.out
    assert "a" not in devserver.secrets


def test_timeout_flag_bounds_the_wait_for_an_answer(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa"})
    fault(devserver, Fault("delay", method="GET", alias="a", delay=2.0))
    result = cli(devserver, "plan", str(file), "--timeout", "0.2", "--max-retries", "0")
    assert result.code == 1
    assert f"GET {devserver.url}/v3/secrets/a: no answer within the timeout (--timeout)" in result.err


def test_nothing_listening_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/management"
    file = write_desired(tmp_path / "d.json", {"a": "aaaa"})
    result = run_cli("plan", str(file), "--max-retries", "1", env={"EDC_MANAGEMENT_URL": url, "EDC_API_VERSION": "v3"})
    assert result.code == 1
    assert "could not connect (is the connector running and the URL right?)" in result.err
    assert "gave up after 2 attempts" in result.err
    assert url in result.err
    assert "Traceback" not in result.err


# -- partial failure ----------------------------------------------------------------------------------


def test_independent_changes_go_on_and_the_state_records_exactly_what_happened(
    devserver: Server, tmp_path: Path
) -> None:
    file = write_desired(tmp_path / "d.json", {"u-bad": "u1", "u-ok": "u2", "d-bad": "d1", "d-ok": "d2"})
    assert apply(devserver, file).code == 0
    write_desired(file, {"c-bad": "new1", "c-ok": "new2", "u-bad": "u1-new", "u-ok": "u2-new"})
    fault(
        devserver,
        Fault(400, method="POST", alias="c-bad"),
        Fault(500, method="PUT", alias="u-bad"),
        Fault(503, method="DELETE", alias="d-bad", times=2, retry_after="0"),
    )
    result = apply(devserver, file, "--max-retries", "1")
    assert result.code == 1
    lines = result.out.splitlines()
    for alias, reason in (("c-bad", "HTTP 400"), ("u-bad", "HTTP 500"), ("d-bad", "HTTP 503")):
        (line,) = [line for line in lines if f" {alias} FAILED" in line]
        assert reason in line
    assert "created c-ok" in result.out
    assert "updated u-ok" in result.out
    assert "deleted d-ok" in result.out
    (failed_line,) = [line for line in lines if line.startswith("Failed:")]
    assert set(failed_line.removeprefix("Failed:").replace(",", " ").split()) == {"c-bad", "u-bad", "d-bad"}
    assert "some changes failed" in result.err
    # The vault and the state show exactly what happened, no more, no less.
    assert devserver.secrets["c-ok"] == "new2"
    assert "c-bad" not in devserver.secrets
    assert devserver.secrets["u-ok"] == "u2-new"
    assert devserver.secrets["u-bad"] == "u1"
    assert "d-ok" not in devserver.secrets
    assert devserver.secrets["d-bad"] == "d1"
    assert managed(devserver) == {"c-ok", "u-bad", "u-ok", "d-bad"}
    # Nothing was changed behind vaultsync's back: the failures are pending changes, not drift.
    drift = cli(devserver, "drift", str(file), "--format", "json")
    assert drift.code == 0, drift.out
    assert json.loads(drift.out)["drift"] is False
    # The next run converges.
    again = apply(devserver, file)
    assert again.code == 0, again.err
    assert "created c-bad" in again.out
    assert "updated u-bad" in again.out
    assert "deleted d-bad" in again.out
    assert converged(devserver, file)
    assert managed(devserver) == {"c-bad", "c-ok", "u-bad", "u-ok"}


def test_a_state_write_that_fails_says_which_changes_were_made(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa", "b": "bbbb"})
    fault(devserver, Fault(503, method="POST", alias="vaultsync-state"))
    result = apply(devserver, file, "--max-retries", "0")
    assert result.code == 1
    assert "the state could not be recorded" in result.err
    assert "create a" in result.err and "create b" in result.err
    again = apply(devserver, file)
    assert again.code == 0, again.err
    assert managed(devserver) == {"a", "b"}
    assert devserver.secret_writes().count(("POST", "a")) == 1
    assert converged(devserver, file)


# -- garbage from the server ----------------------------------------------------------------------------

GARBAGE = [
    pytest.param(Fault("html", method="GET", alias="a"), "HTTP 502", "not EDC's JSON error format", id="proxy-html"),
    pytest.param(Fault("truncated", method="GET", alias="a"), "HTTP 200", "not JSON", id="truncated-json"),
    pytest.param(Fault("no-value", method="GET", alias="a"), "HTTP 200", 'no string "value"', id="no-value"),
    pytest.param(Fault("redirect", method="GET", alias="a"), "HTTP 302", "redirected to", id="redirect"),
    pytest.param(
        Fault(200, method="GET", alias="a", body="<html>Sign in</html>", content_type="text/html"),
        "HTTP 200",
        "not JSON",
        id="html-200",
    ),
    pytest.param(
        Fault(404, method="GET", alias="a", body="<html>Not Found</html>", content_type="text/html"),
        "HTTP 404",
        "does not serve the EDC secrets API",
        id="html-404",
    ),
    pytest.param(Fault(200, method="GET", alias="a", body='["a", "b"]'), "HTTP 200", "value", id="json-array"),
    pytest.param(
        Fault(200, method="GET", alias="a", body="[" * 100_000 + "]" * 100_000), "HTTP 200", "not JSON", id="deep"
    ),
    pytest.param(
        Fault(200, method="GET", alias="a", body='{"value": 42}'), "HTTP 200", 'no string "value"', id="number"
    ),
    pytest.param(Fault(418, method="GET", alias="a", body="\x00\xff"), "HTTP 418", "body", id="binary"),
]


@pytest.mark.parametrize(("garbage", "status", "detail"), GARBAGE)
def test_garbage_answers_are_clear_errors_naming_url_and_status(
    devserver: Server, tmp_path: Path, garbage: Fault, status: str, detail: str
) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa"})
    fault(devserver, garbage)
    result = cli(devserver, "plan", str(file), "--max-retries", "0")
    assert result.code == 1
    assert f"GET {devserver.url}/v3/secrets/a failed: {status}" in result.err
    assert detail in result.err
    assert result.err.startswith("Error: ")


@pytest.mark.parametrize("action", ["html", "redirect", "drop"])
def test_garbage_answering_one_write_fails_only_that_alias(devserver: Server, tmp_path: Path, action: str) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa", "b": "bbbb"})
    fault(devserver, Fault(action, method="POST", alias="a", times=5))
    result = apply(devserver, file, "--max-retries", "0")
    assert result.code == 1
    (line,) = [line for line in result.out.splitlines() if " a FAILED" in line]
    assert f"{devserver.url}/v3/secrets" in line
    assert "created b" in result.out
    assert managed(devserver) == {"b"}


def test_garbage_in_the_state_alias_is_refused_without_writing(devserver: Server, tmp_path: Path) -> None:
    devserver.secrets["vaultsync-state"] = "<html>oops</html>"
    file = write_desired(tmp_path / "d.json", {"a": "aaaa"})
    result = apply(devserver, file)
    assert result.code == 1
    assert "vault alias vaultsync-state" in result.err
    assert devserver.secret_writes() == []
    assert "vaultsync-lock" not in devserver.secrets  # the lock was released


def test_server_error_text_cannot_drive_the_terminal(devserver: Server, tmp_path: Path) -> None:
    file = write_desired(tmp_path / "d.json", {"a": "aaaa"})
    body = json.dumps([{"message": "bad \x1b[31mred\x1b[0m \x07 \u202eevil", "type": "ValidationFailure"}])
    fault(devserver, Fault(400, method="GET", alias="a", body=body))
    result = cli(devserver, "plan", str(file))
    assert result.code == 1
    assert "\x1b" not in result.err and "\x07" not in result.err and "\u202e" not in result.err
    assert "bad \\x1b[31mred\\x1b[0m \\x07 \\u202eevil" in result.err
