#!/usr/bin/env bash
# Registry throughput, kumo against CNCF distribution (Debian docker-registry),
# side by side in one run (issue 3, Performance).
#
#   scripts/bench/registry.sh            # ROUNDS=5 SIZE_MIB=200 CONCURRENT=1 by default
#
# Both registries listen on loopback with plain HTTP, no auth and a fresh
# temporary storage dir. Each round writes a new single-layer image of
# SIZE_MIB random, incompressible bytes (kumo-bigimage, seed = round), so
# every push uploads a blob neither registry has seen: no mount or
# deduplication shortcut. In each round both registries get the same image;
# the order alternates (kumo first in odd rounds), and `sync` runs before
# every timed copy, so neither pays for the other's dirty pages. A push is
# `skopeo copy oci:... docker://...:rN`, a pull `skopeo copy docker://...:rN
# dir:...` into an empty directory. Throughput is the layer's size over the
# wall time of the copy; the figures are medians over the rounds.
# The registry's own CPU time per copy is reported too: on a shared machine
# it is steadier than wall time, and it shows what each registry costs.
# So is the same image copied by skopeo from oci: to dir: with no registry
# in between: the most any registry could reach with skopeo as the client.
# With CONCURRENT=1 it then runs the Go benchmark of 50 concurrent pulls.
# KUMO_BIN=path benchmarks that kumo binary instead of building this tree.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rounds=${ROUNDS:-5}
size_mib=${SIZE_MIB:-200}
concurrent=${CONCURRENT:-1}
# shellcheck source=scripts/bench/lib.bash
source "$root/scripts/bench/lib.bash"

[[ $rounds =~ ^[0-9]+$ ]] && ((rounds >= 1 && rounds <= 20)) || { echo "ROUNDS must be 1..20" >&2; exit 2; }
[[ $size_mib =~ ^[0-9]+$ ]] && ((size_mib >= 1 && size_mib <= 4096)) || { echo "SIZE_MIB must be 1..4096" >&2; exit 2; }

install_missing docker-registry skopeo awscli curl python3
bench_start registry

echo "bench: building kumo-bigimage"
(cd "$root" && go build -o "$work/kumo-bigimage" ./internal/testimages/cmd/kumo-bigimage)
build_kumo

dist="127.0.0.1:$(free_port)"
mkdir -p "$work/distribution"
cat >"$work/distribution.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/distribution
  delete:
    enabled: true
http:
  addr: $dist
YAML
/usr/bin/docker-registry serve "$work/distribution.yml" >"$work/distribution.log" 2>&1 &
pids+=($!)
dist_pid=$!

kumo="127.0.0.1:$(free_port)"
"$kumo_bin" up --listen "$kumo" --data-dir "$work/kumo-data" >"$work/kumo.log" 2>&1 &
pids+=($!)
kumo_pid=$!
wait_for "http://$dist/v2/" "$dist_pid"
wait_for "http://$kumo/_kumo/health" "$kumo_pid"
# kumo's registry refuses pushes into repositories ECR does not know.
/usr/bin/aws --endpoint-url "http://$kumo" ecr create-repository --repository-name bench >/dev/null


# timed_copy PID SRC DEST runs one skopeo copy and prints its wall time and
# the CPU time the registry process PID spent meanwhile, both in ms.
timed_copy() {
  sync
  local start end cpu0
  cpu0=$(cpu_ms "$1")
  start=$(date +%s%N)
  skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "$2" "$3" >/dev/null
  end=$(date +%s%N)
  echo "$(((end - start) / 1000000)) $(($(cpu_ms "$1") - cpu0))"
}

results=$work/results # lines: registry op round wall_ms server_cpu_ms
echo "bench: $rounds rounds of a ${size_mib} MiB single-layer image; kumo $kumo, distribution $dist"
for ((i = 1; i <= rounds; i++)); do
  rm -rf "$work/layout"
  read -r layer_digest layer_bytes < <("$work/kumo-bigimage" -out "$work/layout" -size-mib "$size_mib" -seed "$i")
  order=(kumo distribution)
  ((i % 2)) || order=(distribution kumo)
  for reg in "${order[@]}"; do
    host=$kumo pid=$kumo_pid
    [ "$reg" = distribution ] && host=$dist pid=$dist_pid
    echo "$reg push $i $(timed_copy "$pid" "oci:$work/layout" "docker://$host/bench:r$i")" | tee -a "$results"
    rm -rf "$work/pull"
    echo "$reg pull $i $(timed_copy "$pid" "docker://$host/bench:r$i" "dir:$work/pull")" | tee -a "$results"
    pulled=$(stat -c %s "$work/pull/${layer_digest#sha256:}" 2>/dev/null || echo 0)
    ((pulled == layer_bytes)) || { echo "bench: pull from $reg gave a layer of $pulled bytes, want $layer_bytes" >&2; exit 1; }
    rm -rf "$work/pull"
  done
  # The same copy with no registry at all: the ceiling skopeo itself sets
  # (its CPU column is the shell's, unused).
  echo "none copy $i $(timed_copy $$ "oci:$work/layout" "dir:$work/pull")" | tee -a "$results"
  rm -rf "$work/pull"
done

# The table: median throughput over the rounds (layer bytes / wall time),
# the kumo/distribution ratio, and the registry's median CPU time per copy.
echo
python3 - "$results" "$layer_bytes" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
mib = int(sys.argv[2]) / 1048576
def median(reg, op, col):
    return statistics.median(int(r[col]) for r in rows if r[0] == reg and r[1] == op)
print("%-5s %11s %15s %7s %18s %18s" % ("", "kumo MiB/s", "distrib. MiB/s", "ratio", "kumo CPU ms/copy", "distrib. CPU ms/copy"))
for op in ("push", "pull"):
    k, d = mib / (median("kumo", op, 3) / 1000), mib / (median("distribution", op, 3) / 1000)
    print("%-5s %11.1f %15.1f %6.2fx %18d %18d" % (op, k, d, k / d, median("kumo", op, 4), median("distribution", op, 4)))
print("skopeo alone, oci: to dir: without a registry: %.1f MiB/s" % (mib / (median("none", "copy", 3) / 1000)))
PY

if ((concurrent)); then
  echo
  echo "bench: 50 concurrent pulls through kumo's endpoint stack (go test -bench ConcurrentPulls)"
  (cd "$root" && go test -run X -bench ConcurrentPulls -benchtime 5x ./internal/services/ecr/ | grep -E '^Benchmark|^ok|FAIL')
fi
