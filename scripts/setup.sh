#!/usr/bin/env bash
# Installs what kumo and its tests need on a Debian machine, then builds kumo.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(containerd runc iproute2 busybox-static skopeo awscli ca-certificates curl wrk python3)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export PATH="/usr/local/go/bin:$PATH"
if ! command -v go >/dev/null; then
  echo "setup: Go is required (https://go.dev/dl); this machine has none in PATH" >&2
  exit 1
fi
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/kumo ./cmd/kumo
go build -o bin/kumo-fixtures ./internal/testimages/cmd/kumo-fixtures
echo "setup: built bin/kumo"
