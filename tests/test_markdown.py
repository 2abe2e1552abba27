"""`plan --format markdown`: a pull-request comment that reviewers can trust and GitHub accepts."""

from __future__ import annotations

import html
import re
from pathlib import Path

from conftest import CANARY, Server, run_cli, write_desired

from vaultsync.plan import Action, Change, Plan
from vaultsync.render import GITHUB_COMMENT_LIMIT, MARKDOWN_BUDGET, PlanReport, markdown_plan

URL = "http://localhost:8181/api/management"
# Inside <code>, only these characters may stay literal; everything else must be a character reference.
INERT = re.compile(r"^(?:[A-Za-z0-9 \-/,;]|&#[0-9]+;)*$")


def report(*changes: Change, file: str = "secrets/provider.json", managed: int = 0, guard: str | None = None):
    return PlanReport(file, URL, "v3", Plan(tuple(changes), managed_before=managed), guard)


def creates(n: int, prefix: str) -> list[Change]:
    return [Change(f"{prefix}-{i:05d}", Action.CREATE) for i in range(n)]


def rows(md: str) -> list[str]:
    """The change rows of every table: lines starting with '| <symbol> |'."""
    return [line for line in md.splitlines() if re.match(r"^\| [-+~!=] \|", line)]


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def shown_text(cell: str) -> str:
    """What a reader sees in a <code> cell: the content with character references decoded."""
    match = re.fullmatch(r"<code>(.*)</code>", cell)
    assert match, cell
    assert INERT.match(match.group(1)), f"markdown or HTML syntax left unescaped: {cell}"
    return html.unescape(match.group(1))


def within_github_limit(md: str) -> bool:
    # GitHub counts characters; measure in UTF-8 bytes and UTF-16 units too, the strictest of any count.
    return max(len(md), len(md.encode("utf-8")), len(md.encode("utf-16-le")) // 2) <= GITHUB_COMMENT_LIMIT


# -- what a reviewer sees first ------------------------------------------------------------------


def test_counts_come_before_the_details_and_the_details_are_collapsed() -> None:
    md = markdown_plan(
        [
            report(
                Change("new-token", Action.CREATE), Change("db-password", Action.UPDATE, True), Change("x", Action.NOOP)
            )
        ]
    )
    lines = md.splitlines()
    assert lines[0] == "### vaultsync plan"
    counts = next(i for i, line in enumerate(lines) if "to create" in line)
    assert lines[counts] == "**Plan: 1 to create, 1 to update, 0 to delete, 1 unchanged.**"
    assert counts < next(i for i, line in enumerate(lines) if line.startswith("<details>"))
    assert md.count("<details>") == md.count("</details>") == 1
    assert "<details open" not in md
    assert [cells(r)[1:3] for r in rows(md)] == [
        ["update", "<code>db-password</code>"],
        ["create", "<code>new-token</code>"],
    ]


def test_a_plan_without_changes_says_so_and_has_no_alert() -> None:
    md = markdown_plan([report(Change("x", Action.NOOP, True))])
    assert "**Plan: 0 to create, 0 to update, 0 to delete, 1 unchanged.**" in md
    assert "No changes. The vault matches the desired state." in md
    assert "[!CAUTION]" not in md and "[!WARNING]" not in md


def test_deletes_get_a_caution_banner_above_the_details() -> None:
    md = markdown_plan([report(Change("old-1", Action.DELETE, True), Change("old-2", Action.DELETE, True), managed=9)])
    banner = md.index("> [!CAUTION]")
    assert "**2 secrets will be DELETED** from the vault." in md[banner:]
    assert banner < md.index("<details>")
    assert "[!WARNING]" not in md


def test_a_mass_deletion_banner_says_apply_will_refuse_it() -> None:
    guard = "this plan deletes all 3 managed secrets"
    md = markdown_plan([report(*[Change(f"d{i}", Action.DELETE, True) for i in range(3)], managed=3, guard=guard)])
    assert "> [!CAUTION]" in md
    assert f"**Mass deletion:** {guard}; apply refuses it without `--allow-mass-delete`." in md


def test_conflicts_get_a_warning_banner_and_are_counted() -> None:
    md = markdown_plan([report(Change("shared", Action.CONFLICT, note="exists in the vault with another value"))])
    assert "0 unchanged, 1 in conflict.**" in md
    warning = md.index("> [!WARNING]")
    assert "**1 conflict:** an unmanaged secret holds another value" in md[warning:]
    assert "`vaultsync import FILE ALIAS...`" in md and "`--adopt`" in md
    assert warning < md.index("<details>")


def test_deletes_and_conflicts_are_listed_before_creates() -> None:
    changes = [Change("a-new", Action.CREATE), Change("m-clash", Action.CONFLICT), Change("z-old", Action.DELETE, True)]
    md = markdown_plan([report(*changes, managed=5)])
    assert [cells(r)[1] for r in rows(md)] == ["delete", "conflict", "create"]


def test_adoptions_and_forgotten_aliases_are_listed_with_their_own_labels() -> None:
    md = markdown_plan(
        [
            report(
                Change("same", Action.NOOP, adopt=True, note="exists with the same value"),
                Change("gone", Action.NOOP, True, forget=True, note="already deleted outside vaultsync"),
                Change("other", Action.UPDATE, adopt=True, note="adopted (--adopt)"),
            )
        ]
    )
    labels = {shown_text(cells(r)[2]): cells(r)[1] for r in rows(md)}
    assert labels == {"same": "adopt", "gone": "forget", "other": "update (adopt)"}


# -- untrusted names cannot break or hijack the comment --------------------------------------------

NASTY = [
    "pipe|in|alias",
    "<script>alert(1)</script>",
    "tick`s``and```fences",
    "**bold**_and_~~strike~~",
    "[click](javascript:alert(1))",
    "![img](https:x)",
    "@octocat-and-#123",
    ":rocket:",
    "www.example.com",
    "&amp;-entity",
    "back\\slash",
    "</code></td></tr></table>",
    "<!-- comment",
    "émoji-🔑-ünïcode",
    "bidi-\u202e-override",
]


def test_aliases_with_markdown_or_html_syntax_show_exactly_as_written_and_stay_in_their_cell() -> None:
    md = markdown_plan([report(*[Change(a, Action.CREATE) for a in NASTY])])
    table = rows(md)
    assert len(table) == len(NASTY)
    seen = set()
    for row in table:
        assert row.count("|") == 5, f"a cell leaked into the table structure: {row}"
        seen.add(shown_text(cells(row)[2]))
    assert seen == {a.replace("\u202e", "\\u202e") for a in NASTY}  # bidi overrides shown escaped, not obeyed
    assert "<script" not in md and "`s``" not in md and "@octocat" not in md


def test_file_urls_and_notes_are_escaped_too() -> None:
    note = "JSON document changes at root['|<b>@x']"
    md = markdown_plan(
        [
            PlanReport("a|<i>.json", "http://h:1/x", "v3", Plan((Change("k", Action.UPDATE, True, note=note),))),
            PlanReport("b`.json", "http://h:2/x", "v4", Plan((Change("k", Action.CONFLICT),))),
        ]
    )
    assert "<i>" not in md and "<b>" not in md and "b`" not in md
    connectors = [line for line in md.splitlines() if line.startswith("| <code>")]
    assert [shown_text(cells(line)[0]) for line in connectors] == ["a|<i>.json", "b`.json"]
    assert all(line.count("|") == 8 for line in connectors)
    (update,) = [r for r in rows(md) if cells(r)[1] == "update"]
    assert shown_text(cells(update)[3]) == note


def test_the_comment_is_pure_ascii_whatever_the_aliases() -> None:
    md = markdown_plan([report(*[Change(f"🔑-schlüssel-{i}", Action.CREATE) for i in range(3)])])
    assert md.isascii()
    assert "&#128273;-schl&#252;ssel-0" in md


# -- size: GitHub refuses comments over 65,535 characters ------------------------------------------


def test_twenty_thousand_long_aliases_fit_with_counts_intact_and_a_truncation_note() -> None:
    long = "connector-" + "x" * 180
    changes = [*creates(20_000, long), Change("zz-retired", Action.DELETE, True), Change("zz-shared", Action.CONFLICT)]
    md = markdown_plan([report(*changes, managed=40)])
    assert within_github_limit(md)
    assert len(md) <= MARKDOWN_BUDGET
    assert "**Plan: 20000 to create, 0 to update, 1 to delete, 0 unchanged, 1 in conflict.**" in md
    assert "> [!CAUTION]" in md and "> [!WARNING]" in md
    listed = rows(md)
    assert 50 < len(listed) < 20_002
    assert [cells(r)[1] for r in listed[:2]] == ["delete", "conflict"]  # the dangerous ones survive the cut
    note = re.search(r"Truncated to fit a GitHub comment: (\d+) of (\d+) changes are listed", md)
    assert note and int(note.group(1)) == len(listed) and int(note.group(2)) == 20_002
    assert md.count("<details>") == md.count("</details>") == 1
    assert all(r.endswith("|") and r.count("|") == 5 for r in listed)  # no row cut in half


def test_a_plan_that_fits_has_no_truncation_note() -> None:
    md = markdown_plan([report(*creates(200, "alias"))])
    assert "Truncated" not in md and len(rows(md)) == 200


def test_the_budget_leaves_room_for_a_ci_marker_and_footer() -> None:
    md = markdown_plan([report(*creates(20_000, "a" * 120))])
    assert GITHUB_COMMENT_LIMIT - len(md) >= 1_000


def test_wide_characters_cannot_push_the_comment_over_the_limit() -> None:
    # Each alias: 2,000 non-BMP characters, i.e. 4,000 UTF-16 units and 8,000 UTF-8 bytes.
    md = markdown_plan([report(*[Change(f"{i}-" + "🔑" * 2000, Action.CREATE) for i in range(200)])])
    assert within_github_limit(md)
    assert "Truncated to fit a GitHub comment" in md


def test_many_connectors_keep_every_connector_in_the_breakdown_when_truncated() -> None:
    reports = [report(*creates(2_000, f"c{n}-alias-with-a-long-name"), file=f"conn-{n:02d}.json") for n in range(12)]
    md = markdown_plan(reports)
    assert within_github_limit(md)
    assert "**Plan (12 connectors): 24000 to create, 0 to update, 0 to delete, 0 unchanged.**" in md
    breakdown = [line for line in md.splitlines() if line.startswith("| <code>conn-")]
    assert [shown_text(cells(line)[0]) for line in breakdown] == [f"conn-{n:02d}.json" for n in range(12)]
    assert all(cells(line)[2:] == ["2000", "0", "0", "0", "0"] for line in breakdown)
    assert "Truncated to fit a GitHub comment" in md
    assert md.count("<details>") == md.count("</details>") >= 1


def test_a_tiny_limit_is_still_respected() -> None:
    md = markdown_plan([report(*creates(100, "alias"), Change("gone", Action.DELETE, True), managed=50)], limit=1_500)
    assert len(md) <= 1_500
    assert "**Plan: 100 to create, 0 to update, 1 to delete, 0 unchanged.**" in md
    assert "Truncated to fit a GitHub comment" in md


# -- end to end -----------------------------------------------------------------------------------


def test_plan_markdown_against_the_dev_server_shows_names_never_values(devserver: Server, tmp_path: Path) -> None:
    env = {"EDC_MANAGEMENT_URL": devserver.url}
    path = write_desired(tmp_path / "s.json", {"keep": CANARY + "k", "old": CANARY + "o", "tok": CANARY + "t"})
    assert run_cli("apply", str(path), "--auto-approve", env=env).code == 0
    devserver.secrets["unmanaged|<b>"] = CANARY + "theirs"
    write_desired(path, {"keep": CANARY + "k2", "new": CANARY + "n", "unmanaged|<b>": CANARY + "mine", "tok": CANARY})

    result = run_cli("plan", str(path), "--format", "markdown", "--detailed-exitcode", env=env)

    assert result.code == 2, result.err
    assert result.out.startswith("### vaultsync plan\n")
    assert "**Plan: 1 to create, 2 to update, 1 to delete, 0 unchanged, 1 in conflict.**" in result.out
    assert "> [!CAUTION]" in result.out and "> [!WARNING]" in result.out
    assert {shown_text(cells(r)[2]): cells(r)[1] for r in rows(result.out)} == {
        "old": "delete",
        "unmanaged|<b>": "conflict",
        "keep": "update",
        "tok": "update",
        "new": "create",
    }
    assert CANARY not in result.both
    assert "\x1b[" not in result.out
