"""Post the plan as ONE pull-request comment, and update that comment in place on every push.

The comment is found again by a hidden marker naming the desired-state files, among the
comments written by a bot (the workflow's GITHUB_TOKEN posts as github-actions[bot]), so a
human quoting the marker is never overwritten. Talks to GitHub through `gh api` (on every
GitHub-hosted runner) with GH_TOKEN. Standard library only: runs with any Python 3.11.

Environment: FILES, EXITCODE, MARKDOWN_FILE, ERROR_FILE, GITHUB_EVENT_PATH, GITHUB_REPOSITORY,
GITHUB_SERVER_URL, GITHUB_RUN_ID, GITHUB_OUTPUT, GH_TOKEN.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

# GitHub refuses a comment body over 65,536 characters.
LIMIT = 65_000
ERROR_LIMIT = 20_000
PAGE = 100


def marker(files: list[str]) -> str:
    key = " ".join(files)
    # Whatever cannot sit inside an HTML comment (or is too long) is replaced by its digest.
    if not key or len(key) > 200 or not re.fullmatch(r"[\w./@+:, -]+", key) or "--" in key:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"<!-- vaultsync-plan: {key} -->"


def fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def read(path: str | None) -> str:
    if not path or not Path(path).is_file():
        return ""
    return Path(path).read_text(encoding="utf-8", errors="replace").strip()


def body(env: dict[str, str], files: list[str], sha: str) -> str:
    rc = env.get("EXITCODE", "")
    names = ", ".join(f"`{f}`" for f in files)
    if rc in {"0", "2"} and read(env.get("MARKDOWN_FILE")):
        text = read(env.get("MARKDOWN_FILE"))
    else:
        error = read(env.get("ERROR_FILE"))
        if len(error) > ERROR_LIMIT:
            error = error[:ERROR_LIMIT] + "\n… (truncated: the job log has the rest)"
        text = f"### ❌ vaultsync plan failed for {names} (exit {rc or 'unknown'})\n\nNothing was planned or saved."
        if error:
            text += "\n\n" + fence(error)
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    run = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env.get('GITHUB_RUN_ID', '')}"
    footer = f"<sub>{names} · commit {sha[:7]} · [workflow run]({run})</sub>"
    head = marker(files) + "\n"
    room = LIMIT - len(head) - len(footer) - 2
    if len(text) > room:
        text = text[: room - 80] + "\n\n… _truncated: the job summary has the full plan._"
    return f"{head}{text}\n\n{footer}"


def gh(*args: str, data: dict[str, Any] | None = None) -> Any:
    command = ["gh", "api", *args] + (["--input", "-"] if data is not None else [])
    result = subprocess.run(
        command,
        input=json.dumps(data) if data is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"::error title=vaultsync comment::gh api {args[-1]} failed (exit {result.returncode}): "
            f"{result.stderr.strip()[:500]} (the job needs permissions: pull-requests: write)"
        )
    return json.loads(result.stdout or "null")


def find_own(repo: str, number: int, mark: str) -> int | None:
    page = 1
    while True:
        comments = gh(f"repos/{repo}/issues/{number}/comments?per_page={PAGE}&page={page}")
        for c in comments:
            if (c.get("user") or {}).get("type") == "Bot" and str(c.get("body", "")).startswith(mark):
                return int(c["id"])
        if len(comments) < PAGE:
            return None
        page += 1


def main() -> int:
    env = dict(os.environ)
    event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8"))
    pr = event.get("pull_request") or {}
    if not isinstance(pr.get("number"), int):
        print("Not a pull request: no comment to post.")
        return 0
    files = env.get("FILES", "").split()
    repo = env["GITHUB_REPOSITORY"]
    text = body(env, files, str((pr.get("head") or {}).get("sha", "")))
    existing = find_own(repo, pr["number"], marker(files))
    if existing is None:
        answer = gh("-X", "POST", f"repos/{repo}/issues/{pr['number']}/comments", data={"body": text})
        verb = "Posted"
    else:
        answer = gh("-X", "PATCH", f"repos/{repo}/issues/comments/{existing}", data={"body": text})
        verb = "Updated"
    url = str((answer or {}).get("html_url", "")).replace("\n", "")
    print(f"{verb} the plan comment on pull request #{pr['number']}: {url}")
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
            out.write(f"comment-url={url}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
