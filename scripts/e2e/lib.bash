# Shared helpers of the end-to-end scripts: a kumo on free ports with a
# temporary data dir, the fixture images in a local registry, and cleanup.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
kumo_bin="$root/bin/kumo"
fixtures_bin="$root/bin/kumo-fixtures"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
export AWS_PAGER=""
export PATH="/usr/local/go/bin:$PATH"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d /tmp/kumo-e2e-XXXX)
kumo_addr="127.0.0.1:$(free_port)"
registry="127.0.0.1:$(free_port)"
endpoint="http://$kumo_addr"
pids=()

cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $rc -ne 0 ] && [ -f "$work/kumo.log" ]; then echo "--- kumo log"; tail -50 "$work/kumo.log"; fi
  "$kumo_bin" purge --data-dir "$work/data" --remove-data || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

start_fixtures() {
  "$fixtures_bin" -serve "$registry" >"$work/fixtures.log" 2>&1 &
  pids+=($!)
  wait_for "grep -q ready $work/fixtures.log"
}

start_kumo() {
  "$kumo_bin" up --listen "$kumo_addr" --data-dir "$work/data" >>"$work/kumo.log" 2>&1 &
  kumo_pid=$!
  pids+=($kumo_pid)
  wait_for "curl -sf $endpoint/_kumo/health"
}

wait_for() {
  for _ in $(seq 300); do
    if eval "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for: $1" >&2
  return 1
}

fail() { echo "FAIL: $*" >&2; exit 1; }
