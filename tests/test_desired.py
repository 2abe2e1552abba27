"""Desired-state validation: every rejection the spec lists, reported as ``path: message``, never quoting a value."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY

from vaultsync.desired import load_desired, parse_desired, schema
from vaultsync.errors import InputError
from vaultsync.model import canonical_json

RESERVED = ("vaultsync-state", "vaultsync-lock")


def doc(secrets: Any, **extra: Any) -> bytes:
    return json.dumps({"version": 1, "secrets": secrets, **extra}).encode()


def problems(data: bytes, *, env: dict[str, str] | None = None, reserved: tuple[str, ...] = RESERVED) -> list[str]:
    """The problem lines a user sees for ``data``, as ``path: message``; fails if the file is accepted."""
    with pytest.raises(InputError) as info:
        parse_desired("d.json", data, env=env or {}, reserved=reserved)
    lines = [str(p) for p in info.value.problems]
    assert str(info.value) == "\n".join(lines)
    return lines


def only_problem(data: bytes, **kw: Any) -> str:
    lines = problems(data, **kw)
    assert len(lines) == 1, lines
    return lines[0]


# -- accepted -------------------------------------------------------------------------------------


def test_every_entry_form_of_the_spec_example_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "tls.pem").write_bytes(b"-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
    data = doc(
        {
            "plain-alias": "a literal string value",
            "oauth-client": {"value": "another value", "description": "for people"},
            "from-ci": {"fromEnv": "CLIENT_SECRET"},
            "tls-key": {"fromFile": "keys/tls.pem"},
            "aws-s3": {"json": {"secretAccessKey": "s", "edctype": "dataspaceconnector:secrettoken", "n": [1, 2.5]}},
        },
        **{"$schema": "./schemas/desired-state.schema.json"},
    )
    state = parse_desired("d.json", data, env={"CLIENT_SECRET": "from the env"}, reserved=RESERVED, base_dir=tmp_path)
    values = {a: (s.kind, s.value) for a, s in state.secrets.items()}
    assert values == {
        "plain-alias": ("value", "a literal string value"),
        "oauth-client": ("value", "another value"),
        "from-ci": ("fromEnv", "from the env"),
        "tls-key": ("fromFile", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"),  # exact bytes, newline kept
        "aws-s3": ("json", '{"edctype":"dataspaceconnector:secrettoken","n":[1,2.5],"secretAccessKey":"s"}'),
    }
    assert state.secrets["oauth-client"].description == "for people"


def test_json_entry_is_stored_as_the_spec_canonical_serialization() -> None:
    document = {"b": "ü", "a": {"y": True, "x": None}}
    state = parse_desired("d.json", doc({"j": {"json": document}}), env={}, reserved=RESERVED)
    expected = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert state.secrets["j"].value == expected == canonical_json(document)


def test_json_number_too_large_for_a_float_is_refused() -> None:
    # Python reads 1e999 as infinity, which json.dumps writes as "Infinity": not JSON, so never stored.
    line = only_problem(b'{"version": 1, "secrets": {"a": {"json": {"n": [1e999]}}}}')
    assert line.startswith("d.json: secrets.a.json: ")
    assert "too large" in line


def test_target_settings_are_read_from_the_file() -> None:
    target = {"url": "http://localhost:8181/api/management", "apiVersion": "v4", "apiKeyEnv": "PROVIDER_KEY"}
    state = parse_desired("d.json", doc({"a": "x"}, target=target), env={}, reserved=RESERVED)
    assert (state.target.url, state.target.api_version, state.target.api_key_env) == (
        "http://localhost:8181/api/management",
        "v4",
        "PROVIDER_KEY",
    )


def test_values_never_show_in_repr() -> None:
    state = parse_desired("d.json", doc({"a": CANARY}), env={}, reserved=RESERVED)
    assert CANARY not in repr(state)


def test_load_desired_resolves_from_file_relative_to_the_desired_file(tmp_path: Path, monkeypatch: Any) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "key.txt").write_text("in the folder", encoding="utf-8")
    (folder / "d.json").write_bytes(doc({"k": {"fromFile": "key.txt"}}))
    monkeypatch.chdir(tmp_path)  # not the file's folder
    state = load_desired("conf/d.json", env={}, reserved=RESERVED)
    assert state.secrets["k"].value == "in the folder"


# -- rejected: syntax ---------------------------------------------------------------------------


def test_invalid_json_names_line_and_column() -> None:
    line = only_problem(b'{"version": 1,\n  "secrets": {"a": "x",}\n}')
    assert line.startswith("d.json:2:")
    assert "invalid JSON" in line


def test_duplicate_alias_is_refused() -> None:
    line = only_problem(b'{"version": 1, "secrets": {"a": "x", "b": "y", "a": "z"}}')
    assert line.startswith("d.json: secrets: ")
    assert 'duplicate alias "a"' in line


def test_empty_file_and_missing_file_are_explained(tmp_path: Path) -> None:
    assert "file is empty" in only_problem(b"  \n")
    with pytest.raises(InputError, match="no such file"):
        load_desired(str(tmp_path / "absent.json"), env={}, reserved=RESERVED)


def test_file_that_is_not_utf8_is_refused() -> None:
    assert "not valid UTF-8" in only_problem(b'{"version": 1, "secrets": {"a": "\xff"}}')


# -- rejected: values that are not strings --------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        {"value": {"accessKeyId": "AKIA", "secretAccessKey": CANARY}},
        {"value": [CANARY]},
        {"value": 42},
        {"value": True},
        {"value": None},
    ],
    ids=["object", "array", "number", "boolean", "null"],
)
def test_nested_value_names_the_alias_and_points_at_json(entry: dict[str, Any]) -> None:
    line = only_problem(doc({"aws-s3": entry}))
    assert line.startswith("d.json: secrets.aws-s3.value: ")
    assert "strings only" in line
    assert '{"json": ...}' in line
    assert CANARY not in line


@pytest.mark.parametrize("entry", [42, 1.5, True, None, [CANARY]], ids=["int", "float", "bool", "null", "array"])
def test_entry_that_is_not_a_string_or_entry_object_is_refused(entry: Any) -> None:
    line = only_problem(doc({"plain": entry}))
    assert line.startswith("d.json: secrets.plain: ")
    assert "strings only" in line
    assert '{"json": ...}' in line
    assert CANARY not in line


def test_raw_s3_credentials_object_is_refused_with_the_json_hint() -> None:
    raw = {"edctype": "dataspaceconnector:secrettoken", "accessKeyId": "AKIA", "secretAccessKey": CANARY}
    line = only_problem(doc({"aws-s3": raw}))
    assert line.startswith("d.json: secrets.aws-s3: ")
    assert "strings only" in line
    assert '{"json": {...}}' in line
    assert '"secretAccessKey"' in line  # names the unexpected keys...
    assert CANARY not in line  # ...never their values


def test_entry_object_with_an_extra_key_beside_value_is_refused() -> None:
    line = only_problem(doc({"a": {"value": "x", "comment": "y"}}))
    assert line.startswith("d.json: secrets.a: ")
    assert '"comment"' in line


@pytest.mark.parametrize(
    "entry", [{"value": "x", "fromEnv": "X"}, {"description": "only a description"}], ids=["two", "none"]
)
def test_entry_object_needs_exactly_one_source(entry: dict[str, Any]) -> None:
    assert "exactly one of value, fromEnv, fromFile, json, fromSops, fromCommand or generate" in only_problem(
        doc({"a": entry})
    )


@pytest.mark.parametrize("entry", ["", "   ", "\t\n", {"value": ""}, {"value": "  "}])
def test_empty_or_blank_value_is_refused(entry: Any) -> None:
    line = only_problem(doc({"a": entry}))
    assert line.startswith("d.json: secrets.a")
    assert "EDC refuses an empty or blank value" in line


# -- rejected: aliases ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "shown"),
    [
        ("", 'secrets[""]'),
        ("   ", 'secrets["   "]'),
        ("a/b", 'secrets["a/b"]'),
        ("a b", 'secrets["a b"]'),
        ("tab\there", 'secrets["tab\\there"]'),
        ("nl\nhere", 'secrets["nl\\nhere"]'),
        ("ctl\x01", 'secrets["ctl\\u0001"]'),
        ("del\x7f", 'secrets["del\\u007f"]'),
        (".", 'secrets["."]'),
        ("..", 'secrets[".."]'),
    ],
)
def test_unusable_alias_is_refused(alias: str, shown: str) -> None:
    line = only_problem(doc({alias: "x", "fine": "y"}))
    assert line.startswith(f"d.json: {shown}: ")
    assert "alias" in line


@pytest.mark.parametrize("alias", ["vaultsync-state", "vaultsync-lock"])
def test_default_reserved_aliases_are_refused(alias: str) -> None:
    line = only_problem(doc({alias: "x"}))
    assert line.startswith(f"d.json: secrets.{alias}: ")
    assert "reserved" in line


def test_reserved_aliases_follow_state_alias_and_lock_alias() -> None:
    reserved = ("team-state", "team-lock")
    lines = problems(doc({"team-state": "x", "team-lock": "y", "vaultsync-state": "z"}), reserved=reserved)
    assert sorted(line.split(": ")[1] for line in lines) == ["secrets.team-lock", "secrets.team-state"]


def test_unusual_but_valid_aliases_are_accepted() -> None:
    aliases = ["a:b", "ü-key", "dots.and_underscores", "edc.connector.private.key", "x" * 300]
    state = parse_desired("d.json", doc({a: "v" for a in aliases}), env={}, reserved=RESERVED)
    assert sorted(state.secrets) == sorted(aliases)


def test_dot_aliases_are_refused_because_url_paths_resolve_them() -> None:
    line = only_problem(doc({"..": "x"}))
    assert "parent folder" in line
    assert parse_desired("d.json", doc({"...": "x", ".hidden": "y"}), env={}, reserved=RESERVED).secrets


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ('{"a": "x\\ud800y"}', "secrets.a"),
        ('{"a": {"value": "\\udfff"}}', "secrets.a.value"),
        ('{"a": {"json": {"k": ["\\ud800"]}}}', "secrets.a.json.k[0]"),
        ('{"a\\ud800": "x"}', 'secrets["a\\ud800"]'),
    ],
)
def test_unpaired_surrogate_escapes_are_refused(text: str, place: str) -> None:
    # JSON allows "\ud800"; it decodes to a string that cannot be encoded as UTF-8 for the request.
    data = b'{"version": 1, "secrets": ' + text.encode() + b"}"
    line = only_problem(data)
    assert line.startswith(f"d.json: {place}: ")
    assert "surrogate" in line


def test_surrogate_pairs_are_ordinary_text() -> None:
    data = b'{"version": 1, "secrets": {"emoji": "\\ud83d\\ude00"}}'
    assert parse_desired("d.json", data, env={}, reserved=RESERVED).secrets["emoji"].value == "\U0001f600"


def test_from_env_that_is_not_utf8_is_refused() -> None:
    # os.environ turns undecodable bytes into lone surrogates (surrogateescape)
    line = only_problem(doc({"a": {"fromEnv": "LATIN1"}}), env={"LATIN1": "caf\udce9"})
    assert line == "d.json: secrets.a.fromEnv: environment variable LATIN1 is not valid UTF-8 text"


# -- rejected: references ----------------------------------------------------------------------------


def test_unset_from_env_is_refused() -> None:
    line = only_problem(doc({"a": {"fromEnv": "NOT_SET_ANYWHERE"}}), env={"OTHER": "x"})
    assert line == "d.json: secrets.a.fromEnv: environment variable NOT_SET_ANYWHERE is not set"


def test_empty_from_env_is_refused() -> None:
    line = only_problem(doc({"a": {"fromEnv": "EMPTY"}}), env={"EMPTY": " "})
    assert "EMPTY is empty" in line


def test_from_env_must_be_a_variable_name() -> None:
    assert "environment variable name" in only_problem(doc({"a": {"fromEnv": "1BAD-NAME"}}))


def test_missing_from_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        parse_desired("d.json", doc({"a": {"fromFile": "nope.pem"}}), env={}, reserved=RESERVED, base_dir=tmp_path)
    assert str(info.value) == f'd.json: secrets.a.fromFile: file "nope.pem" does not exist (looked in {tmp_path})'


def test_from_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        parse_desired("d.json", doc({"a": {"fromFile": "keys"}}), env={}, reserved=RESERVED, base_dir=tmp_path)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_from_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "locked.pem"
    secret.write_text("x", encoding="utf-8")
    secret.chmod(0)
    with pytest.raises(InputError, match="cannot read"):
        parse_desired("d.json", doc({"a": {"fromFile": "locked.pem"}}), env={}, reserved=RESERVED, base_dir=tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_from_file_that_is_a_pipe_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="not a regular file"):
        parse_desired("d.json", doc({"a": {"fromFile": "pipe"}}), env={}, reserved=RESERVED, base_dir=tmp_path)


def test_from_file_path_with_a_nul_character_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a usable file path"):
        parse_desired("d.json", doc({"a": {"fromFile": "a\x00b"}}), env={}, reserved=RESERVED, base_dir=tmp_path)


def test_non_utf8_from_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes(CANARY.encode() + b"\xe9t\xe9")
    with pytest.raises(InputError) as info:
        parse_desired("d.json", doc({"a": {"fromFile": "latin1.txt"}}), env={}, reserved=RESERVED, base_dir=tmp_path)
    assert "not valid UTF-8" in str(info.value)
    assert CANARY not in str(info.value)


def test_blank_from_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "blank.txt").write_text(" \n", encoding="utf-8")
    with pytest.raises(InputError, match="empty or blank"):
        parse_desired("d.json", doc({"a": {"fromFile": "blank.txt"}}), env={}, reserved=RESERVED, base_dir=tmp_path)


# -- rejected: top level and target ------------------------------------------------------------------


def test_unknown_top_level_key_is_refused() -> None:
    line = only_problem(doc({"a": "x"}, secret={"b": "y"}))
    assert "unknown top-level key" in line
    assert '"secret"' in line


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_unknown_version_is_refused(version: Any) -> None:
    data = json.dumps({"version": version, "secrets": {"a": "x"}}).encode()
    assert only_problem(data) == "d.json: version: unsupported format version; this vaultsync reads version 1"


@pytest.mark.parametrize(
    ("data", "missing"),
    [(b'{"secrets": {}}', "version"), (b'{"version": 1}', "secrets")],
)
def test_missing_required_key_is_named(data: bytes, missing: str) -> None:
    assert f'"{missing}"' in only_problem(data)


@pytest.mark.parametrize("data", [b"[]", b'"x"', b'{"version": 1, "secrets": []}'])
def test_wrong_shapes_are_refused(data: bytes) -> None:
    problems(data)


def test_api_key_in_target_is_refused_saying_keys_never_belong_in_the_file() -> None:
    line = only_problem(doc({"a": "x"}, target={"apiKey": CANARY}))
    assert line.startswith("d.json: target.apiKey: ")
    assert "never belong in the desired-state file" in line
    assert "apiKeyEnv" in line
    assert CANARY not in line


def test_unknown_key_in_target_is_refused() -> None:
    line = only_problem(doc({"a": "x"}, target={"url": "http://localhost:1/api", "apiToken": "t"}))
    assert line.startswith("d.json: target: ")
    assert '"apiToken"' in line


@pytest.mark.parametrize(
    ("target", "place"),
    [
        ({"apiVersion": "v5"}, "target.apiVersion"),
        ({"url": "ftp://host/api"}, "target.url"),
        ({"apiKeyEnv": "not a name"}, "target.apiKeyEnv"),
    ],
)
def test_bad_target_values_are_refused(target: dict[str, str], place: str) -> None:
    assert only_problem(doc({"a": "x"}, target=target)).startswith(f"d.json: {place}: ")


# -- every problem at once, no value anywhere --------------------------------------------------------


def test_every_problem_is_reported_in_one_run_without_any_value(tmp_path: Path) -> None:
    (tmp_path / "bin.key").write_bytes(b"\xff\xfe" + CANARY.encode())
    secrets = {
        "nested": {"value": {"secret": CANARY}},
        "raw-s3": {"accessKeyId": CANARY, "secretAccessKey": CANARY},
        "number": 7,
        "blank": " ",
        "": CANARY,
        "a/b": CANARY,
        "vaultsync-lock": CANARY,
        "unset": {"fromEnv": "UNSET_VAR"},
        "bad-file": {"fromFile": "bin.key"},
        "good": CANARY,
    }
    data = doc(secrets, target={"apiKey": CANARY}, extra=CANARY)
    with pytest.raises(InputError) as info:
        parse_desired("d.json", data, env={}, reserved=RESERVED, base_dir=tmp_path)
    places = [p.where for p in info.value.problems]
    assert places == [
        "d.json: (top level)",
        'd.json: secrets[""]',
        'd.json: secrets["a/b"]',
        "d.json: secrets.blank",
        "d.json: secrets.nested.value",
        "d.json: secrets.number",
        "d.json: secrets.raw-s3",
        "d.json: target.apiKey",
        "d.json: secrets.vaultsync-lock",
        "d.json: secrets.unset.fromEnv",
        "d.json: secrets.bad-file.fromFile",
    ]
    assert CANARY not in str(info.value)


def test_invalid_json_error_never_quotes_the_text_around_it() -> None:
    line = only_problem(b'{"version": 1, "secrets": {"a": "' + CANARY.encode() + b'" "b": "c"}}')
    assert "invalid JSON" in line
    assert CANARY not in line


# -- the schema file itself --------------------------------------------------------------------------


def test_schema_is_a_valid_2020_12_schema_and_its_examples_validate() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    entry_validator = Draft202012Validator({"$defs": schema()["$defs"], "$ref": "#/$defs/entry"})
    for example in schema()["$defs"]["entry"]["examples"]:
        assert entry_validator.is_valid(example), example


def test_top_level_schema_symlink_is_the_packaged_schema() -> None:
    root = Path(__file__).resolve().parent.parent
    shipped = json.loads((root / "schemas" / "desired-state.schema.json").read_text("utf-8"))
    assert shipped == schema()


def test_schema_messages_never_come_from_jsonschema() -> None:
    # jsonschema's own messages quote the instance ("'CANARY...' is not of type ..."): only ours may show.
    line = only_problem(doc({"a": {"value": 12345678}}))
    assert "12345678" not in line
    assert "is not of type" not in line
