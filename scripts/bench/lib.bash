# Shared by the benchmark scripts (source it after setting root): package
# installs, a temporary work dir cleaned up on exit with the servers in
# pids, free ports, readiness waits, kumo's build and CPU accounting.
# bench_start NAME makes the work dir and sets the cleanup trap.
export PATH="/usr/local/go/bin:$PATH"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""

# install_missing installs the packages that are not there yet without
# letting them start their daemons (nginx would take port 80): a
# policy-rc.d answering 101 ("action forbidden") covers the install and is
# removed after, unless the machine already had one.
install_missing() {
  local missing=() p own_policy=0
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  echo "bench: installing ${missing[*]}"
  local rc=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  ((own_policy)) && rm -f /usr/sbin/policy-rc.d
  return $rc
}

bench_start() {
  work=$(mktemp -d "/tmp/kumo-bench-$1-XXXX")
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local rc=$?
  set +e # clean up everything, whatever fails
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((rc != 0)); then
    for log in "$work"/*.log; do [ -f "$log" ] && { echo "--- $log"; tail -20 "$log"; }; done
  fi
  [ -x "${kumo_bin:-}" ] && "$kumo_bin" purge --data-dir "$work/kumo-data" --remove-data >/dev/null 2>&1
  rm -rf "$work"
  exit $rc
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for URL PID waits up to 30 s for URL to answer 2xx, while PID runs.
wait_for() {
  for _ in $(seq 300); do
    if curl -skf -o /dev/null "$1" 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "bench: the server for $1 exited" >&2; return 1; }
    sleep 0.1
  done
  echo "bench: timed out waiting for $1" >&2
  return 1
}

# build_kumo sets kumo_bin: KUMO_BIN when given, else kumo built from this
# tree with the flags of scripts/setup.sh, so the figures are those of the
# code being looked at.
build_kumo() {
  kumo_bin=${KUMO_BIN:-}
  [ -z "$kumo_bin" ] || [ -x "$kumo_bin" ] || { echo "bench: KUMO_BIN=$kumo_bin is not an executable" >&2; exit 2; }
  [ -z "$kumo_bin" ] || return 0
  echo "bench: building kumo (flags of scripts/setup.sh)"
  kumo_bin=$work/kumo
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$kumo_bin" ./cmd/kumo) ||
    { echo "bench: kumo does not build; KUMO_BIN=bin/kumo benchmarks an existing build" >&2; exit 1; }
}

# cpu_ms PID... prints the CPU time (user + system) the processes have
# used, in ms.
cpu_ms() {
  local hz
  hz=$(getconf CLK_TCK)
  for p in "$@"; do cat "/proc/$p/stat"; done 2>/dev/null |
    awk -v hz="$hz" '{sub(/^.*\) /, ""); t += $12 + $13} END {print int(t * 1000 / hz)}'
}
