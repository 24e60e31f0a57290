#!/usr/bin/env bash
# Zero downtime under load, with the Debian aws CLI and wrk: a service of 4
# test app tasks behind an ALB keeps answering every request (no socket
# error, no non-2xx) for 60 s of steady load while update-service rolls it
# to a new revision, and again for 60 s while it scales 4 -> 1 -> 4.
# All traffic goes to the load balancer's loopback address.
source "$(dirname "$0")/lib.bash"

if ! command -v wrk >/dev/null; then
  echo "installing wrk"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
start_fixtures
start_kumo

aws=/usr/bin/aws
command -v "$aws" >/dev/null || aws=aws
echo "using $($aws --version 2>&1), $(wrk --version 2>&1 | head -1)"
ecs() { "$aws" --endpoint-url "$endpoint" ecs "$@"; }
elb() { "$aws" --endpoint-url "$endpoint" elbv2 "$@"; }
cluster="zd-$RANDOM"
load_seconds=60
# Load: 2 threads, 8 keep-alive connections, each waiting 2 ms between
# requests, so the load stays bounded on a shared machine.
wrk_args=(-t2 -c8 "-d${load_seconds}s" --timeout 5s)

register() { # register LABEL: a revision of family web answering with LABEL
  cat >"$work/web.json" <<JSON
{"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
 "containerDefinitions": [{"name": "app", "image": "$registry/kumo/testapp:latest", "essential": true, "stopTimeout": 2,
   "portMappings": [{"containerPort": 8080}], "environment": [{"name": "TASK_LABEL", "value": "$1"}]}]}
JSON
  ecs register-task-definition --cli-input-json "file://$work/web.json" >/dev/null
}
describe() { ecs describe-services --cluster "$cluster" --services web --query "services[0].$1" --output text; }
target_states() { # the target group's states, sorted, e.g. "healthy healthy"
  elb describe-target-health --target-group-arn "$tg" --query 'TargetHealthDescriptions[].TargetHealth.State' \
    --output text | tr '\t' '\n' | sort | tr '\n' ' ' | sed 's/ $//'
}
# settled N: the service's one deployment is COMPLETED and its target group
# holds exactly N healthy targets and nothing else (no draining ones).
settled() {
  local want
  want=$(printf 'healthy %.0s' $(seq "$1") | sed 's/ $//')
  for _ in $(seq 60); do
    [ "$(describe 'length(deployments)')/$(describe 'deployments[0].rolloutState')" = 1/COMPLETED ] &&
      [ "$(target_states)" = "$want" ] && return 0
    sleep 1
  done
  interrupt_load
  fail "not settled at $1 tasks: deployments $(describe 'deployments[].[status,rolloutState]'), targets '$(target_states)'"
}

# The Lua script counts every status that is not 2xx, per code, across
# threads, and prints one RESULT line wrk's summary is parsed from.
cat >"$work/count.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) codes = {} end
function delay() return 2 end
function response(status, headers, body)
  if status < 200 or status > 299 then codes[status] = (codes[status] or 0) + 1 end
end
function done(summary, latency, requests)
  local bad, all, detail = 0, {}, ""
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("codes")) do
      bad = bad + n
      all[code] = (all[code] or 0) + n
    end
  end
  for code, n in pairs(all) do detail = detail .. string.format("%d:%d,", code, n) end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d seconds=%.1f non2xx=%d socket_errors=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx_codes=%s\n",
    summary.requests, summary.duration / 1e6, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3, detail))
  io.write(string.format("SOCKET connect=%d read=%d write=%d timeout=%d\n", e.connect, e.read, e.write, e.timeout))
end
LUA

# start_load NAME: 60 s of wrk through the ALB in the background.
start_load() {
  wrk "${wrk_args[@]}" -s "$work/count.lua" -H "Host: $dns" "http://$addr:$port/" >"$work/$1.wrk" 2>&1 &
  load_pid=$!
  pids+=("$load_pid")
}
# interrupt_load: stop the load early (wrk still reports on SIGINT) and
# show what it saw.
interrupt_load() {
  [ -n "${load_pid:-}" ] || return 0
  kill -INT "$load_pid" 2>/dev/null || true
  wait "$load_pid" || true
  grep '^RESULT\|^SOCKET' "$work"/*.wrk >&2 || true
}
# finish_load NAME: the load ran to its end with no failed request.
finish_load() {
  kill -0 "$load_pid" 2>/dev/null || fail "$1: the load ended before the change was over: $(cat "$work/$1.wrk")"
  wait "$load_pid" || fail "$1: wrk failed: $(cat "$work/$1.wrk")"
  load_pid=
  local result requests seconds non2xx errors
  result=$(grep '^RESULT' "$work/$1.wrk") || fail "$1: no result from wrk: $(cat "$work/$1.wrk")"
  requests=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$result")
  seconds=$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$result")
  non2xx=$(sed 's/.*non2xx=\([0-9]*\).*/\1/' <<<"$result")
  errors=$(sed 's/.*socket_errors=\([0-9]*\).*/\1/' <<<"$result")
  echo "$1: $(awk -v r="$requests" -v s="$seconds" 'BEGIN {printf "%d requests in %.1f s, %.0f req/s", r, s, r / s}')"
  echo "  ${result#RESULT }"
  [ "$errors" = 0 ] || fail "$1: $errors socket errors: $(grep '^SOCKET' "$work/$1.wrk")"
  [ "$non2xx" = 0 ] || fail "$1: $non2xx non-2xx responses"
  [ "$requests" -gt 1000 ] || fail "$1: only $requests requests"
}

ecs create-cluster --cluster-name "$cluster" >/dev/null
register v1
register v2
read -r lb dns addr < <(elb create-load-balancer --name "zd-alb-$RANDOM" --type application --subnets subnet-a subnet-b \
  --query 'LoadBalancers[0].[LoadBalancerArn,DNSName,AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress]' --output text)
tg=$(elb create-target-group --name "zd-tg-$RANDOM" --protocol HTTP --port 8080 --target-type ip --vpc-id vpc-local \
  --health-check-path /health --health-check-interval-seconds 5 --health-check-timeout-seconds 2 \
  --healthy-threshold-count 2 --unhealthy-threshold-count 2 --query 'TargetGroups[0].TargetGroupArn' --output text)
elb modify-target-group-attributes --target-group-arn "$tg" \
  --attributes Key=deregistration_delay.timeout_seconds,Value=5 >/dev/null
port=$(free_port)
elb create-listener --load-balancer-arn "$lb" --protocol HTTP --port "$port" \
  --default-actions "Type=forward,TargetGroupArn=$tg" >/dev/null

ecs create-service --cluster "$cluster" --service-name web --task-definition web:1 --desired-count 4 \
  --launch-type FARGATE --network-configuration 'awsvpcConfiguration={subnets=[subnet-local]}' \
  --load-balancers "targetGroupArn=$tg,containerName=app,containerPort=8080" \
  --deployment-configuration 'minimumHealthyPercent=50,maximumPercent=200,deploymentCircuitBreaker={enable=true,rollback=true}' >/dev/null
ecs wait services-stable --cluster "$cluster" --services web
settled 4
curl -sf -m 5 -H "Host: $dns" "http://$addr:$port/" | grep '"taskLabel":"v1"' >/dev/null || fail "the ALB does not answer from web:1"
echo "ok: 4 tasks of web:1 healthy behind http://$dns:$port/ ($addr)"

# Rolling update under load.
start_load rolling
sleep 3
ecs update-service --cluster "$cluster" --service web --task-definition web:2 >/dev/null
ecs wait services-stable --cluster "$cluster" --services web
settled 4
[[ "$(describe taskDefinition)" == *:task-definition/web:2 ]] || fail "taskDefinition $(describe taskDefinition)"
finish_load rolling
labels=$(for _ in $(seq 8); do curl -sf -H "Host: $dns" "http://$addr:$port/"; echo; done |
  grep -o '"taskLabel":"[^"]*"' | sort -u | tr '\n' ' ')
[ "$labels" = '"taskLabel":"v2" ' ] || fail "after the update the ALB answers with $labels"
echo "ok: rolled 4 tasks to web:2 under load"

# Scaling 4 -> 1 -> 4 under load.
start_load scaling
sleep 3
ecs update-service --cluster "$cluster" --service web --desired-count 1 >/dev/null
ecs wait services-stable --cluster "$cluster" --services web
settled 1
ecs update-service --cluster "$cluster" --service web --desired-count 4 >/dev/null
ecs wait services-stable --cluster "$cluster" --services web
settled 4
finish_load scaling
echo "ok: scaled 4 -> 1 -> 4 under load"

ecs delete-service --cluster "$cluster" --service web --force >/dev/null
ecs wait services-inactive --cluster "$cluster" --services web
echo "ok: zero downtime with $aws and wrk"
