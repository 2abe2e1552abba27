#!/usr/bin/env bash
# The action's main step: run one vaultsync command and record what happened as step outputs
# (exitcode; for plan the counts, the markdown and the saved plan) and in the job summary.
# It fails only on bad inputs: a failing command is failed by the Result step, after the
# comment and the upload have run.
#
# Environment: VAULTSYNC, COMMAND, FILES, ARGS, INPUT_URL, INPUT_API_KEY, INPUT_API_VERSION,
# DETAILED_EXITCODE, PLAN_FILE, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vaultsync="${VAULTSYNC:?the install step sets VAULTSYNC}"
command="${COMMAND:-plan}"
plan_file="${PLAN_FILE:-vaultsync.plan}"

fail() {
  echo "::error title=vaultsync action::$*"
  exit 1
}

case "$command" in
  validate | plan | apply | drift) ;;
  *) fail "the input command must be validate, plan, apply or drift" ;;
esac

# Inputs win over the job's environment; an empty input leaves the environment alone.
if [ -n "${INPUT_URL:-}" ]; then export EDC_MANAGEMENT_URL="$INPUT_URL"; fi
if [ -n "${INPUT_API_KEY:-}" ]; then export EDC_API_KEY="$INPUT_API_KEY"; fi
if [ -n "${INPUT_API_VERSION:-}" ]; then export EDC_API_VERSION="$INPUT_API_VERSION"; fi

# Split the lists on whitespace (spaces or newlines), never expanding globs.
set -f
# shellcheck disable=SC2206
files=(${FILES:-})
# shellcheck disable=SC2206
extra=(${ARGS:-})
set +f

case "$command" in
  validate | drift | plan)
    if [ "${#files[@]}" -eq 0 ]; then fail "the input files is empty: name the desired-state files to $command"; fi
    ;;
  apply)
    # Only a saved plan is applied: what reviewers saw, or nothing (a stale plan is refused).
    if [ "${#files[@]}" -ne 0 ]; then
      fail "apply takes the saved plan (the input plan-file), not files: plan with upload-plan: true, then apply with plan-from: pull-request"
    fi
    if [ ! -f "$plan_file" ]; then fail "no saved plan at $plan_file (the input plan-file)"; fi
    ;;
esac

args=("$command")
case "$command" in
  plan)
    args+=("${files[@]}" --format markdown --out "$plan_file")
    if [ "${DETAILED_EXITCODE:-true}" = "true" ]; then args+=(--detailed-exitcode); fi
    ;;
  apply) args+=("$plan_file") ;;
  *) args+=("${files[@]}") ;;
esac
args+=(--no-color ${extra[@]+"${extra[@]}"})

work="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/vaultsync-action"
mkdir -p "$work"
out="$work/$command.out"
err="$work/$command.err"
rm -f "$out" "$err"
if [ "$command" = plan ]; then rm -f "$plan_file"; fi

# Both streams go to the log as they come (a long apply shows its progress) and to files.
set +e
{
  "$vaultsync" "${args[@]}" | tee "$out"
  rc="${PIPESTATUS[0]}"
} 2> >(tee "$err" >&2)
wait "$!"
set -e

{
  echo "exitcode=$rc"
  echo "error-file=$err"
} >> "$GITHUB_OUTPUT"

# A fence longer than any run of backticks in the text, so that nothing in it closes it early.
fenced() {
  local text longest fence='```'
  text="$(cat "$@")"
  longest="$(printf '%s\n' "$text" | grep -o '`*' | awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }')"
  while [ "${#fence}" -le "$longest" ]; do fence="$fence\`"; done
  printf '%stext\n%s\n%s\n' "$fence" "$text" "$fence"
}

summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
case "$command" in
  plan)
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; then
      markdown="$plan_file.md"
      cp "$out" "$markdown"
      {
        echo "plan-file=$plan_file"
        echo "markdown-file=$markdown"
        "$(dirname "$vaultsync")/python" "$here/plan_counts.py" "$plan_file"
      } >> "$GITHUB_OUTPUT"
      cat "$out" >> "$summary"
    else
      { echo "### ❌ vaultsync plan failed (exit $rc)"; echo; fenced "$err"; } >> "$summary"
    fi
    ;;
  validate)
    if [ "$rc" -eq 0 ]; then
      echo "### ✅ vaultsync validate: ${files[*]} valid" >> "$summary"
    else
      { echo "### ❌ vaultsync validate failed (exit $rc)"; echo; fenced "$out" "$err"; } >> "$summary"
    fi
    ;;
  apply)
    echo "plan-file=$plan_file" >> "$GITHUB_OUTPUT"
    { echo "### vaultsync apply (exit $rc)"; echo; fenced "$out" "$err"; } >> "$summary"
    ;;
  drift)
    {
      echo "## vaultsync drift: ${files[*]}"
      echo
      case "$rc" in
        0) echo "✅ **No drift**: the vault matches the desired state." ;;
        2) echo "❌ **Drift detected**: the vault no longer matches the desired state. Apply it again, or change the desired state to match." ;;
        *) echo "⚠️ **Drift check failed** (exit $rc)." ;;
      esac
      echo
      fenced "$out" "$err"
    } >> "$summary"
    ;;
esac
