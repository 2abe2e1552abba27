"""validate's fast path (plain entries skip jsonschema) must report exactly what jsonschema reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultsync import desired
from vaultsync.desired import schema_check
from vaultsync.errors import InputError

INPUTS = Path(__file__).parent / "inputs"


def _problems(data: bytes, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a user reads for ``data``, with or without the fast path."""
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(schema_check, "_fast_checks", lambda: None)
        try:
            state = desired.parse_desired("f.json", data, env={"SET": "x"}, reserved=("vaultsync-state",))
        except InputError as exc:
            return [str(p) for p in exc.problems]
    return [f"valid: {sorted(state.secrets)}"]


def test_the_fast_path_is_written_for_the_schema_as_it_is() -> None:
    assert desired.rules_digest() == desired._FAST_RULES, (
        "the schema's rules changed: review _plain_entry/_plain_top in vaultsync/desired/schema_check.py, "
        "then set _FAST_RULES to the new rules_digest() (until then validate uses jsonschema for every entry)"
    )


@pytest.mark.parametrize("path", sorted(INPUTS.glob("*.json")), ids=lambda p: p.name)
def test_every_corpus_file_gets_the_same_messages_with_and_without_the_fast_path(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = path.read_bytes()
    assert _problems(data, fast=True, monkeypatch=monkeypatch) == _problems(data, fast=False, monkeypatch=monkeypatch)


_text = st.text(alphabet=st.sampled_from(["a", "Z", "_", "1", " ", "\n", "\t", "/", "%", ".", "\x85", "\xa0"]))
_scalar = st.one_of(_text, st.integers(-2, 2), st.booleans(), st.none(), st.floats(allow_nan=False))
_any = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_text, inner, max_size=2))
_entry = st.one_of(
    _text,
    _scalar,
    st.dictionaries(
        st.sampled_from(["value", "fromEnv", "fromFile", "json", "description", "other"]), _any, max_size=3
    ),
)
_alias = st.one_of(_text, st.sampled_from([".", "..", "a" * 2048, "a" * 2049, "ok-alias"]))
_target = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["url", "apiVersion", "apiKeyEnv", "apiKey"]), _scalar, max_size=3),
    st.just({"url": "http://localhost:8181/api/management", "apiVersion": "v4", "apiKeyEnv": "KEY"}),
)


@settings(max_examples=300, deadline=None)
@given(
    secrets=st.dictionaries(_alias, _entry, max_size=4),
    version=st.sampled_from([1, 1.0, True, 2, "1"]),
    target=_target,
)
def test_generated_files_get_the_same_messages_with_and_without_the_fast_path(
    secrets: dict[str, Any], version: Any, target: Any
) -> None:
    doc: dict[str, Any] = {"version": version, "secrets": secrets}
    if target is not None:
        doc["target"] = target
    data = json.dumps(doc).encode()
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert _problems(data, fast=True, monkeypatch=monkeypatch) == _problems(
            data, fast=False, monkeypatch=monkeypatch
        )
