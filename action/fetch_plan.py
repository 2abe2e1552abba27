"""Download the saved plan reviewers saw: that of the pull request merged as this commit.

commit (GITHUB_SHA) -> the merged pull request -> its head commit -> the successful run of
the plan workflow for that commit -> its plan artifact. `vaultsync apply PLANFILE` then
refuses the plan if it went stale (the vault, the state or a desired value changed since).
With PLAN_RUN_ID the lookup is skipped and that run's artifact is taken (e.g. for a
workflow_dispatch after re-running a pull request's plan). Talks to GitHub through `gh`
with GH_TOKEN; standard library only.

Environment: GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_SERVER_URL, PLAN_FILE, ARTIFACT_NAME,
PLAN_WORKFLOW, PLAN_RUN_ID, RUNNER_TEMP, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GH_TOKEN.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


class Refused(Exception):
    """Nothing reviewed to apply: the message says why and what to do."""


def gh(*args: str, hint: str = "the job needs permissions: actions: read and pull-requests: read") -> str:
    result = subprocess.run(["gh", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        what = " ".join(args[:2])
        raise Refused(f"gh {what} failed (exit {result.returncode}): {result.stderr.strip()[:500]} ({hint})")
    return result.stdout


def merged_pull_request(repo: str, sha: str) -> dict[str, Any]:
    pulls = json.loads(gh("api", f"repos/{repo}/commits/{sha}/pulls") or "[]")
    merged = [p for p in pulls if isinstance(p, dict) and p.get("merged_at")]
    # A commit can belong to several pull requests; the one merged AS this commit comes first.
    merged.sort(key=lambda p: p.get("merge_commit_sha") != sha)
    if not merged:
        raise Refused(
            f"no merged pull request has commit {sha[:7]}: only a plan reviewed in a pull request is applied. "
            "Merge changes through a pull request, or run the workflow with a plan-run-id."
        )
    return merged[0]


def plan_run(repo: str, workflow: str, head_sha: str, number: int) -> str:
    runs = json.loads(
        gh(
            "run", "list", "--repo", repo, "--workflow", workflow, "--commit", head_sha,
            "--event", "pull_request", "--status", "success", "--limit", "1", "--json", "databaseId",
        )
        or "[]"
    )  # fmt: skip
    if not runs:
        raise Refused(
            f"no successful run of {workflow} for commit {head_sha[:7]}, the head of pull request #{number}: "
            "there is no reviewed plan to apply. Re-run the pull request's plan workflow, then this one."
        )
    return str(runs[0]["databaseId"])


def fetch(env: dict[str, str]) -> tuple[str, str]:
    repo = env["GITHUB_REPOSITORY"]
    plan_file = Path(env.get("PLAN_FILE") or "vaultsync.plan")
    artifact = env.get("ARTIFACT_NAME") or "vaultsync-plan"
    run_id = env.get("PLAN_RUN_ID", "").strip()
    origin = f"run {run_id}"
    if run_id:
        if not run_id.isdigit():
            raise Refused(f"plan-run-id must be a workflow run's number, not {run_id!r}")
    else:
        sha = env.get("GITHUB_SHA", "")
        if not re.fullmatch(r"[0-9a-f]{40}", sha):
            raise Refused(f"GITHUB_SHA is not a commit id: {sha!r}")
        pr = merged_pull_request(repo, sha)
        head_sha = str(pr["head"]["sha"])
        run_id = plan_run(repo, env.get("PLAN_WORKFLOW") or "vaultsync-plan.yml", head_sha, int(pr["number"]))
        origin = f"pull request #{pr['number']} (commit {head_sha[:7]}, run {run_id})"
    with tempfile.TemporaryDirectory(dir=env.get("RUNNER_TEMP") or None) as tmp:
        hint = f"has run {run_id} an artifact {artifact}, not expired yet? the job needs permissions: actions: read"
        gh("run", "download", run_id, "--repo", repo, "--name", artifact, "--dir", tmp, hint=hint)
        found = sorted(Path(tmp).rglob(plan_file.name))
        if not found:
            raise Refused(f"the artifact {artifact} of run {run_id} holds no {plan_file.name}")
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found[0], plan_file)
        markdown = found[0].with_name(found[0].name + ".md")
        if markdown.is_file():
            shutil.copyfile(markdown, plan_file.with_name(plan_file.name + ".md"))
    return run_id, origin


def main() -> int:
    env = dict(os.environ)
    try:
        run_id, origin = fetch(env)
    except Refused as refused:
        print(f"::error title=vaultsync apply::Nothing applied: {refused}")
        return 1
    message = f"Applying the saved plan of {origin}, as reviewed."
    print(message)
    for name, text in (("GITHUB_OUTPUT", f"plan-run-id={run_id}\n"), ("GITHUB_STEP_SUMMARY", message + "\n\n")):
        if env.get(name):
            with open(env[name], "a", encoding="utf-8") as f:
                f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
