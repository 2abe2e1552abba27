#!/usr/bin/env bash
# Install actionlint (the GitHub Actions workflow linter used by
# tests/test_ci_examples.py) into .ci/bin/, building it with Go from the Go
# module proxy. Idempotent: does nothing when the pinned version is there.
#
#   .ci/install-actionlint.sh          # installs ACTIONLINT_VERSION (below)
#   ACTIONLINT_VERSION=v1.7.7 .ci/install-actionlint.sh
set -euo pipefail

version="${ACTIONLINT_VERSION:-v1.7.12}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bindir="$root/.ci/bin"
bin="$bindir/actionlint"

if [ -x "$bin" ] && [ "$("$bin" -version 2>/dev/null | head -n 1)" = "$version" ]; then
    echo "actionlint $version is already installed in $bindir"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "error: Go is needed to install actionlint (https://go.dev/doc/install)" >&2
    exit 1
fi

mkdir -p "$bindir"
echo "Installing actionlint $version into $bindir ..."
GOBIN="$bindir" go install "github.com/rhysd/actionlint/cmd/actionlint@${version}"
"$bin" -version | head -n 1
