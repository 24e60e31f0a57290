#!/usr/bin/env bash
# ECS services with the Debian aws CLI: a service of 3 test app tasks, a
# killed task replaced, a rolling update to a new revision, a revision whose
# containers crash rolled back by the circuit breaker, and a forced delete.
source "$(dirname "$0")/lib.bash"
start_fixtures
start_kumo

aws=/usr/bin/aws
command -v "$aws" >/dev/null || aws=aws
echo "using $($aws --version 2>&1)"
ecs() { "$aws" --endpoint-url "$endpoint" ecs "$@"; }
cluster="svc-$RANDOM"
net='awsvpcConfiguration={subnets=[subnet-local]}'

register() { # register LABEL [EXTRA-JSON-MEMBERS]: a revision of family web
  cat >"$work/web.json" <<JSON
{"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
 "containerDefinitions": [{"name": "app", "image": "$registry/kumo/testapp:latest", "essential": true, "stopTimeout": 2,
   ${2:-} "portMappings": [{"containerPort": 8080}],
   "environment": [{"name": "TASK_LABEL", "value": "$1"}]}]}
JSON
  ecs register-task-definition --cli-input-json "file://$work/web.json" >/dev/null
}

describe() { ecs describe-services --cluster "$cluster" --services web --query "services[0].$1" --output text; }
# wait_event TEXT: the service's events mention TEXT within a minute.
wait_event() {
  for _ in $(seq 60); do
    describe 'events[].message' | grep -F "$1" >/dev/null && return 0
    sleep 1
  done
  fail "no event '$1'; events: $(describe 'events[].message')"
}
task_ips() {
  local arns
  arns=$(ecs list-tasks --cluster "$cluster" --service-name web --query 'taskArns' --output text)
  [ -n "$arns" ] || return 0
  # shellcheck disable=SC2086
  ecs describe-tasks --cluster "$cluster" --tasks $arns --output text \
    --query 'tasks[?lastStatus==`RUNNING`].attachments[].details[?name==`privateIPv4Address`][].value'
}

ecs create-cluster --cluster-name "$cluster" >/dev/null
register v1
register v2
register crash '"command": ["exit", "1"],'

ecs create-service --cluster "$cluster" --service-name web --task-definition web:1 --desired-count 3 \
  --launch-type FARGATE --network-configuration "$net" \
  --deployment-configuration 'minimumHealthyPercent=50,maximumPercent=200,deploymentCircuitBreaker={enable=true,rollback=true}' >/dev/null
ecs wait services-stable --cluster "$cluster" --services web
[ "$(describe runningCount)" = 3 ] || fail "runningCount $(describe runningCount), want 3"
wait_event "(service web) has reached a steady state."
ips=$(task_ips)
[ "$(wc -w <<<"$ips")" = 3 ] || fail "task IPs: '$ips', want 3"
for ip in $ips; do
  curl -sf "http://$ip:8080/" | grep '"v1"' >/dev/null || fail "task $ip does not answer v1"
done
echo "ok: 3 tasks answer"

# A task whose process exits is replaced.
service_tasks() { ecs list-tasks --cluster "$cluster" --service-name web --query 'taskArns' --output text | tr '\t' '\n' | sort; }
replaced() { [ -n "$(service_tasks | comm -13 "$work/before" -)" ]; }
victim=$(echo "$ips" | awk '{print $1}')
service_tasks >"$work/before"
curl -s -m 2 "http://$victim:8080/exit?code=1" >/dev/null || true
wait_for replaced
ecs wait services-stable --cluster "$cluster" --services web
echo "ok: killed task replaced"

# Rolling update to a new revision.
ecs update-service --cluster "$cluster" --service web --task-definition web:2 >/dev/null
ecs wait services-stable --cluster "$cluster" --services web
[[ "$(describe taskDefinition)" == *:task-definition/web:2 ]] || fail "taskDefinition $(describe taskDefinition)"
ips=$(task_ips)
[ "$(wc -w <<<"$ips")" = 3 ] || fail "task IPs after the update: '$ips', want 3"
for ip in $ips; do
  curl -sf "http://$ip:8080/" | grep '"v2"' >/dev/null || fail "task $ip does not answer v2 after the update"
done
echo "ok: rolled to web:2"

# A revision that crashes on start is rolled back by the circuit breaker.
for _ in $(seq 60); do
  [ "$(describe 'deployments[0].rolloutState')" = COMPLETED ] && break
  sleep 1
done
ecs update-service --cluster "$cluster" --service web --task-definition web:3 >/dev/null
wait_event 'rolling back to deployment'
wait_event 'deployment failed: tasks failed to start.'
ecs wait services-stable --cluster "$cluster" --services web
[[ "$(describe taskDefinition)" == *:task-definition/web:2 ]] || fail "after rollback: taskDefinition $(describe taskDefinition)"
echo "ok: circuit breaker rolled back to web:2"

# Errors as ECS answers them.
out=$(ecs delete-cluster --cluster "$cluster" 2>&1) && fail "delete-cluster with a service succeeded"
grep -q ClusterContainsServicesException <<<"$out" || fail "delete-cluster: $out"
out=$(ecs delete-service --cluster "$cluster" --service web 2>&1) && fail "delete-service above 0 without --force succeeded"
grep -q InvalidParameterException <<<"$out" || fail "delete-service: $out"

ecs delete-service --cluster "$cluster" --service web --force >/dev/null
ecs wait services-inactive --cluster "$cluster" --services web
left=$(ecs list-tasks --cluster "$cluster" --service-name web --query 'length(taskArns || `[]`)' --output text)
[ "$left" = 0 ] || fail "$left tasks left after delete"
ecs delete-cluster --cluster "$cluster" >/dev/null
echo "ok: services with $aws"
