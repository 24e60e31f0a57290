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

# The issue's flow: a service behind an ALB, answered by its 3 tasks in
# turn, then a rolling update while requests keep flowing: none may fail.
elb() { "$aws" --endpoint-url "$endpoint" elbv2 "$@"; }
lb=$(elb create-load-balancer --name web-alb --type application --subnets subnet-a subnet-b --query 'LoadBalancers[0].[LoadBalancerArn,DNSName]' --output text)
lb_arn=$(cut -f1 <<<"$lb"); dns=$(cut -f2 <<<"$lb")
tg=$(elb create-target-group --name web-tg --protocol HTTP --port 8080 --target-type ip --vpc-id vpc-local --health-check-path /health \
  --health-check-interval-seconds 5 --health-check-timeout-seconds 2 --healthy-threshold-count 2 --query 'TargetGroups[0].TargetGroupArn' --output text)
elb modify-target-group-attributes --target-group-arn "$tg" --attributes Key=deregistration_delay.timeout_seconds,Value=5 >/dev/null
port=$(free_port)
elb create-listener --load-balancer-arn "$lb_arn" --protocol HTTP --port "$port" --default-actions "Type=forward,TargetGroupArn=$tg" >/dev/null
ecs create-service --cluster "$cluster" --service-name alb --task-definition web:2 --desired-count 3 --launch-type FARGATE \
  --network-configuration "$net" --load-balancers "targetGroupArn=$tg,containerName=app,containerPort=8080" \
  --deployment-configuration 'minimumHealthyPercent=50,maximumPercent=200,deploymentCircuitBreaker={enable=true,rollback=true}' >/dev/null
ecs wait services-stable --cluster "$cluster" --services alb
healthy() { elb describe-target-health --target-group-arn "$tg" --query 'length(TargetHealthDescriptions[?TargetHealth.State==`healthy`])' --output text; }
wait_for '[ "$(healthy)" = 3 ]'
for _ in $(seq 30); do curl -sf -H "Host: $dns" "http://127.0.0.1:$port/"; echo; done >"$work/answers"
hosts=$(grep -o '"hostname":"[^"]*"' "$work/answers" | sort -u | wc -l)
[ "$hosts" = 3 ] || fail "the ALB answered from $hosts tasks, want 3: $(head -3 "$work/answers")"
echo "ok: 3 tasks answer in turn through http://$dns:$port/"

load() { # requests through the ALB until $work/stop exists (at most 20,000)
  for _ in $(seq 20000); do
    [ -e "$work/stop" ] && return
    curl -s -o /dev/null -m 5 -w '%{http_code}\n' -H "Host: $dns" "http://127.0.0.1:$port/" || true
  done
}
load >"$work/codes" &
load_pid=$!
pids+=("$load_pid")
ecs update-service --cluster "$cluster" --service alb --task-definition web:1 >/dev/null
ecs wait services-stable --cluster "$cluster" --services alb
for _ in $(seq 60); do
  [ "$(ecs describe-services --cluster "$cluster" --services alb --query 'services[0].deployments[0].rolloutState' --output text)" = COMPLETED ] && break
  sleep 1
done
touch "$work/stop"; wait "$load_pid"
total=$(wc -l <"$work/codes"); bad=$(grep -cv '^200$' "$work/codes" || true)
[ "$total" -gt 50 ] && [ "$bad" = 0 ] || fail "$bad of $total requests failed during the rolling update: $(sort "$work/codes" | uniq -c | tr '\n' ' ')"
curl -sf -H "Host: $dns" "http://127.0.0.1:$port/" | grep '"v1"' >/dev/null || fail "the ALB does not answer v1 after the update"
echo "ok: rolling update through the ALB, $total requests, none failed"
ecs delete-service --cluster "$cluster" --service alb --force >/dev/null
ecs wait services-inactive --cluster "$cluster" --services alb

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
