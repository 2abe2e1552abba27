"""The planner: a pure function, tested as a table of (desired, vault, state) -> action."""

from __future__ import annotations

from typing import Any

import pytest

from vaultsync.model import DesiredSecret, canonical_json
from vaultsync.plan import Action, Change, DeleteGuard, Plan, diff, json_equal, same_value, unsafe_deletes

ABSENT = object()  # "not in the file" / "not in the vault"


def want(alias: str, value: Any) -> DesiredSecret:
    """A desired literal string, or a ``json`` entry when ``value`` is not a string."""
    if isinstance(value, str):
        return DesiredSecret(alias, "value", value)
    return DesiredSecret(alias, "json", canonical_json(value))


def one(desired: Any, stored: Any, managed: bool, *, adopt: bool = False) -> Change:
    """Plan a single alias ``a``; ABSENT means not in the file / not in the vault."""
    wanted = {} if desired is ABSENT else {"a": want("a", desired)}
    observed = {} if stored is ABSENT else {"a": stored}
    plan = diff(wanted, observed, {"a"} if managed else set(), adopt=adopt)
    assert [c.alias for c in plan.changes] == ["a"]
    return plan.changes[0]


@pytest.mark.parametrize(
    ("desired", "stored", "managed", "adopt_flag", "action", "adopt", "forget"),
    [
        # create: wanted, not in the vault (managed or not)
        ("v", ABSENT, False, False, Action.CREATE, False, False),
        ("v", ABSENT, True, False, Action.CREATE, False, False),
        # update: managed, present, different
        ("new", "old", True, False, Action.UPDATE, False, False),
        # delete: managed, not wanted, present
        (ABSENT, "old", True, False, Action.DELETE, False, False),
        # no-op: same value
        ("same", "same", True, False, Action.NOOP, False, False),
        # json: formatting and key order are not changes
        ({"b": 1, "a": [1, 2]}, '{\n  "a": [1, 2],\n  "b": 1\n}', True, False, Action.NOOP, False, False),
        ({"n": 1}, '{"n": 1.0}', True, False, Action.NOOP, False, False),
        # json: true is not 1, "1" is not 1
        ({"flag": True}, '{"flag": 1}', True, False, Action.UPDATE, False, False),
        ({"n": 1}, '{"n": "1"}', True, False, Action.UPDATE, False, False),
        (True, "1", True, False, Action.UPDATE, False, False),
        # json wanted, stored string is not JSON at all
        ({"a": 1}, "not json", True, False, Action.UPDATE, False, False),
        # a literal string is compared byte for byte, never as JSON
        ('{"a":1}', '{"a": 1}', True, False, Action.UPDATE, False, False),
        # unmanaged with the same value: adopted into state, no write
        ("same", "same", False, False, Action.NOOP, True, False),
        ({"b": 1, "a": 2}, '{"a":2,"b":1}', False, False, Action.NOOP, True, False),
        # unmanaged with another value: conflict, unless adopt=True
        ("mine", "theirs", False, False, Action.CONFLICT, False, False),
        ("mine", "theirs", False, True, Action.UPDATE, True, False),
        # managed, deleted outside vaultsync, no longer wanted: forget it
        (ABSENT, ABSENT, True, False, Action.NOOP, False, True),
    ],
    ids=[
        "create",
        "create-managed-but-gone",
        "update",
        "delete",
        "no-op",
        "json-formatting-no-op",
        "json-1-vs-1.0-no-op",
        "json-true-vs-1-update",
        "json-1-vs-string-update",
        "json-top-level-true-vs-1-update",
        "json-vs-garbage-update",
        "string-not-compared-as-json",
        "unmanaged-same-adopt",
        "unmanaged-json-equal-adopt",
        "unmanaged-different-conflict",
        "unmanaged-different-adopt-flag-update",
        "managed-gone-unwanted-forget",
    ],
)
def test_planner_table(
    desired: Any, stored: Any, managed: bool, adopt_flag: bool, action: Action, adopt: bool, forget: bool
) -> None:
    change = one(desired, stored, managed, adopt=adopt_flag)
    assert (change.action, change.adopt, change.forget) == (action, adopt, forget)


def test_unmanaged_unwanted_aliases_are_not_planned() -> None:
    plan = diff({}, {"someone-elses": "x"}, set())
    assert plan.changes == ()


def test_adopt_flag_never_touches_managed_or_equal_aliases() -> None:
    desired = {"m": want("m", "new"), "u": want("u", "same")}
    plan = diff(desired, {"m": "old", "u": "same"}, {"m"}, adopt=True)
    assert [(c.alias, c.action, c.adopt) for c in plan.changes] == [
        ("m", Action.UPDATE, False),
        ("u", Action.NOOP, True),
    ]


def test_plan_is_sorted_by_alias_whatever_the_input_order() -> None:
    desired = {a: want(a, "v") for a in ["zeta", "Alpha", "beta", "ü", "10", "9"]}
    observed = {"gone": "x", "beta": "v"}
    plan = diff(desired, observed, ["gone", "beta"])
    aliases = [c.alias for c in plan.changes]
    assert aliases == sorted(aliases)
    reversed_plan = diff(
        dict(reversed(list(desired.items()))), dict(reversed(list(observed.items()))), ["beta", "gone"]
    )
    assert reversed_plan == plan


def test_summary_counts_each_action_and_no_ops_as_unchanged() -> None:
    desired = {
        "c1": want("c1", "v"),
        "c2": want("c2", "v"),
        "u": want("u", "new"),
        "n": want("n", "same"),
        "adopted": want("adopted", "same"),
        "x": want("x", "mine"),
    }
    observed = {"u": "old", "n": "same", "adopted": "same", "x": "theirs", "d": "old"}
    plan = diff(desired, observed, {"u", "n", "d", "forgotten"})
    assert plan.summary == {"create": 2, "update": 1, "delete": 1, "conflict": 1, "unchanged": 3}
    assert plan.has_changes
    assert [c.alias for c in plan.conflicts] == ["x"]
    assert plan.managed_before == 4


def test_a_conflict_alone_is_a_change_and_an_adoption_alone_is_not() -> None:
    assert diff({"a": want("a", "x")}, {"a": "y"}, set()).has_changes
    adoption = diff({"a": want("a", "x")}, {"a": "x"}, set())
    assert not adoption.has_changes
    assert adoption.state_changes  # apply records it, without a write


def test_in_sync_plan_has_no_changes_and_no_state_changes() -> None:
    plan = diff({"a": want("a", "x")}, {"a": "x"}, {"a"})
    assert not plan.has_changes
    assert not plan.state_changes


def test_json_change_note_names_paths_never_values() -> None:
    secret = "CANARY-in-a-json-document"
    stored = '{"accessKeyId": "AKIA", "secretAccessKey": "PREVIOUS-SECRET"}'
    change = one({"accessKeyId": "AKIA", "secretAccessKey": secret}, stored, True)
    assert change.action is Action.UPDATE
    assert "secretAccessKey" in change.note
    assert secret not in change.note
    assert "PREVIOUS-SECRET" not in change.note


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (False, 0, False),
        ("1", 1, False),
        (None, None, True),
        ({"a": [1, {"b": True}]}, {"a": [1, {"b": True}]}, True),
        ({"a": [1, {"b": True}]}, {"a": [1, {"b": 1}]}, False),
        ([1, 2], [2, 1], False),
        ({"a": 1}, {"a": 1, "b": None}, False),
    ],
)
def test_json_equal(a: Any, b: Any, equal: bool) -> None:
    assert json_equal(a, b) is equal
    assert json_equal(b, a) is equal


def test_same_value_for_literal_and_json_entries() -> None:
    assert same_value(want("a", "x"), "x")
    assert not same_value(want("a", "x"), "x\n")
    assert same_value(want("a", {"k": [1, 2]}), '{ "k" : [1, 2] }')
    assert not same_value(want("a", {"k": [1, 2]}), '{"k": [2, 1]}')


# -- the mass-deletion guard ---------------------------------------------------------------------


def plan_deleting(deletes: int, managed: int) -> Plan:
    aliases = [f"s{i:03}" for i in range(managed)]
    keep = aliases[deletes:]
    return diff({a: want(a, "v") for a in keep}, {a: "v" for a in aliases}, aliases)


@pytest.mark.parametrize(
    ("deletes", "managed", "refused"),
    [
        (0, 0, False),
        (0, 20, False),
        (3, 10, False),  # exactly 30%: allowed
        (4, 10, True),  # above 30% once 10 are managed
        (30, 100, False),
        (31, 100, True),
        (8, 9, False),  # fewer than 10 managed: only "all of them" trips it
        (9, 9, True),
        (1, 1, True),
    ],
)
def test_unsafe_deletes_thresholds(deletes: int, managed: int, refused: bool) -> None:
    plan = plan_deleting(deletes, managed)
    assert plan.count(Action.DELETE) == deletes
    reason = unsafe_deletes(plan)
    assert (reason is not None) is refused
    if refused:
        assert str(deletes) in reason and str(managed) in reason  # type: ignore[operator]


def test_unsafe_deletes_guard_is_configurable() -> None:
    assert unsafe_deletes(plan_deleting(2, 10), DeleteGuard(max_fraction=0.1)) is not None
    assert unsafe_deletes(plan_deleting(4, 10), DeleteGuard(max_fraction=0.5)) is None


def test_forgotten_aliases_do_not_count_as_deletes() -> None:
    aliases = [f"s{i}" for i in range(10)]
    # all ten were deleted outside vaultsync and removed from the file: nothing to DELETE, only forget
    plan = diff({}, {}, aliases)
    assert plan.count(Action.DELETE) == 0
    assert all(c.forget for c in plan.changes)
    assert unsafe_deletes(plan) is None
