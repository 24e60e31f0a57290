#!/usr/bin/env bash
# ALB data plane throughput and latency, kumo against nginx, HAProxy and
# Caddy (Debian packages) proxying to the same backend, side by side in one
# run (issue 5, Performance).
#
#   scripts/bench/alb.sh                 # ROUNDS=2 DURATION=15s CONNECTIONS=64 by default
#   BODY=512 scripts/bench/alb.sh        # POSTs with a 512-byte body instead of GETs
#   TLS=1 scripts/bench/alb.sh           # HTTPS listeners (one self-signed P-256 certificate)
#
# One backend (scripts/bench/alb-backend: every path answers a 1 KB body)
# listens on loopback. kumo serves it through an application load balancer
# made with the Debian aws CLI: a target group whose health check hits the
# backend, an HTTP listener forwarding to it, on the load balancer's own
# 127.x.y.z address. nginx, HAProxy and Caddy each run from a minimal
# config in a temporary dir, on their own loopback ports, with keep-alive
# upstream pools and X-Forwarded-For; their distro services are never
# started. wrk (-t2, keep-alive, --latency) loads the backend directly and
# then each proxy; the order rotates every round. The table holds medians
# over the rounds of req/s, p50 and p99, the ratios to nginx (round by
# round, then their median), and each
# proxy's own CPU time per request (the backend's for "direct"): on a
# shared machine that is the steadier figure, and it says what a request
# costs each proxy.
# KUMO_BIN=path benchmarks that kumo binary instead of building this tree.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rounds=${ROUNDS:-2}
duration=${DURATION:-15s}
connections=${CONNECTIONS:-64}
body=${BODY:-0}
tls=${TLS:-0}
# shellcheck source=scripts/bench/lib.bash
source "$root/scripts/bench/lib.bash"

[[ $rounds =~ ^[0-9]+$ ]] && ((rounds >= 1 && rounds <= 10)) || { echo "ROUNDS must be 1..10" >&2; exit 2; }
[[ $duration =~ ^[0-9]+s$ ]] && ((${duration%s} >= 1 && ${duration%s} <= 120)) || { echo "DURATION must be 1s..120s" >&2; exit 2; }
[[ $connections =~ ^[0-9]+$ ]] && ((connections >= 1 && connections <= 1000)) || { echo "CONNECTIONS must be 1..1000" >&2; exit 2; }
[[ $body =~ ^[0-9]+$ ]] && ((body <= 65536)) || { echo "BODY must be 0..65536 (bytes)" >&2; exit 2; }
[[ $tls == 0 || $tls == 1 ]] || { echo "TLS must be 0 or 1" >&2; exit 2; }

packages=(wrk nginx haproxy awscli curl python3 openssl)
apt-cache show caddy >/dev/null 2>&1 && packages+=(caddy)
install_missing "${packages[@]}"

bench_start alb

echo "bench: building the backend"
(cd "$root" && go build -o "$work/alb-backend" ./scripts/bench/alb-backend)
build_kumo

backend_port=$(free_port)
backend=127.0.0.1:$backend_port
"$work/alb-backend" -listen "$backend" >"$work/backend.log" 2>&1 &
backend_pid=$!
pids+=($backend_pid)
wait_for "http://$backend/" $backend_pid

# urls and servers: the URL each contender is loaded at, and the PIDs
# whose CPU time is its cost. With TLS the proxies listen with HTTPS, all
# with the same certificate, and the backend stays plain HTTP behind them.
declare -A urls servers
scheme=http
if ((tls)); then
  scheme=https
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench.localhost \
    -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
  cat "$work/tls.crt" "$work/tls.key" >"$work/tls.pem"
fi

start_kumo() {
  local endpoint=127.0.0.1:$(free_port) pid lb addr tg port
  "$kumo_bin" up --listen "$endpoint" --data-dir "$work/kumo-data" >"$work/kumo.log" 2>&1 &
  pid=$!
  pids+=($pid)
  wait_for "http://$endpoint/_kumo/health" $pid
  elb() { /usr/bin/aws --endpoint-url "http://$endpoint" elbv2 "$@"; }
  read -r lb addr < <(elb create-load-balancer --name bench-alb --type application --subnets subnet-a subnet-b \
    --query 'LoadBalancers[0].[LoadBalancerArn,AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress]' --output text)
  tg=$(elb create-target-group --name bench-tg --protocol HTTP --port "$backend_port" --target-type ip \
    --vpc-id vpc-local --health-check-path /health --health-check-interval-seconds 5 --health-check-timeout-seconds 2 \
    --healthy-threshold-count 2 --query 'TargetGroups[0].TargetGroupArn' --output text)
  port=$(free_port)
  local listener=(--protocol HTTP)
  if ((tls)); then
    local cert
    cert=$(/usr/bin/aws --endpoint-url "http://$endpoint" acm import-certificate --certificate "fileb://$work/tls.crt" \
      --private-key "fileb://$work/tls.key" --query CertificateArn --output text)
    listener=(--protocol HTTPS --certificates "CertificateArn=$cert")
  fi
  elb create-listener --load-balancer-arn "$lb" "${listener[@]}" --port "$port" \
    --default-actions "Type=forward,TargetGroupArn=$tg" >/dev/null
  elb register-targets --target-group-arn "$tg" --targets "Id=127.0.0.1,Port=$backend_port"
  local state=""
  for _ in $(seq 150); do
    state=$(elb describe-target-health --target-group-arn "$tg" --query 'TargetHealthDescriptions[0].TargetHealth.State' --output text)
    [ "$state" = healthy ] && break
    sleep 0.2
  done
  [ "$state" = healthy ] || { echo "bench: the kumo target is $state, not healthy" >&2; return 1; }
  urls[kumo]=$scheme://$addr:$port/
  servers[kumo]=$pid
  wait_for "${urls[kumo]}" $pid
}

start_nginx() {
  local port pid ssl=""
  port=$(free_port)
  ((tls)) && ssl="ssl; ssl_certificate $work/tls.crt; ssl_certificate_key $work/tls.key"
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream backend {
    server $backend;
    keepalive 128;
  }
  server {
    listen 127.0.0.1:$port ${ssl:-};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
CONF
  /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' >>"$work/nginx.log" 2>&1 &
  pid=$!
  pids+=($pid)
  urls[nginx]=$scheme://127.0.0.1:$port/
  wait_for "${urls[nginx]}" $pid
  servers[nginx]="$pid $(pgrep -P "$pid" | tr '\n' ' ')" # the master and its workers
}

start_haproxy() {
  local port pid ssl=""
  port=$(free_port)
  ((tls)) && ssl="ssl crt $work/tls.pem"
  cat >"$work/haproxy.cfg" <<CONF
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend bench
  bind 127.0.0.1:$port $ssl
  default_backend backend
backend backend
  server b1 $backend
CONF
  /usr/sbin/haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
  pid=$!
  pids+=($pid)
  urls[haproxy]=$scheme://127.0.0.1:$port/
  servers[haproxy]=$pid
  wait_for "${urls[haproxy]}" $pid
}

start_caddy() {
  local port pid ssl="" sni=""
  port=$(free_port)
  # wrk sends no SNI to an IP address; Caddy picks certificates by SNI.
  ((tls)) && ssl="tls $work/tls.crt $work/tls.key" sni="default_sni bench.localhost"
  cat >"$work/Caddyfile" <<CONF
{
  admin off
  auto_https off
  $sni
}
$scheme://127.0.0.1:$port {
  bind 127.0.0.1
  $ssl
  reverse_proxy $backend
}
CONF
  XDG_DATA_HOME=$work/caddy XDG_CONFIG_HOME=$work/caddy HOME=$work \
    /usr/bin/caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
  pid=$!
  pids+=($pid)
  urls[caddy]=$scheme://127.0.0.1:$port/
  servers[caddy]=$pid
  wait_for "${urls[caddy]}" $pid
}

urls[direct]=http://$backend/
servers[direct]=$backend_pid
contenders=(direct kumo nginx haproxy)
start_kumo
start_nginx
start_haproxy
if command -v caddy >/dev/null; then
  start_caddy
  contenders+=(caddy)
fi
# The body each one returns is the backend's 1 KB.
for c in "${contenders[@]}"; do
  size=$(curl -skf -o /dev/null -w '%{size_download}' "${urls[$c]}")
  [ "$size" = 1024 ] || { echo "bench: $c answered $size bytes, want 1024" >&2; exit 1; }
done

# to_ms converts a wrk latency (850.00us, 1.20ms, 1.05s) to ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

# With BODY, wrk POSTs that many bytes per request.
wrk_args=(-t2 -c"$connections" -d"$duration" --latency)
if ((body > 0)); then
  printf 'wrk.method = "POST"\nwrk.body = string.rep("b", %d)\nwrk.headers["Content-Type"] = "application/json"\n' "$body" >"$work/post.lua"
  wrk_args+=(-s "$work/post.lua")
fi

results=$work/results # lines: contender round req/s p50_ms p99_ms errors cpu_us_per_request
echo "bench: $rounds rounds of wrk ${wrk_args[*]}; backend $backend"
for ((i = 1; i <= rounds; i++)); do
  n=${#contenders[@]}
  for ((k = 0; k < n; k++)); do
    c=${contenders[$(((k + i - 1) % n))]}
    cpu0=$(cpu_ms ${servers[$c]})
    out=$(wrk "${wrk_args[@]}" "${urls[$c]}")
    cpu1=$(cpu_ms ${servers[$c]})
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    errors=$(awk '/Non-2xx or 3xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
    cpu_us=$(awk -v ms=$((cpu1 - cpu0)) -v n="$total" 'BEGIN {printf "%.1f", n ? ms * 1000 / n : 0}')
    echo "$c $i $rps $p50 $p99 $errors $cpu_us" | tee -a "$results"
  done
done

echo
python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
names = list(dict.fromkeys(r[0] for r in rows))
value = {(r[0], r[1]): r for r in rows}
def med(name, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == name)
# Ratios to nginx are taken round by round (both measured minutes apart at
# most, under the same load from the rest of the machine), then the median.
def paired(name, col, op):
    return statistics.median(op(float(value[name, i][col]), float(value["nginx", i][col]))
                             for (n, i) in value if n == name)
print("%-8s %9s %8s %8s %7s %11s %12s %15s" % ("", "req/s", "p50 ms", "p99 ms", "errors", "CPU us/req", "req/s:nginx", "p99-nginx ms"))
for n in names:
    errors = sum(int(r[5]) for r in rows if r[0] == n)
    print("%-8s %9.0f %8.2f %8.2f %7d %11.1f %11.2fx %+15.2f" % (
        n, med(n, 2), med(n, 3), med(n, 4), errors, med(n, 6),
        paired(n, 2, lambda a, b: a / b), paired(n, 4, lambda a, b: a - b)))
print("medians over the rounds; req/s:nginx and p99-nginx: the median of each round's ratio or difference")
PY
