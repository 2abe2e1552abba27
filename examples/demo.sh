#!/usr/bin/env bash
# `make demo`: the whole flow on the embedded dev-server, start to finish.
set -euo pipefail
cd "$(dirname "$0")/.."
VS=.venv/bin/vaultsync
workdir=.demo
mkdir -p "$workdir"
rm -f "$workdir"/*

# A demo value for the OAuth2 client secret the example file reads from the environment.
export PROVIDER_OAUTH_CLIENT_SECRET="demo-oauth-client-secret-$(date +%s)"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "vaultsync dev-server --port 0   (an EDC-compatible secrets API on loopback)"
"$VS" dev-server --port 0 >"$workdir/server.out" 2>"$workdir/server.err" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$workdir/server.out" ] && break
  sleep 0.1
done
line=$(head -n 1 "$workdir/server.out")
echo "$line"
export "${line?}"

step "vaultsync validate examples/connector.json"
"$VS" validate examples/connector.json

step "vaultsync plan examples/connector.json"
"$VS" plan examples/connector.json

step "vaultsync apply examples/connector.json --auto-approve"
"$VS" apply examples/connector.json --auto-approve

step "vaultsync plan examples/connector.json --detailed-exitcode   (expect: no changes, exit 0)"
"$VS" plan examples/connector.json --detailed-exitcode

step "an asset's data address names the OAuth2 secret (POST /v3/assets): plans show which assets use it"
.venv/bin/python - <<'PY'
import os, httpx
body = {"@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"}, "@id": "provider-api", "properties": {},
        "dataAddress": {"type": "HttpData", "baseUrl": "https://provider.example/api",
                        "oauth2:clientSecretKey": "provider-oauth-client-secret"}}
httpx.post(os.environ["EDC_MANAGEMENT_URL"] + "/v3/assets", json=body).raise_for_status()
print("created asset provider-api")
PY

step "rotate the OAuth2 client secret, then plan and apply again (one PUT, nothing else)"
export PROVIDER_OAUTH_CLIENT_SECRET="rotated-$PROVIDER_OAUTH_CLIENT_SECRET"
"$VS" plan examples/connector.json
"$VS" apply examples/connector.json --auto-approve

step "vaultsync plan --detailed-exitcode --format json   (for machines; expect exit 0)"
"$VS" plan examples/connector.json --detailed-exitcode --format json --quiet >"$workdir/plan.json"
.venv/bin/python -c 'import json, sys; print("summary:", json.dumps(json.load(open(sys.argv[1]))["summary"]))' \
  "$workdir/plan.json"

step "vaultsync state list examples/connector.json"
"$VS" state list examples/connector.json

step "a sops-encrypted desired file (examples/sops/, decrypted with its TEST-ONLY age key)"
if PATH="$PATH:$HOME/go/bin:$PWD/.ci/bin" command -v sops >/dev/null; then
  # Its own state alias: the two example files describe different parts of one vault.
  PATH="$PATH:$HOME/go/bin:$PWD/.ci/bin" SOPS_AGE_KEY_FILE=examples/sops/TEST-ONLY-age-key.txt \
    "$VS" apply examples/sops/connector.sops.json --auto-approve --state-alias demo-sops-state --lock-alias demo-sops-lock
else
  echo "(sops is not installed: skipped; see README, section on sops)"
fi

printf '\n\033[1mDemo complete:\033[0m the vault matches examples/connector.json. The dev-server is stopped.\n'
