#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs every test: unit and integration
# tests (real kumo, real containerd) and the end-to-end scripts with the aws CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="/usr/local/go/bin:$PATH"

echo "== gofmt, go vet"
unformatted=$(gofmt -l cmd internal tools scripts)
[ -z "$unformatted" ] || { echo "not gofmt-formatted:"; echo "$unformatted"; exit 1; }
go vet ./...
echo "== go test"
go test -count=1 -timeout 20m ./...
echo "== end-to-end: aws CLI"
for e2e in scripts/e2e/*.sh; do
  echo "-- $e2e"
  bash "$e2e"
done
echo "all tests passed"
