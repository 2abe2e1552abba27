#!/usr/bin/env bash
# The action's last step: the job's verdict from vaultsync's exit code, after the comment and
# the upload have run. plan: 0 and 2 (changes present) succeed; drift: 2 (drift) fails.
set -euo pipefail
command="${COMMAND:-plan}"
rc="${EXITCODE:?}"

case "$command:$rc" in
  *:0 | plan:2)
    exit 0
    ;;
  drift:2)
    echo "::error title=vaultsync drift::Drift detected: the vault no longer matches the desired state"
    ;;
  apply:*)
    echo "::error title=vaultsync apply::vaultsync apply failed (exit $rc): a stale plan (the vault, the state or a desired value changed since planning), a conflict, a held lock or a failed call. Nothing stale was written; see the log of the step 'vaultsync apply'."
    ;;
  *)
    echo "::error title=vaultsync $command::vaultsync $command failed (exit $rc); see the log of the step 'vaultsync $command'"
    ;;
esac
exit "$rc"
