#!/usr/bin/env bash
# Install vaultsync from the action's own checkout into a venv of its own, with the exact
# dependency versions of constraints.txt, so a plan job never changes because a dependency
# released overnight, and the job's own Python environment is left alone.
#
# Environment: GITHUB_ACTION_PATH (the checkout), VAULTSYNC_PYTHON (3.11+), RUNNER_TEMP,
# GITHUB_OUTPUT. Output: vaultsync=<path of the installed command>.
set -euo pipefail
src="${GITHUB_ACTION_PATH:?}"
python="${VAULTSYNC_PYTHON:-python3}"
venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/vaultsync-action-venv"
stamp="$venv/.vaultsync-action"
want="$src $(cksum < "$src/constraints.txt") $(cksum < "$src/vaultsync/__init__.py")"

# A second use of the action in the same job reuses the venv.
if [ ! -x "$venv/bin/vaultsync" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$src/constraints.txt" "$src"
  printf '%s' "$want" > "$stamp"
fi
"$venv/bin/vaultsync" --version
echo "vaultsync=$venv/bin/vaultsync" >> "$GITHUB_OUTPUT"
