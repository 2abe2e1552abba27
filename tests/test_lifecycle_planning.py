"""The lifecycle planner and its helpers, as pure functions: (desired, vault, state, selection) -> plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultsync.errors import InputError
from vaultsync.lifecycle import files
from vaultsync.lifecycle.execute import materialize
from vaultsync.lifecycle.generate import CHARSETS, comparable, new_value
from vaultsync.lifecycle.planning import aliases_to_read, plan, protected_problems
from vaultsync.lifecycle.record import next_flags
from vaultsync.lifecycle.selection import Selection
from vaultsync.model import DesiredSecret, DesiredState, GenerateSpec, Move
from vaultsync.plan import Action, Change, Plan
from vaultsync.state import StateRecord

GEN = GenerateSpec(32)


def lit(alias: str, value: str, protect: bool = False) -> DesiredSecret:
    return DesiredSecret(alias, "value", value, protect=protect)


def gen(alias: str) -> DesiredSecret:
    return DesiredSecret(alias, "generate", "", generate=GEN)


def state_of(*secrets: DesiredSecret, moved: tuple[Move, ...] = ()) -> DesiredState:
    return DesiredState("d.json", {s.alias: s for s in secrets}, moved=moved)


def record(*managed: str, protected: frozenset[str] = frozenset()) -> StateRecord:
    return StateRecord("lineage", 1, {a: "" for a in managed}, protected)


def actions(p: Plan) -> dict[str, str]:
    return {c.alias: str(c.action) for c in p.changes}


@pytest.mark.parametrize(
    ("stored", "managed", "action", "adopt"),
    [
        (None, False, Action.CREATE, False),  # created once
        ("anything", True, Action.NOOP, False),  # never compared afterwards
        ("anything", False, Action.NOOP, True),  # present unmanaged: adopted, not overwritten
    ],
)
def test_generated_entries_are_created_once_and_never_compared(
    stored: str | None, managed: bool, action: Action, adopt: bool
) -> None:
    p = plan(state_of(gen("g")), {"g": stored}, record(*(["g"] if managed else [])))
    (change,) = p.changes
    assert (change.action, change.adopt, change.generated) == (action, adopt, action is Action.CREATE)


def test_replace_forces_an_update_and_a_new_value_for_generated() -> None:
    desired = state_of(lit("a", "v"), gen("g"), lit("c", "v"))
    p = plan(desired, {"a": "v", "g": "x", "c": "v"}, record("a", "g", "c"), Selection(replace=("a", "g")))
    by_alias = {c.alias: c for c in p.changes}
    assert by_alias["a"].action is Action.UPDATE and not by_alias["a"].generated
    assert by_alias["g"].action is Action.UPDATE and by_alias["g"].generated
    assert by_alias["c"].action is Action.NOOP


def test_materialize_makes_values_only_for_what_the_plan_writes() -> None:
    secrets = {"g": gen("g"), "h": gen("h")}
    p = Plan((Change("g", Action.CREATE, generated=True), Change("h", Action.NOOP, True)))
    out = materialize(secrets, p)
    assert len(out["g"].value) == 32 and out["h"].value == ""


@pytest.mark.parametrize("charset", sorted(CHARSETS))
def test_new_values_are_random_and_from_their_charset(charset: str) -> None:
    values = {new_value(GenerateSpec(64, charset)) for _ in range(20)}
    assert len(values) == 20 and all(set(v) <= set(CHARSETS[charset]) and len(v) == 64 for v in values)


def test_a_generate_recipe_never_compares_equal_to_a_literal() -> None:
    assert comparable(gen("g")) != comparable(lit("g", "generate:32:alphanumeric"))
    assert comparable(gen("g")) == comparable(gen("g"))


MOVE = (Move("old", "new", "d.json: moved[0]"),)


@pytest.mark.parametrize(
    ("vault", "managed", "expected"),
    [
        # the rename: old managed and present, new absent
        ({"old": "v", "new": None}, ("old",), {"new": "move"}),
        # interrupted after the POST (new not yet recorded, or recorded): finish it
        ({"old": "v", "new": "v"}, ("old",), {"new": "move"}),
        ({"old": "v", "new": "v"}, ("old", "new"), {"new": "move"}),
        # done: the entry may stay in the file
        ({"old": None, "new": "v"}, ("new",), {"new": "no-op"}),
        ({"old": None, "new": "v"}, ("old", "new"), {"new": "no-op", "old": "no-op"}),
        # the new alias exists unmanaged with another value, or the old one is not ours
        ({"old": "v", "new": "other"}, ("old",), {"new": "conflict"}),
        ({"old": "v", "new": None}, (), {"new": "conflict"}),
        # done long ago; someone made an unrelated alias of the old name since: not ours, not a conflict
        ({"old": "x", "new": "v"}, ("new",), {"new": "no-op"}),
    ],
)
def test_renames(vault: dict[str, str | None], managed: tuple[str, ...], expected: dict[str, str]) -> None:
    desired = state_of(lit("new", "v"), moved=MOVE)
    assert actions(plan(desired, vault, record(*managed))) == expected


def test_a_rename_to_another_value_rewrites_and_a_resumed_one_only_deletes() -> None:
    desired = state_of(lit("new", "desired"), moved=MOVE)
    (fresh,) = plan(desired, {"old": "v", "new": None}, record("old")).changes
    assert (fresh.source, fresh.rewrite, fresh.resume) == ("old", True, False)
    (resumed,) = plan(desired, {"old": "v", "new": "v"}, record("old", "new")).changes
    assert resumed.resume and resumed.rewrite  # the new alias holds the old value: one PUT of the desired one


def test_protected_aliases_are_named_when_deleted_or_renamed_away() -> None:
    rec = record("gone", "old", protected=frozenset({"gone", "old"}))
    p = plan(state_of(lit("new", "v"), moved=MOVE), {"gone": "x", "old": "v", "new": None}, rec)
    assert protected_problems(p, rec) == ["gone (deleted: it is no longer in the file)", "old (renamed to new)"]


def test_targeting_plans_only_the_selected_aliases_and_keeps_other_flags() -> None:
    desired = state_of(lit("provider-a", "1", protect=True), lit("consumer-a", "2"))
    rec = record("provider-old", "consumer-old", protected=frozenset({"consumer-old"}))
    sel = Selection(targets=("provider-*",))
    assert aliases_to_read(desired, rec, sel) == ["provider-a", "provider-old"]
    p = plan(desired, {"provider-a": None, "provider-old": "x"}, rec, sel)
    assert actions(p) == {"provider-a": "create", "provider-old": "delete"}
    assert p.managed_before == 2  # the mass-deletion guard counts everything managed
    after = {"provider-a": "", "consumer-old": ""}
    assert next_flags(rec, after, desired.secrets, p) == (frozenset({"provider-a", "consumer-old"}), frozenset())


def test_excludes_win_and_renames_match_by_their_new_alias() -> None:
    desired = state_of(lit("new", "v"), moved=MOVE)
    assert actions(plan(desired, {"old": "v", "new": None}, record("old"), Selection(targets=("old",)))) == {}
    assert actions(plan(desired, {"old": "v", "new": None}, record("old"), Selection(excludes=("n*",)))) == {}
    assert actions(plan(desired, {"old": "v", "new": None}, record("old"), Selection(targets=("new",)))) == {
        "new": "move"
    }


def test_merge_names_both_files_for_a_duplicate() -> None:
    a = DesiredState("a.json", {"x": lit("x", "1")})
    b = DesiredState("b.json", {"x": lit("x", "2"), "y": lit("y", "3")})
    with pytest.raises(InputError) as info:
        files.merge([a, b])
    assert [str(p) for p in info.value.problems] == [
        'b.json: secrets.x: alias "x" is also defined in a.json: files for one connector are merged, '
        "so each alias must be defined in only one of them"
    ]
    merged = files.merge([a, DesiredState("b.json", {"y": lit("y", "3")}, moved=MOVE)])
    assert merged.paths == ("a.json", "b.json") and set(merged.secrets) == {"x", "y"} and merged.moved == MOVE


def test_move_rules() -> None:
    bad = state_of(
        lit("a", "1"), moved=(Move("a", "b", "d.json: moved[0]"), Move("vaultsync-state", "a", "d.json: moved[1]"))
    )
    messages = [str(p) for p in files.move_problems(bad, ("vaultsync-state", "vaultsync-lock"))]
    assert any('moved[0].from: "a" is still in secrets' in m for m in messages)
    assert any('moved[0].to: "b" is not in secrets' in m for m in messages)
    assert any("moved[1].from" in m and "reserved" in m for m in messages)


def test_expand_reads_directories_sorted_and_once(tmp_path: Path) -> None:
    for name in ("b.json", "a.json", "c.txt"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.json").write_text("{}")
    assert files.expand([str(tmp_path), str(tmp_path / "a.json")]) == [
        str(tmp_path / "a.json"),
        str(tmp_path / "b.json"),
    ]


def test_replace_must_name_a_desired_alias_inside_the_targeting() -> None:
    from vaultsync.errors import UsageError
    from vaultsync.lifecycle.selection import check_replace

    desired = [state_of(lit("provider-a", "1"), lit("consumer-a", "2"))]
    check_replace(Selection(targets=("provider-*",), replace=("provider-a",)), desired)
    with pytest.raises(UsageError, match="not in the desired state: nope"):
        check_replace(Selection(replace=("nope",)), desired)
    with pytest.raises(UsageError, match="outside --target 'provider-\\*': consumer-a"):
        check_replace(Selection(targets=("provider-*",), replace=("consumer-a",)), desired)


def test_a_saved_selection_is_read_back_exactly_and_garbage_is_refused() -> None:
    sel = Selection(("p-*",), ("p-old",), ("p-a",))
    assert Selection.from_doc(sel.to_doc()) == sel
    assert Selection.from_doc(None) == Selection()
    for bad in ([], {"target": "p-*"}, {"exclude": [1]}):
        with pytest.raises(ValueError):
            Selection.from_doc(bad)
