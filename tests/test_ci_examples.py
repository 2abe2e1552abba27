"""Tests of the CI examples users copy (examples/ci) and of the pre-commit hook.

The GitHub workflows are one `uses:` line of vaultsync's action per job: their
structure and actionlint are checked here, the action itself in
tests/test_action.py. The GitLab jobs' shell runs with bash against a
stand-in ``vaultsync`` that exits with the code a test asks for (so "exit 2 is
success for plan, failure for drift" is tested, not just grepped), and the
merge-request note script against a local fake GitLab API.

The pre-commit test installs this project from a temporary git copy with
pre-commit, which needs PyPI: it is marked slow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from conftest import require_actionlint

ROOT = Path(__file__).resolve().parent.parent
CI_DIR = ROOT / "examples" / "ci"
GITHUB_DIR = CI_DIR / "github"
GITLAB_FILE = CI_DIR / "gitlab" / ".gitlab-ci.yml"
HOOKS_FILE = ROOT / ".pre-commit-hooks.yaml"
INSTALL_ACTIONLINT = ROOT / ".ci" / "install-actionlint.sh"

PLAN_WF = GITHUB_DIR / "vaultsync-plan.yml"
APPLY_WF = GITHUB_DIR / "vaultsync-apply.yml"
DRIFT_WF = GITHUB_DIR / "vaultsync-drift.yml"
GITHUB_WORKFLOWS = [PLAN_WF, APPLY_WF, DRIFT_WF]



# --------------------------------------------------------------------------- helpers


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 (pyyaml) reads the key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    assert on is not None, "workflow has no `on:`"
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


def only_job(workflow: dict[str, Any]) -> dict[str, Any]:
    jobs: dict[str, dict[str, Any]] = workflow["jobs"]
    assert len(jobs) == 1, f"expected one job, got {list(jobs)}"
    return next(iter(jobs.values()))


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


FAKE_VAULTSYNC = r"""#!/usr/bin/env bash
# Stand-in for the vaultsync CLI. Records its arguments in $FAKE_LOG, exits
# with $FAKE_<COMMAND>_RC (default 0). Prints $FAKE_<COMMAND>_OUT (or a canned
# line) on stdout unless it fails with 1, which prints an error on stderr.
# plan --out FILE writes FILE when it succeeds (exit 0 or 2).
printf '%s\n' "$*" >> "$FAKE_LOG"
cmd="$1"
upper="$(printf '%s' "$cmd" | tr 'a-z-' 'A-Z_')"
rc_var="FAKE_${upper}_RC"
out_var="FAKE_${upper}_OUT"
rc="${!rc_var:-0}"
if [ "$rc" -eq 1 ]; then
  echo "Error: fake $cmd failure" >&2
else
  printf '%s\n' "${!out_var:-fake $cmd output}"
  if [ "$cmd" = plan ]; then
    prev=""
    for arg in "$@"; do
      if [ "$prev" = "--out" ]; then echo '{"fake": "saved plan"}' > "$arg"; fi
      prev="$arg"
    done
  fi
fi
exit "$rc"
"""


class Sandbox:
    """A working directory with a fake `vaultsync` first on PATH."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "work"
        self.dir.mkdir()
        bindir = tmp_path / "bin"
        bindir.mkdir()
        fake = bindir / "vaultsync"
        fake.write_text(FAKE_VAULTSYNC, encoding="utf-8")
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.log = tmp_path / "vaultsync-calls.log"
        self.log.touch()
        self.output = tmp_path / "github_output"
        self.summary = tmp_path / "github_step_summary"
        self.output.touch()
        self.summary.touch()
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(
            PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
            FAKE_LOG=str(self.log),
            GITHUB_OUTPUT=str(self.output),
            GITHUB_STEP_SUMMARY=str(self.summary),
            VAULTSYNC_FILE="secrets/connector.json",
        )
        for name in list(env):
            if name.startswith("FAKE_") and name != "FAKE_LOG":
                del env[name]
        self.env = env

    def run(self, script: str, shell: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*shell, script],
            cwd=self.dir,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def run_gitlab_script(self, lines: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        # The GitLab runner runs the script entries in one bash with `set -eo pipefail`.
        script = self.dir.parent / "job.sh"
        script.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.run(str(script), ["bash", "-eo", "pipefail"], **env)

    def outputs(self) -> dict[str, str]:
        pairs = (line.split("=", 1) for line in self.output.read_text().splitlines() if "=" in line)
        return dict(pairs)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


# --------------------------------------------------------------------------- YAML and structure


def test_every_ci_yaml_parses() -> None:
    files = sorted(p for p in CI_DIR.rglob("*") if p.suffix in {".yml", ".yaml"})
    assert set(GITHUB_WORKFLOWS) | {GITLAB_FILE} <= set(files)
    for path in [*files, HOOKS_FILE]:
        doc = load(path)
        assert isinstance(doc, dict | list) and doc, f"{path} is empty"


@pytest.mark.parametrize("path", GITHUB_WORKFLOWS, ids=lambda p: p.name)
def test_github_workflow_common_shape(path: Path) -> None:
    # The steps themselves are the action's (action.yml), run by tests/test_action.py.
    wf = load(path)
    assert wf["env"]["EDC_MANAGEMENT_URL"] == "${{ vars.EDC_MANAGEMENT_URL }}"
    assert "VAULTSYNC ACTION" in path.read_text(encoding="utf-8")
    # Least privilege, declared at the top and never widened by a job.
    perms = wf["permissions"]
    assert isinstance(perms, dict) and perms.get("contents") == "read"
    assert set(perms) <= {"contents", "pull-requests", "actions"}
    job = only_job(wf)
    assert "permissions" not in job
    assert job["env"]["EDC_API_KEY"] == "${{ secrets.EDC_API_KEY }}"
    assert isinstance(job["timeout-minutes"], int)
    (checkout,) = uses(job, "actions/checkout")
    assert checkout["with"]["persist-credentials"] is False
    (action,) = uses(job, "YOUR-ORG/vaultsync")
    assert action["with"].get("files", "secrets/connector.json") == "secrets/connector.json"


def test_plan_workflow_shape() -> None:
    wf = load(PLAN_WF)
    assert set(triggers(wf)) == {"pull_request"}
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert wf["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in wf["concurrency"]["group"]
    job = only_job(wf)
    assert "head.repo.full_name == github.repository" in job["if"]
    (action,) = uses(job, "YOUR-ORG/vaultsync")
    assert action["with"]["command"] == "plan"


def test_apply_workflow_shape() -> None:
    wf = load(APPLY_WF)
    on = triggers(wf)
    assert on["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in on
    assert "pull_request" not in on
    # Two applies never race, and a running apply is never cancelled.
    assert wf["concurrency"]["group"] == "vaultsync-apply"
    assert wf["concurrency"]["cancel-in-progress"] is False
    (action,) = uses(only_job(wf), "YOUR-ORG/vaultsync")
    assert action["with"]["command"] == "apply"


def test_drift_workflow_shape() -> None:
    wf = load(DRIFT_WF)
    on = triggers(wf)
    assert set(on) == {"schedule", "workflow_dispatch"}
    (cron,) = on["schedule"]
    assert len(cron["cron"].split()) == 5
    assert wf["permissions"] == {"contents": "read"}
    (action,) = uses(only_job(wf), "YOUR-ORG/vaultsync")
    assert action["with"]["command"] == "drift", "the drift job is read-only"


def test_gitlab_pipeline_shape() -> None:
    ci = load(GITLAB_FILE)
    assert ci["stages"] == ["plan", "apply", "drift"]
    workflow_ifs = [r["if"] for r in ci["workflow"]["rules"]]
    assert '$CI_PIPELINE_SOURCE == "merge_request_event"' in workflow_ifs
    assert '$CI_PIPELINE_SOURCE == "schedule"' in workflow_ifs
    assert "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in workflow_ifs
    assert ci["variables"]["VAULTSYNC_FILE"] == "secrets/connector.json"
    assert ci["variables"]["VAULTSYNC_PIP_SPEC"] == "vaultsync"
    assert "INSTALL SPEC" in GITLAB_FILE.read_text(encoding="utf-8")
    assert ci["default"]["image"].startswith("python:3.11")
    assert ci["default"]["before_script"] == ['python -m pip install "$VAULTSYNC_PIP_SPEC"']

    jobs = {k: v for k, v in ci.items() if isinstance(v, dict) and "script" in v}
    assert set(jobs) == {"vaultsync:plan", "vaultsync:apply", "vaultsync:drift"}

    plan = jobs["vaultsync:plan"]
    assert plan["stage"] == "plan"
    assert [r["if"] for r in plan["rules"]] == ['$CI_PIPELINE_SOURCE == "merge_request_event"']
    plan_script = "\n".join(plan["script"])
    assert 'vaultsync validate "$VAULTSYNC_FILE"' in plan_script
    assert "--format markdown --out vaultsync.plan" in plan_script
    assert "--detailed-exitcode" in plan_script
    assert "VAULTSYNC_GITLAB_TOKEN" in plan_script and "merge_requests/" in plan_script
    assert "vaultsync.plan" in plan["artifacts"]["paths"]

    apply_ = jobs["vaultsync:apply"]
    assert apply_["stage"] == "apply"
    (rule,) = apply_["rules"]
    assert "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in rule["if"]
    assert '$CI_PIPELINE_SOURCE != "schedule"' in rule["if"]
    assert apply_["resource_group"]
    assert apply_["interruptible"] is False
    assert apply_["script"][-1].startswith("vaultsync apply vaultsync.plan")

    drift = jobs["vaultsync:drift"]
    assert drift["stage"] == "drift"
    assert [r["if"] for r in drift["rules"]] == ['$CI_PIPELINE_SOURCE == "schedule"']
    assert 'vaultsync drift "$VAULTSYNC_FILE"' in "\n".join(drift["script"])
    assert "vaultsync apply" not in "\n".join(drift["script"])


def test_gitlab_note_script_is_valid_python() -> None:
    plan_script = "\n".join(load(GITLAB_FILE)["vaultsync:plan"]["script"])
    m = re.search(r"<<'PY'\n(.*?)\nPY\n", plan_script, re.S)
    assert m, "the note is posted by a python heredoc"
    compile(m.group(1), "gitlab-note.py", "exec")


def test_ci_readme_covers_settings_and_exit_codes() -> None:
    text = (CI_DIR / "README.md").read_text(encoding="utf-8")
    for word in [
        "EDC_API_KEY",
        "EDC_MANAGEMENT_URL",
        "VAULTSYNC_PIP_SPEC",
        "VAULTSYNC_GITLAB_TOKEN",
        "VAULTSYNC_FILE",
        "--detailed-exitcode",
        "vaultsync-validate",
        "files:",
        "stale",
    ]:
        assert word in text, word
    for path in [*GITHUB_WORKFLOWS, GITLAB_FILE]:
        assert path.relative_to(CI_DIR).as_posix() in text


# --------------------------------------------------------------------------- GitLab jobs, run

MARKER = "<!-- vaultsync-plan: secrets/connector.json -->"


class FakeGitLab:
    """The few GitLab API calls the plan job makes, on 127.0.0.1."""

    def __init__(self, notes: list[dict[str, Any]]) -> None:
        self.notes = notes
        self.requests: list[tuple[str, str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def reply(self, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                url = urlparse(self.path)
                fake.requests.append((self.command, self.path, body))
                if self.headers.get("PRIVATE-TOKEN") != "glpat-test":
                    self.send_error(401)
                elif url.path == "/api/v4/user":
                    self.reply({"id": 99, "username": "project_5_bot"})
                elif self.command == "GET" and url.path == "/api/v4/projects/5/merge_requests/3/notes":
                    # Two pages of two notes, to exercise X-Next-Page.
                    page = int(parse_qs(url.query).get("page", ["1"])[0])
                    chunk = fake.notes[(page - 1) * 2 : page * 2]
                    more = len(fake.notes) > page * 2
                    self.reply(chunk, {"X-Next-Page": str(page + 1) if more else ""})
                elif self.command in {"POST", "PUT"}:
                    self.reply({"id": 1000})
                else:
                    self.send_error(404)

            do_GET = do_POST = do_PUT = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def env(self) -> dict[str, str]:
        return {
            "CI_API_V4_URL": f"http://127.0.0.1:{self.server.server_address[1]}/api/v4",
            "CI_PROJECT_ID": "5",
            "CI_MERGE_REQUEST_IID": "3",
            "CI_COMMIT_SHORT_SHA": "abc1234",
            "CI_JOB_URL": "https://gitlab.example/acme/infra/-/jobs/77",
            "VAULTSYNC_GITLAB_TOKEN": "glpat-test",
        }

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[0] in {"POST", "PUT"}]


@pytest.fixture
def gitlab_api() -> Iterator[Any]:
    servers: list[FakeGitLab] = []

    def start(notes: list[dict[str, Any]]) -> FakeGitLab:
        fake = FakeGitLab(notes)
        fake.thread.start()
        servers.append(fake)
        return fake

    yield start
    for fake in servers:
        fake.server.shutdown()
        fake.server.server_close()


def gitlab_job(name: str) -> dict[str, Any]:
    job: dict[str, Any] = load(GITLAB_FILE)[name]
    return job


@pytest.mark.parametrize("rc", ["0", "2"])
def test_gitlab_plan_job_posts_a_note(sandbox: Sandbox, gitlab_api: Any, rc: str) -> None:
    api = gitlab_api([{"id": 1, "author": {"id": 7}, "body": "LGTM"}])
    result = sandbox.run_gitlab_script(
        gitlab_job("vaultsync:plan")["script"], FAKE_PLAN_RC=rc, FAKE_PLAN_OUT="| alias | action |", **api.env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.calls()[0] == "validate secrets/connector.json"
    assert sandbox.calls()[1].startswith("plan secrets/connector.json --format markdown --out vaultsync.plan")
    ((method, path, body),) = api.writes()
    assert (method, path) == ("POST", "/api/v4/projects/5/merge_requests/3/notes")
    assert body["body"].startswith(MARKER + "\n")
    assert "| alias | action |" in body["body"]
    assert "abc1234" in body["body"]


def test_gitlab_plan_job_updates_its_own_note(sandbox: Sandbox, gitlab_api: Any) -> None:
    notes = [
        {"id": 1, "author": {"id": 7}, "body": "LGTM"},
        {"id": 2, "author": {"id": 7}, "body": MARKER + "\nquoted by a human"},
        {"id": 3, "author": {"id": 99}, "body": "<!-- vaultsync-plan: other.json -->"},
        {"id": 4, "author": {"id": 99}, "body": MARKER + "\nold plan"},
    ]
    api = gitlab_api(notes)
    result = sandbox.run_gitlab_script(gitlab_job("vaultsync:plan")["script"], FAKE_PLAN_RC="2", **api.env)
    assert result.returncode == 0, result.stdout + result.stderr
    ((method, path, _),) = api.writes()
    assert (method, path) == ("PUT", "/api/v4/projects/5/merge_requests/3/notes/4")


def test_gitlab_plan_job_fails_on_errors_after_posting(sandbox: Sandbox, gitlab_api: Any) -> None:
    api = gitlab_api([])
    result = sandbox.run_gitlab_script(gitlab_job("vaultsync:plan")["script"], FAKE_PLAN_RC="1", **api.env)
    assert result.returncode == 1
    ((_, _, body),) = api.writes()
    assert "vaultsync plan failed" in body["body"]

    api = gitlab_api([])
    before = len(sandbox.calls())
    result = sandbox.run_gitlab_script(gitlab_job("vaultsync:plan")["script"], FAKE_VALIDATE_RC="1", **api.env)
    assert result.returncode == 1
    assert sandbox.calls()[before:] == ["validate secrets/connector.json"], "no plan after a failed validate"
    ((_, _, body),) = api.writes()
    assert "is invalid" in body["body"] and "fake validate failure" in body["body"]


def test_gitlab_plan_job_without_token_skips_the_note(sandbox: Sandbox) -> None:
    result = sandbox.run_gitlab_script(gitlab_job("vaultsync:plan")["script"], FAKE_PLAN_RC="2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VAULTSYNC_GITLAB_TOKEN is not set" in result.stdout


@pytest.mark.parametrize(("rc", "applied"), [("0", True), ("2", True), ("1", False)])
def test_gitlab_apply_job(sandbox: Sandbox, rc: str, applied: bool) -> None:
    result = sandbox.run_gitlab_script(gitlab_job("vaultsync:apply")["script"], FAKE_PLAN_RC=rc)
    assert (result.returncode == 0) is applied
    assert any(c.startswith("apply vaultsync.plan") for c in sandbox.calls()) is applied


@pytest.mark.parametrize(("rc", "exit_code"), [("0", 0), ("2", 2), ("1", 1)])
def test_gitlab_drift_job_fails_on_drift(sandbox: Sandbox, rc: str, exit_code: int) -> None:
    result = sandbox.run_gitlab_script(gitlab_job("vaultsync:drift")["script"], FAKE_DRIFT_RC=rc)
    assert result.returncode == exit_code
    assert sandbox.calls()[0].startswith("drift secrets/connector.json")
    if rc == "2":
        assert "drift detected" in result.stdout


@pytest.mark.parametrize("name", ["vaultsync:plan", "vaultsync:apply", "vaultsync:drift"])
def test_gitlab_scripts_pass_shellcheck(name: str) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is not installed (CI=true: .ci/run installs it with apt-get)", pytrace=False)
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    ci = load(GITLAB_FILE)
    script = "\n".join(["#!/usr/bin/env bash", *ci["default"]["before_script"], *ci[name]["script"]])
    result = subprocess.run(
        [shellcheck, "--shell=bash", "-"], input=script, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


# --------------------------------------------------------------------------- actionlint


def test_actionlint_passes_on_github_workflows() -> None:
    actionlint = require_actionlint()
    result = subprocess.run(
        [actionlint, "-no-color", *map(str, GITHUB_WORKFLOWS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_install_actionlint_script() -> None:
    assert INSTALL_ACTIONLINT.stat().st_mode & stat.S_IXUSR
    text = INSTALL_ACTIONLINT.read_text(encoding="utf-8")
    assert "go install" in text and ".ci/bin" in text
    subprocess.run(["bash", "-n", str(INSTALL_ACTIONLINT)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", str(INSTALL_ACTIONLINT)], check=True)
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".ci/bin/" in gitignore


# --------------------------------------------------------------------------- pre-commit hook


def the_hook() -> dict[str, Any]:
    hooks = load(HOOKS_FILE)
    assert isinstance(hooks, list)
    (hook,) = (h for h in hooks if h["id"] == "vaultsync-validate")
    assert isinstance(hook, dict)
    return hook


def test_pre_commit_hook_definition() -> None:
    hook = the_hook()
    assert hook["entry"] == "vaultsync validate"
    assert hook["language"] == "python"
    assert hook["args"] == ["--skip-env"]
    assert hook.get("pass_filenames", True) is True
    files = re.compile(hook["files"])
    for path in [
        "secrets/connector.json",
        "infra/secrets/prod/connector.json",
        "vaultsync.json",
        "secrets.json",
        "edc/secrets-staging.json",
        "deploy/vaultsync.prod.json",
    ]:
        assert files.search(path), path
    for path in [
        "package.json",
        "tsconfig.json",
        "mysecrets.json",
        "secrets/README.md",
        "config/vaultsync.yaml",
        ".vscode/settings.json",
    ]:
        assert not files.search(path), path


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git("init", "-q", cwd=path)
    git("config", "user.name", "vaultsync tests", cwd=path)
    git("config", "user.email", "tests@vaultsync.invalid", cwd=path)
    return path


HOOK_REPO_FILES = ["pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "vaultsync", "schemas"]


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """A committed copy of this project to use as a pre-commit hook repository,
    and a PRE_COMMIT_HOME shared by the tests (the hook env is built once)."""
    base = tmp_path_factory.mktemp("pre-commit")
    repo = git_repo(base / "vaultsync-hooks")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in HOOK_REPO_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, repo / name)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "hooks", cwd=repo)
    return repo.as_uri(), git("rev-parse", "HEAD", cwd=repo), base / "pre-commit-home"


def run_pre_commit(
    hook_repo: tuple[str, str, Path], tmp_path: Path, files: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    url, rev, home = hook_repo
    sample = git_repo(tmp_path / "sample")
    config = f"""\
        repos:
          - repo: {url}
            rev: {rev}
            hooks:
              - id: vaultsync-validate
        """
    (sample / ".pre-commit-config.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
    for name, text in files.items():
        (sample / name).parent.mkdir(parents=True, exist_ok=True)
        (sample / name).write_text(text, encoding="utf-8")
    git("add", "-A", cwd=sample)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PRE_COMMIT", "VIRTUAL_ENV", "VAULTSYNC_TEST_SURELY_UNSET"))
    }
    env["PRE_COMMIT_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=sample,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


# `package.json` is outside the hook's default `files` pattern: were it passed
# to `vaultsync validate`, the run would fail.
NOT_A_DESIRED_STATE = '{"name": "not-a-desired-state", "version": "1.0.0"}\n'


@pytest.mark.slow
def test_pre_commit_hook_passes_a_valid_file(hook_repo: tuple[str, str, Path], tmp_path: Path) -> None:
    # fromEnv names a variable that is unset here: the hook passes --skip-env.
    valid = {
        "version": 1,
        "secrets": {
            "plain-alias": "a value",
            "oauth-client": {"value": "s3cr3t"},
            "from-ci": {"fromEnv": "VAULTSYNC_TEST_SURELY_UNSET"},
        },
    }
    result = run_pre_commit(
        hook_repo,
        tmp_path,
        {"secrets/connector.json": json.dumps(valid, indent=2) + "\n", "package.json": NOT_A_DESIRED_STATE},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "vaultsync validate" in result.stdout and "Passed" in result.stdout


@pytest.mark.slow
def test_pre_commit_hook_rejects_a_nested_value(hook_repo: tuple[str, str, Path], tmp_path: Path) -> None:
    nested = {"version": 1, "secrets": {"s3-upload-creds": {"accessKeyId": "AKIA", "secretAccessKey": "x"}}}
    result = run_pre_commit(
        hook_repo,
        tmp_path,
        {"secrets/connector.json": json.dumps(nested) + "\n", "package.json": NOT_A_DESIRED_STATE},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Failed" in result.stdout
    assert "s3-upload-creds" in result.stdout
