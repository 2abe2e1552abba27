#!/usr/bin/env bash
# sops, age and age-keygen for the tests (the sops tests run the real programs; tests make their own keys).
# Prints a PATH prefix ("dir:dir:" or nothing) on stdout; progress and warnings go to stderr.
# Found on PATH, in .ci/bin or ~/go/bin, they are used as they are; otherwise, when Go exists, they are
# built into .ci/bin (git-ignored) from the Go module proxy: about 3 minutes once, then cached.
set -euo pipefail
cd "$(dirname "$0")/.."
SOPS_VERSION=v3.13.3
AGE_VERSION=v1.3.2
LOCAL_BIN="$PWD/.ci/bin"
GO_BIN="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
SEARCH="$LOCAL_BIN:$GO_BIN:$PATH"

have() { PATH="$SEARCH" command -v "$1" >/dev/null 2>&1; }

if ! have sops || ! have age || ! have age-keygen; then
  if command -v go >/dev/null 2>&1; then
    mkdir -p "$LOCAL_BIN"
    if ! have sops; then
      echo "sops-tools: building sops $SOPS_VERSION into .ci/bin (Go, a few minutes the first time)" >&2
      GOBIN="$LOCAL_BIN" go install "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION" >&2
    fi
    if ! have age || ! have age-keygen; then
      echo "sops-tools: building age $AGE_VERSION into .ci/bin" >&2
      GOBIN="$LOCAL_BIN" go install "filippo.io/age/cmd/...@$AGE_VERSION" >&2
    fi
  else
    echo "sops-tools: sops/age not found and Go is missing: the sops tests will skip (and fail under CI=true)" >&2
  fi
fi
prefix=""
for dir in "$LOCAL_BIN" "$GO_BIN"; do
  [ -d "$dir" ] && prefix="$prefix$dir:"
done
printf '%s' "$prefix"
