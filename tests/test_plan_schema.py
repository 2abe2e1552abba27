"""The published JSON Schemas: what editors and CI consumers rely on.

- schemas/plan.schema.json must describe the REAL `plan --format json` output;
- schemas/desired-state.schema.json must help editors (titles, descriptions, valid examples)
  and accept the shipped example through a plain validator, found through its ``$schema``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY, Server, run_cli, write_desired
from jsonschema import Draft202012Validator

from vaultsync.devserver import DevServer

ROOT = Path(__file__).resolve().parent.parent
PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text("utf-8"))
DESIRED_SCHEMA = json.loads((ROOT / "schemas" / "desired-state.schema.json").read_text("utf-8"))
ANNOTATIONS = ("title", "description", "examples")


def plan_json(*args: str, env: dict[str, str]) -> dict[str, Any]:
    result = run_cli("plan", *args, "--format", "json", env=env)
    assert result.code in (0, 2), result.err
    assert CANARY not in result.both
    doc: dict[str, Any] = json.loads(result.out)
    return doc


def schema_errors(doc: Any) -> list[str]:
    validator = Draft202012Validator(PLAN_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def undocumented(doc: Any, schema: dict[str, Any], where: str = "") -> Iterator[str]:
    """Fields the output has that the schema does not describe (the schema allows them, readers need them)."""
    schema = _deref(schema)
    if isinstance(doc, dict):
        props = schema.get("properties", {})
        for key, value in doc.items():
            if key not in props:
                yield f"{where}.{key}"
            else:
                yield from undocumented(value, props[key], f"{where}.{key}")
    elif isinstance(doc, list) and "items" in schema:
        for i, item in enumerate(doc):
            yield from undocumented(item, schema["items"], f"{where}[{i}]")


def _deref(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        schema = PLAN_SCHEMA["$defs"][name]
    return schema


def assert_valid_plan(doc: dict[str, Any]) -> None:
    assert schema_errors(doc) == []
    assert list(undocumented(doc, PLAN_SCHEMA)) == []


# -- the plan schema against real output ---------------------------------------------------------


def test_the_plan_schema_is_a_valid_2020_12_schema() -> None:
    assert PLAN_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(PLAN_SCHEMA)
    assert schema_errors(PLAN_SCHEMA["examples"][0]) == []


def test_a_first_plan_of_creates_matches_the_schema(devserver: Server, tmp_path: Path) -> None:
    path = write_desired(tmp_path / "s.json", {"a": CANARY, "b": {"json": {"k": CANARY}}, "c": {"value": CANARY}})
    doc = plan_json(str(path), env={"EDC_MANAGEMENT_URL": devserver.url})
    assert_valid_plan(doc)
    assert doc["summary"] == {"create": 3, "update": 0, "delete": 0, "conflict": 0, "unchanged": 0}


def test_a_plan_with_every_kind_of_change_matches_the_schema(devserver: Server, tmp_path: Path) -> None:
    env = {"EDC_MANAGEMENT_URL": devserver.url}
    path = write_desired(
        tmp_path / "s.json",
        {"keep": "k1", "doc": {"json": {"a": 1, "b": 2}}, "old": "o", "vanished": "v"},
    )
    assert run_cli("apply", str(path), "--auto-approve", env=env).code == 0
    del devserver.secrets["vanished"]  # deleted behind vaultsync's back: forgotten from state
    devserver.secrets["same"] = CANARY  # unmanaged, same value: adopted
    devserver.secrets["clash"] = "theirs"  # unmanaged, other value: conflict
    write_desired(
        tmp_path / "s.json",
        {"keep": "k1", "doc": {"json": {"a": 1, "b": 3}}, "new": CANARY, "same": CANARY, "clash": CANARY},
    )

    doc = plan_json(str(path), env=env)

    assert_valid_plan(doc)
    actions = {c["alias"]: c for c in doc["changes"]}
    assert {a: c["action"] for a, c in actions.items()} == {
        "clash": "conflict",
        "doc": "update",
        "keep": "no-op",
        "new": "create",
        "old": "delete",
        "same": "no-op",
        "vanished": "no-op",
    }
    assert actions["same"]["adopt"] is True and actions["vanished"]["forget"] is True
    assert "root['b']" in actions["doc"]["note"]
    assert doc["summary"] == {"create": 1, "update": 1, "delete": 1, "conflict": 1, "unchanged": 3}
    (target,) = doc["targets"]
    assert len(target["warnings"]) == 2  # the delete and the conflict


def test_an_adopting_plan_matches_the_schema(devserver: Server, tmp_path: Path) -> None:
    devserver.secrets["clash"] = "theirs"
    path = write_desired(tmp_path / "s.json", {"clash": CANARY})
    doc = plan_json(str(path), "--adopt", env={"EDC_MANAGEMENT_URL": devserver.url})
    assert_valid_plan(doc)
    assert doc["changes"] == [{"alias": "clash", "action": "update", "adopt": True, "note": "adopted (--adopt)"}]


def test_a_mass_deletion_plan_matches_the_schema(devserver: Server, tmp_path: Path) -> None:
    env = {"EDC_MANAGEMENT_URL": devserver.url}
    path = write_desired(tmp_path / "s.json", {f"s{i}": f"v{i}" for i in range(3)})
    assert run_cli("apply", str(path), "--auto-approve", env=env).code == 0
    write_desired(path, {})
    doc = plan_json(str(path), env=env)
    assert_valid_plan(doc)
    assert doc["summary"]["delete"] == 3
    assert any("deletes all 3" in w for w in doc["targets"][0]["warnings"])


def test_a_multi_file_plan_matches_the_schema(devserver: Server, tmp_path: Path) -> None:
    other = DevServer("127.0.0.1", 0)
    other.start_background()
    try:
        other.secrets["x"] = "theirs"
        a = write_desired(tmp_path / "a.json", {"a": CANARY}, target={"url": devserver.url})
        b = write_desired(tmp_path / "b.json", {"x": CANARY, "y": "2"}, target={"url": other.url, "apiVersion": "v4"})
        doc = plan_json(str(a), str(b), env={})
    finally:
        other.stop()
    assert_valid_plan(doc)
    assert [(t["file"], t["url"], t["api_version"]) for t in doc["targets"]] == [
        (str(a), devserver.url, "v4"),  # no apiVersion: auto, and the dev-server serves v4
        (str(b), other.url, "v4"),
    ]
    assert doc["summary"] == {"create": 2, "update": 0, "delete": 0, "conflict": 1, "unchanged": 0}


@pytest.mark.parametrize(
    "broken",
    [
        {"format_version": "2"},
        {"changes": [{"alias": "a", "action": "replace"}]},
        {"changes": [{"action": "create"}]},
        {"summary": {"create": 1}},
        {"targets": []},
    ],
)
def test_the_schema_rejects_documents_a_consumer_could_not_read(broken: dict[str, Any]) -> None:
    doc = {**PLAN_SCHEMA["examples"][0], **broken}
    assert schema_errors(doc) != []


# -- the desired-state schema, as an editor uses it --------------------------------------------------


def _properties(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every named property of every object in the schema, with its path."""
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            yield f"{where}.{name}", sub
        for key, sub in schema.items():
            if key != "examples":
                yield from _properties(sub, f"{where}/{key}")
    elif isinstance(schema, list):
        for sub in schema:
            yield from _properties(sub, where)


def _with_examples(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        if "examples" in schema:
            yield where or "(root)", schema
        for key, sub in schema.items():
            if key not in ("examples", "properties"):
                yield from _with_examples(sub, f"{where}/{key}")
        for name, sub in schema.get("properties", {}).items():
            yield from _with_examples(sub, f"{where}.{name}")


@pytest.mark.parametrize("schema", [DESIRED_SCHEMA, PLAN_SCHEMA], ids=["desired-state", "plan"])
def test_every_property_has_a_title_description_and_examples_for_editor_tooltips(schema: dict[str, Any]) -> None:
    missing = []
    for where, sub in _properties(schema):
        if sub.get("not") == {}:  # a refused key (target.apiKey): documented, but an example would be wrong
            wanted: tuple[str, ...] = ("title", "description")
        elif "$ref" in sub and "examples" in _deref_any(schema, sub["$ref"]):
            wanted = ("title", "description")
        else:
            wanted = ANNOTATIONS
        missing += [f"{where}: {a}" for a in wanted if a not in sub]
    assert missing == []


def _deref_any(root: dict[str, Any], ref: str) -> dict[str, Any]:
    sub: dict[str, Any] = root["$defs"][ref.removeprefix("#/$defs/")]
    return sub


@pytest.mark.parametrize("schema", [DESIRED_SCHEMA, PLAN_SCHEMA], ids=["desired-state", "plan"])
def test_every_example_in_the_schemas_is_valid_where_it_stands(schema: dict[str, Any]) -> None:
    root = Draft202012Validator(schema)
    invalid = []
    for where, sub in _with_examples(schema):
        validator = root.evolve(schema={**sub, "$defs": schema.get("$defs", {})})
        invalid += [f"{where}: {example!r}" for example in sub["examples"] if not validator.is_valid(example)]
    assert invalid == []


def test_the_example_connector_file_validates_with_a_plain_validator_found_through_its_schema_key() -> None:
    example = ROOT / "examples" / "connector.json"
    doc = json.loads(example.read_text("utf-8"))
    schema_path = (example.parent / doc["$schema"]).resolve()
    # What an editor does: follow $schema relative to the file, then validate with stock jsonschema.
    assert schema_path.is_file(), f"$schema {doc['$schema']} does not resolve from {example.parent}"
    schema = json.loads(schema_path.read_text("utf-8"))
    assert schema == DESIRED_SCHEMA
    assert schema_path.samefile(ROOT / "vaultsync" / "schemas" / "desired-state.schema.json")  # the shipped one
    Draft202012Validator(schema).validate(doc)


def test_the_example_connector_file_is_valid_for_vaultsync_too() -> None:
    env = {"PROVIDER_OAUTH_CLIENT_SECRET": CANARY}
    result = run_cli("validate", str(ROOT / "examples" / "connector.json"), env=env)
    assert result.code == 0, result.err
    assert "valid (4 secrets)" in result.out


def test_a_plain_validator_rejects_what_vaultsync_rejects() -> None:
    """Editors underline the same mistakes vaultsync refuses, using only the schema."""
    validator = Draft202012Validator(DESIRED_SCHEMA)
    bad = [
        {"version": 1, "secrets": {"s3": {"accessKeyId": "x", "secretAccessKey": "y"}}},
        {"version": 1, "secrets": {"a": {"value": {"nested": True}}}},
        {"version": 1, "secrets": {"a": "  "}},
        {"version": 1, "secrets": {"a/b": "x"}},
        {"version": 1, "secrets": {}, "target": {"apiKey": "k"}},
        {"version": 2, "secrets": {}},
        {"version": 1, "secrets": {}, "extra": 1},
    ]
    assert [validator.is_valid(doc) for doc in bad] == [False] * len(bad)
    assert validator.is_valid({"$schema": "x", "version": 1, "secrets": {"a": {"json": {"k": [1]}}}})
