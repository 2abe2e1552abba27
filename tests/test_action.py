"""The GitHub Action (action.yml): its metadata, actionlint, and its steps run for real.

The steps' shell and Python live in action/ so that they can run here as GitHub runs them:
with bash, against the dev-server, with fake GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and
GITHUB_EVENT_PATH files and a fake `gh` on PATH that records its calls and keeps the pull
request's comments, so "one comment, updated in place" and "apply the plan reviewers saw"
are checked end to end. The install step (action/install.sh) is run by
tests/test_packaging.py; here vaultsync comes from the test environment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from tests.conftest import CANARY, Server, require_actionlint, write_desired

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
ACTION_DIR = ROOT / "action"
GITHUB_DIR = ROOT / "examples" / "ci" / "github"
WORKFLOWS = sorted(GITHUB_DIR.glob("*.yml"))
VAULTSYNC = Path(sys.executable).parent / "vaultsync"
HEAD_SHA = "abcdef0123456789abcdef0123456789abcdef01"
MERGE_SHA = "1234567890abcdef1234567890abcdef12345678"
MARKER = "<!-- vaultsync-plan: secrets/connector.json -->"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def steps() -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = load(ACTION)["runs"]["steps"]
    return result


def step(step_id: str) -> dict[str, Any]:
    (found,) = (s for s in steps() if s.get("id") == step_id)
    return found


# --------------------------------------------------------------------------- metadata


def script_of(s: dict[str, Any]) -> Path:
    m = re.fullmatch(r'(?:bash|"\$VAULTSYNC_PYTHON") "\$GITHUB_ACTION_PATH/(action/[\w-]+\.(?:sh|py))"', s["run"])
    assert m, f"step {s['name']!r}: run a script of action/, nothing else: {s['run']!r}"
    return ROOT / m.group(1)


def test_action_metadata_shape() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert {"command", "files", "api-version", "detailed-exitcode", "comment", "upload-plan", "plan-file"} <= set(
        inputs
    )
    assert inputs["command"]["default"] == "plan"
    assert {"exitcode", "create", "update", "delete", "conflict", "unchanged", "changes"} <= set(action["outputs"])
    text = ACTION.read_text(encoding="utf-8")

    # Every input referenced exists; every step output referenced is written by that step's script.
    for name in re.findall(r"inputs\.([\w-]+)", text):
        assert name in inputs, name
    ids = {s["id"]: s for s in steps() if "id" in s}
    for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text):
        assert step_id in ids, step_id
        if step_id == "python":
            assert output == "python-path"  # actions/setup-python's output
            continue
        script = script_of(ids[step_id]).read_text(encoding="utf-8")
        if "plan_counts.py" in script:
            script += (ACTION_DIR / "plan_counts.py").read_text(encoding="utf-8")
            script += "".join(f"{key}=" for key in ("create", "update", "delete", "conflict", "unchanged"))
        written = set(re.findall(r"([\w-]+)=", script))
        assert output in written, f"{step_id}.{output} is never written"

    for s in steps():
        assert s.get("name"), s
        if "run" in s:
            assert s["shell"] == "bash"
            # No expression is expanded into shell code (script injection): inputs arrive in env.
            assert "${{" not in s["run"], s["run"]
            assert script_of(s).is_file()
        else:
            assert s["uses"].split("@")[0] in {"actions/setup-python", "actions/upload-artifact"}

    # The job's own Python is left alone; vaultsync is installed from this checkout, pinned.
    assert step("python")["with"]["update-environment"] is False
    install = (ACTION_DIR / "install.sh").read_text(encoding="utf-8")
    assert '-c "$src/constraints.txt" "$src"' in install and "GITHUB_ACTION_PATH" in install
    upload = next(s for s in steps() if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert "'0'" in upload["if"] and "'2'" in upload["if"] and "upload-plan" in upload["if"]
    assert steps()[-1]["id"] == "result" and "!cancelled()" in steps()[-1]["if"]


def test_action_scripts_are_executable_and_parse() -> None:
    for path in sorted(ACTION_DIR.glob("*.sh")):
        assert path.stat().st_mode & stat.S_IXUSR, path
        subprocess.run(["bash", "-n", str(path)], check=True)
        if shutil.which("shellcheck"):
            result = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True, check=False)
            assert result.returncode == 0, result.stdout
        else:  # a laptop may lack it; CI installs it (.ci/run) and must run it
            assert os.environ.get("CI") != "true", "shellcheck is not installed (CI=true: .ci/run installs it)"
    for path in sorted(ACTION_DIR.glob("*.py")):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


# --------------------------------------------------------------------------- workflows and actionlint


def the_action_step(workflow: dict[str, Any]) -> dict[str, Any]:
    (job,) = workflow["jobs"].values()
    (found,) = (s for s in job["steps"] if s.get("uses", "").startswith("YOUR-ORG/vaultsync@"))
    return found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_each_workflow_is_checkout_and_one_action_line(path: Path) -> None:
    workflow = load(path)
    (job,) = workflow["jobs"].values()
    assert [s["uses"].split("@")[0] for s in job["steps"]] == ["actions/checkout", "YOUR-ORG/vaultsync"]
    assert all("run" not in s for s in job["steps"])
    inputs = load(ACTION)["inputs"]
    assert set(the_action_step(workflow)["with"]) <= set(inputs)


def test_apply_workflow_applies_the_reviewed_plan() -> None:
    workflow = load(GITHUB_DIR / "vaultsync-apply.yml")
    with_ = the_action_step(workflow)["with"]
    assert with_["command"] == "apply" and with_["plan-from"] == "pull-request"
    assert "files" not in with_, "apply takes the saved plan, it does not plan again"
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "read", "actions": "read"}
    plan = the_action_step(load(GITHUB_DIR / "vaultsync-plan.yml"))["with"]
    assert plan["comment"] is True and plan["upload-plan"] is True
    # The apply job finds the plan workflow by its file name and the artifact by its name.
    assert load(ACTION)["inputs"]["plan-workflow"]["default"] == "vaultsync-plan.yml"
    assert "artifact-name" not in plan and "artifact-name" not in with_


def test_actionlint_on_the_workflows_using_this_action(tmp_path: Path) -> None:
    """actionlint reads a local action's metadata: the workflows, rewritten to `uses: ./`,
    check action.yml parses and that every `with:` names one of its inputs."""
    actionlint = require_actionlint()
    project = tmp_path / "project"
    (project / ".github" / "workflows").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    shutil.copy2(ACTION, project / "action.yml")
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        assert "uses: YOUR-ORG/vaultsync@v0.1.0" in text
        (project / ".github" / "workflows" / path.name).write_text(
            text.replace("uses: YOUR-ORG/vaultsync@v0.1.0", "uses: ./"), encoding="utf-8"
        )

    def lint() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [actionlint, "-no-color"], cwd=project, capture_output=True, text=True, timeout=120, check=False
        )

    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    # The check has teeth: an unknown input is reported.
    drift = project / ".github" / "workflows" / "vaultsync-drift.yml"
    drift.write_text(drift.read_text().replace("command: drift", "command: drift\n          no-such-input: 1"))
    assert "no-such-input" in lint().stdout


# --------------------------------------------------------------------------- the steps, run

FAKE_GH = r'''#!/usr/bin/env python3
"""A stand-in for the GitHub CLI: the calls the action makes, against a JSON state file."""
import json, os, shutil, sys
from urllib.parse import urlparse, parse_qs

args = sys.argv[1:]
stdin = sys.stdin.read() if "--input" in args else ""
state_path = os.environ["FAKE_GH_STATE"]
state = json.load(open(state_path))
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps({"args": args, "stdin": stdin, "token": os.environ.get("GH_TOKEN")}) + "\n")

def opt(name, default=None):
    return args[args.index(name) + 1] if name in args else default

def save():
    json.dump(state, open(state_path, "w"))

if args[0] == "api":
    method = opt("-X", "GET")
    path = [a for a in args[1:] if not a.startswith("-") and a not in (method, "-")][0]
    url = urlparse(path)
    parts = url.path.split("/")
    if method == "GET" and parts[-1] == "comments":
        q = parse_qs(url.query)
        per, page = int(q["per_page"][0]), int(q["page"][0])
        print(json.dumps(state["comments"][(page - 1) * per : page * per]))
    elif method == "POST" and parts[-1] == "comments":
        new = {"id": 1000 + len(state["comments"]), "body": json.loads(stdin)["body"],
               "user": {"login": "github-actions[bot]", "type": "Bot"}}
        new["html_url"] = f"https://github.com/acme/infra/pull/7#issuecomment-{new['id']}"
        state["comments"].append(new)
        save()
        print(json.dumps(new))
    elif method == "PATCH" and parts[-2] == "comments":
        (c,) = [c for c in state["comments"] if c["id"] == int(parts[-1])]
        c["body"] = json.loads(stdin)["body"]
        save()
        print(json.dumps(c))
    elif method == "GET" and parts[-1] == "pulls":
        print(json.dumps(state["pulls"].get(parts[-2], [])))
    else:
        print(f"fake gh: no route for {method} {path}", file=sys.stderr)
        sys.exit(1)
elif args[:2] == ["run", "list"]:
    runs = [r for r in state["runs"] if r["headSha"] == opt("--commit")]
    print(json.dumps([{"databaseId": r["databaseId"]} for r in runs][: int(opt("--limit", "20"))]))
elif args[:2] == ["run", "download"]:
    source = state["artifacts"].get(args[2], {}).get(opt("--name"))
    if source is None:
        print("fake gh: no such artifact", file=sys.stderr)
        sys.exit(1)
    shutil.copytree(source, opt("--dir"), dirs_exist_ok=True)
else:
    print(f"fake gh: unexpected {args}", file=sys.stderr)
    sys.exit(1)
'''


class Runner:
    """A GitHub-like job: a workspace, the runner's files, a fake gh, and the action's steps."""

    def __init__(self, tmp_path: Path, server: Server) -> None:
        self.tmp = tmp_path
        self.workspace = tmp_path / "workspace"
        (self.workspace / "secrets").mkdir(parents=True)
        bindir = tmp_path / "bin"
        bindir.mkdir()
        gh = bindir / "gh"
        gh.write_text(FAKE_GH, encoding="utf-8")
        gh.chmod(0o755)
        self.gh_state = tmp_path / "gh-state.json"
        self.gh_log = tmp_path / "gh-calls.jsonl"
        self.gh_log.touch()
        self.set_gh(comments=[], pulls={}, runs=[], artifacts={})
        self.event = tmp_path / "event.json"
        self.pull_request_event(HEAD_SHA)
        self.runner_temp = tmp_path / "runner-temp"
        self.runner_temp.mkdir()
        self.server = server
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.startswith("EDC_")},
            "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_REPOSITORY": "acme/infra",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "4242",
            "GITHUB_EVENT_PATH": str(self.event),
            "RUNNER_TEMP": str(self.runner_temp),
            "FAKE_GH_STATE": str(self.gh_state),
            "FAKE_GH_LOG": str(self.gh_log),
            "EDC_MANAGEMENT_URL": server.url,
            "EDC_API_VERSION": "v3",
            "VAULTSYNC_PYTHON": sys.executable,
            "CLIENT_SECRET": CANARY,
        }
        self.outputs_file = tmp_path / "github-output"
        self.summary_file = tmp_path / "github-step-summary"
        self.logs: list[str] = []

    def set_gh(self, **state: Any) -> None:
        current = json.loads(self.gh_state.read_text()) if self.gh_state.exists() else {}
        self.gh_state.write_text(json.dumps({**current, **state}), encoding="utf-8")

    def gh(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.gh_state.read_text())
        return result

    def gh_calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.gh_log.read_text().splitlines()]

    def pull_request_event(self, sha: str) -> None:
        self.event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": sha}}}), encoding="utf-8")

    def desired(self, secrets: dict[str, Any]) -> None:
        write_desired(self.workspace / "secrets" / "connector.json", secrets)

    def run_step(self, step_id: str, inputs: dict[str, str], **extra_env: str) -> tuple[int, dict[str, str]]:
        """Run one step of action.yml as GitHub does: its `env:` with the inputs filled in."""
        s = step(step_id)
        action_inputs = load(ACTION)["inputs"]
        values = {name: str(spec.get("default", "")) for name, spec in action_inputs.items()}
        values.update(inputs)
        values["token"] = "ghs_fake_token"
        env = dict(self.env)
        for key, value in (s.get("env") or {}).items():
            m = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", str(value))
            if m:
                env[key] = values[m.group(1)]
        env.update(extra_env)
        self.outputs_file.write_text("")
        env["GITHUB_OUTPUT"] = str(self.outputs_file)
        env["GITHUB_STEP_SUMMARY"] = str(self.summary_file)
        run = s["run"]
        # GitHub runs `shell: bash` as `bash --noprofile --norc -eo pipefail {0}`.
        script = self.tmp / "step.sh"
        script.write_text(run, encoding="utf-8")
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.logs.append(result.stdout + result.stderr)
        outputs = dict(
            line.split("=", 1) for line in self.outputs_file.read_text(encoding="utf-8").splitlines() if "=" in line
        )
        return result.returncode, outputs

    def vaultsync(self, command: str, inputs: dict[str, str]) -> dict[str, str]:
        """The action's `run` step then its `result` step; returns the run step's outputs + result's exit."""
        rc, outputs = self.run_step("run", {"command": command, **inputs}, VAULTSYNC=str(VAULTSYNC))
        assert rc == 0, self.logs[-1]
        self.last_run = outputs
        if inputs.get("comment") == "true":
            rc, comment_outputs = self.run_step(
                "comment",
                {"command": command, **inputs},
                EXITCODE=outputs["exitcode"],
                MARKDOWN_FILE=outputs.get("markdown-file", ""),
                ERROR_FILE=outputs["error-file"],
            )
            assert rc == 0, self.logs[-1]
            outputs = {**outputs, **comment_outputs}
        result_rc, _ = self.run_step("result", {"command": command}, EXITCODE=outputs["exitcode"])
        return {**outputs, "result": str(result_rc)}

    def everything_written(self) -> str:
        parts = [*self.logs, self.summary_file.read_text(encoding="utf-8"), self.gh_state.read_text()]
        parts += [self.gh_log.read_text()]
        parts += [p.read_text(errors="replace") for p in self.runner_temp.rglob("*") if p.is_file()]
        parts += [p.read_text(errors="replace") for p in self.workspace.glob("vaultsync.plan*")]
        return "\n".join(parts)


@pytest.fixture
def runner(tmp_path: Path, devserver: Server) -> Runner:
    if not VAULTSYNC.exists():
        pytest.skip(f"vaultsync is not installed next to {sys.executable}")
    return Runner(tmp_path, devserver)


PLAN = {"files": "secrets/connector.json", "comment": "true", "upload-plan": "true"}


def test_plan_comments_once_then_updates_in_place(runner: Runner, devserver: Server) -> None:
    runner.set_gh(
        comments=[
            {"id": 1, "body": "LGTM", "user": {"login": "alice", "type": "User"}},
            # A human quoting the marker: never overwritten.
            {"id": 2, "body": MARKER + "\nquoted", "user": {"login": "bob", "type": "User"}},
        ]
    )
    runner.desired({"oauth-client": {"fromEnv": "CLIENT_SECRET"}, "api-token": "token-1"})

    out = runner.vaultsync("plan", PLAN)
    assert {k: out[k] for k in ("exitcode", "create", "update", "delete", "conflict", "unchanged", "changes")} == {
        "exitcode": "2",
        "create": "2",
        "update": "0",
        "delete": "0",
        "conflict": "0",
        "unchanged": "0",
        "changes": "true",
    }
    assert out["result"] == "0", "changes present is a success"
    assert (runner.workspace / out["plan-file"]).is_file() and out["plan-file"] == "vaultsync.plan"
    markdown = (runner.workspace / out["markdown-file"]).read_text(encoding="utf-8")
    assert "2 to create" in markdown and markdown in runner.summary_file.read_text(encoding="utf-8")
    comments = runner.gh()["comments"]
    assert len(comments) == 3
    posted = comments[-1]
    assert posted["body"].startswith(MARKER + "\n")
    assert "2 to create" in posted["body"] and "abcdef0" in posted["body"]
    assert "https://github.com/acme/infra/actions/runs/4242" in posted["body"]
    assert out["comment-url"].endswith(f"#issuecomment-{posted['id']}")
    assert all(call["token"] == "ghs_fake_token" for call in runner.gh_calls())
    assert devserver.secret_writes() == [], "plan writes nothing"

    # The next push: the same comment is edited, no new one.
    runner.pull_request_event("feedbeef" * 5)
    runner.desired({"oauth-client": {"fromEnv": "CLIENT_SECRET"}, "api-token": "token-1", "third": "x"})
    out = runner.vaultsync("plan", PLAN)
    assert out["create"] == "3"
    after = runner.gh()["comments"]
    assert len(after) == 3 and after[-1]["id"] == posted["id"]
    assert "3 to create" in after[-1]["body"] and "feedbee" in after[-1]["body"]
    assert after[1]["body"] == MARKER + "\nquoted"
    methods = [c["args"][c["args"].index("-X") + 1] for c in runner.gh_calls() if "-X" in c["args"]]
    assert methods == ["POST", "PATCH"]
    assert CANARY not in runner.everything_written()


def test_failed_plan_is_commented_and_fails_the_job(runner: Runner) -> None:
    runner.desired({"s3-creds": {"accessKeyId": "AKIA", "secretAccessKey": CANARY}})
    out = runner.vaultsync("plan", PLAN)
    assert out["exitcode"] == "1" and out["result"] == "1"
    assert "create" not in out and "plan-file" not in out
    (comment,) = runner.gh()["comments"]
    assert comment["body"].startswith(MARKER)
    assert "vaultsync plan failed" in comment["body"] and "s3-creds" in comment["body"]
    assert "vaultsync plan failed" in runner.summary_file.read_text(encoding="utf-8")
    assert "::error title=vaultsync plan::" in runner.logs[-1]
    assert CANARY not in runner.everything_written()


def test_outside_a_pull_request_no_comment(runner: Runner) -> None:
    runner.event.write_text(json.dumps({"ref": "refs/heads/main"}), encoding="utf-8")
    runner.desired({"api-token": "token-1"})
    out = runner.vaultsync("plan", PLAN)
    assert out["exitcode"] == "2" and runner.gh_calls() == []
    assert "Not a pull request" in runner.logs[-2]


def reviewed_plan(runner: Runner) -> Path:
    """Plan in a 'pull request run' and keep its artifact where the fake gh serves it from."""
    out = runner.vaultsync("plan", PLAN)
    assert out["exitcode"] == "2"
    artifact = runner.tmp / "artifact-run-99"
    artifact.mkdir()
    for name in ("vaultsync.plan", "vaultsync.plan.md"):
        shutil.move(str(runner.workspace / name), artifact / name)
    runner.set_gh(
        pulls={
            MERGE_SHA: [
                {"number": 3, "merged_at": None, "head": {"sha": "0" * 40}, "merge_commit_sha": None},
                {
                    "number": 7,
                    "merged_at": "2026-12-02T12:00:00Z",
                    "head": {"sha": HEAD_SHA},
                    "merge_commit_sha": MERGE_SHA,
                },
            ]
        },
        runs=[{"databaseId": 99, "headSha": HEAD_SHA}],
        artifacts={"99": {"vaultsync-plan": str(artifact)}},
    )
    return artifact


APPLY = {"plan-from": "pull-request"}


def test_apply_on_merge_applies_the_pull_requests_plan(runner: Runner, devserver: Server) -> None:
    runner.desired({"oauth-client": {"fromEnv": "CLIENT_SECRET"}, "api-token": "token-1"})
    reviewed_plan(runner)
    assert devserver.secret_writes() == []

    rc, fetched = runner.run_step("fetch", APPLY, GITHUB_SHA=MERGE_SHA)
    assert rc == 0, runner.logs[-1]
    assert fetched == {"plan-run-id": "99"}
    assert "pull request #7" in runner.logs[-1]
    calls = [c["args"] for c in runner.gh_calls()]
    assert ["api", f"repos/acme/infra/commits/{MERGE_SHA}/pulls"] in calls
    (listing,) = (c for c in calls if c[:2] == ["run", "list"])
    assert {"--workflow", "vaultsync-plan.yml", "--commit", HEAD_SHA, "--status", "success"} <= set(listing)

    out = runner.vaultsync("apply", APPLY)
    assert out["exitcode"] == "0" and out["result"] == "0", runner.logs
    assert devserver.secrets["oauth-client"] == CANARY and devserver.secrets["api-token"] == "token-1"
    assert sorted(devserver.secret_writes()) == [("POST", "api-token"), ("POST", "oauth-client")]
    assert "vaultsync apply (exit 0)" in runner.summary_file.read_text(encoding="utf-8")
    assert CANARY not in runner.everything_written()


def test_apply_on_merge_refuses_a_stale_plan(runner: Runner, devserver: Server) -> None:
    runner.desired({"api-token": "token-1"})
    reviewed_plan(runner)
    devserver.secrets["api-token"] = "written by hand meanwhile"

    assert runner.run_step("fetch", APPLY, GITHUB_SHA=MERGE_SHA)[0] == 0
    out = runner.vaultsync("apply", APPLY)
    assert out["exitcode"] == "1" and out["result"] == "1"
    assert devserver.secrets["api-token"] == "written by hand meanwhile"
    assert devserver.secret_writes() == []
    assert "stale" in runner.logs[-2].lower() or "changed" in runner.logs[-2].lower()
    assert "::error title=vaultsync apply::" in runner.logs[-1]


def test_apply_without_a_reviewed_plan_applies_nothing(runner: Runner, devserver: Server) -> None:
    runner.desired({"api-token": "token-1"})
    # A push that no pull request merged.
    rc, _ = runner.run_step("fetch", APPLY, GITHUB_SHA=MERGE_SHA)
    assert rc == 1 and "no merged pull request has commit 1234567" in runner.logs[-1]
    # Merged, but its plan run failed (no successful run): nothing reviewed.
    reviewed_plan(runner)
    runner.set_gh(runs=[])
    rc, _ = runner.run_step("fetch", APPLY, GITHUB_SHA=MERGE_SHA)
    assert rc == 1 and "no successful run of vaultsync-plan.yml" in runner.logs[-1]
    # apply never plans afresh from files.
    rc, _ = runner.run_step("run", {"command": "apply", "files": "secrets/connector.json"}, VAULTSYNC=str(VAULTSYNC))
    assert rc == 1 and "apply takes the saved plan" in runner.logs[-1]
    rc, _ = runner.run_step("run", {"command": "apply"}, VAULTSYNC=str(VAULTSYNC))
    assert rc == 1 and "no saved plan at vaultsync.plan" in runner.logs[-1]
    assert devserver.secret_writes() == []


def test_apply_a_given_run_s_plan(runner: Runner) -> None:
    runner.desired({"api-token": "token-1"})
    reviewed_plan(runner)
    rc, fetched = runner.run_step("fetch", {**APPLY, "plan-run-id": "99"}, GITHUB_SHA=MERGE_SHA)
    assert rc == 0 and fetched == {"plan-run-id": "99"}
    assert not any(c["args"][0] == "api" and "pulls" in c["args"][1] for c in runner.gh_calls()[-2:])
    rc, _ = runner.run_step("fetch", {**APPLY, "plan-run-id": "98"}, GITHUB_SHA=MERGE_SHA)
    assert rc == 1 and "has run 98 an artifact vaultsync-plan, not expired yet?" in runner.logs[-1]
    rc, _ = runner.run_step("fetch", {**APPLY, "plan-run-id": "99; rm -rf /"}, GITHUB_SHA=MERGE_SHA)
    assert rc == 1 and "plan-run-id must be" in runner.logs[-1]


def test_drift_and_validate(runner: Runner, devserver: Server) -> None:
    runner.desired({"api-token": "token-1"})
    files = {"files": "secrets/connector.json"}
    out = runner.vaultsync("validate", files)
    assert out["exitcode"] == "0" and out["result"] == "0"
    reviewed_plan(runner)
    runner.run_step("fetch", APPLY, GITHUB_SHA=MERGE_SHA)
    assert runner.vaultsync("apply", APPLY)["exitcode"] == "0"

    out = runner.vaultsync("drift", files)
    assert out["exitcode"] == "0" and out["result"] == "0"
    assert "No drift" in runner.summary_file.read_text(encoding="utf-8")
    devserver.secrets["api-token"] = "changed by hand"
    out = runner.vaultsync("drift", files)
    assert out["exitcode"] == "2" and out["result"] == "2", "drift fails the job"
    assert "Drift detected" in runner.summary_file.read_text(encoding="utf-8")
    assert devserver.secrets["api-token"] == "changed by hand", "drift never writes"

    runner.desired({"bad": 42})
    out = runner.vaultsync("validate", files)
    assert out["exitcode"] == "1" and out["result"] == "1"
    assert "bad" in runner.summary_file.read_text(encoding="utf-8").split("vaultsync validate failed")[-1]


def test_inputs_win_over_the_environment_and_bad_inputs_fail_clearly(runner: Runner, devserver: Server) -> None:
    runner.desired({"api-token": "token-1"})
    runner.env["EDC_MANAGEMENT_URL"] = "http://127.0.0.1:9/unreachable"
    out = runner.vaultsync(
        "plan", {"files": "secrets/connector.json", "url": devserver.url, "detailed-exitcode": "false"}
    )
    assert out["exitcode"] == "0" and out["changes"] == "true" and out["create"] == "1"
    rc, _ = runner.run_step("run", {"command": "destroy"}, VAULTSYNC=str(VAULTSYNC))
    assert rc == 1 and "must be validate, plan, apply or drift" in runner.logs[-1]
    rc, _ = runner.run_step("run", {"command": "plan", "files": ""}, VAULTSYNC=str(VAULTSYNC))
    assert rc == 1 and "the input files is empty" in runner.logs[-1]
