#!/usr/bin/env bash
# The one-off task flow of the README with the Debian aws CLI (v2) and the
# preinstalled aws CLI v1: create a cluster, register a task definition, run
# a task with a command override, wait for it to stop, read its exit code.
source "$(dirname "$0")/lib.bash"
start_fixtures
start_kumo

for aws in /usr/bin/aws aws; do
  command -v "$aws" >/dev/null || continue
  echo "using $($aws --version 2>&1)"
  ecs() { "$aws" --endpoint-url "$endpoint" ecs "$@"; }
  cluster="dev-$RANDOM"
  ecs create-cluster --cluster-name "$cluster" >/dev/null
  cat >"$work/taskdef.json" <<JSON
{"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
 "containerDefinitions": [{"name": "app", "image": "$registry/kumo/busybox:latest", "essential": true, "command": ["sleep", "600"]}]}
JSON
  ecs register-task-definition --cli-input-json "file://$work/taskdef.json" >/dev/null
  task=$(ecs run-task --cluster "$cluster" --task-definition web --launch-type FARGATE \
    --network-configuration 'awsvpcConfiguration={subnets=[subnet-local]}' \
    --overrides '{"containerOverrides":[{"name":"app","command":["sh","-c","echo seeded; exit 3"]}]}' \
    --query 'tasks[0].taskArn' --output text)
  ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"
  code=$(ecs describe-tasks --cluster "$cluster" --tasks "$task" --query 'tasks[0].containers[0].exitCode' --output text)
  [ "$code" = 3 ] || fail "exit code $code, want 3"
  reason=$(ecs describe-tasks --cluster "$cluster" --tasks "$task" --query 'tasks[0].stopCode' --output text)
  [ "$reason" = EssentialContainerExited ] || fail "stopCode $reason"

  # Bad input answers AWS's errors.
  out=$(ecs run-task --cluster nope --task-definition web 2>&1) && fail "run-task on an unknown cluster succeeded"
  grep -q ClusterNotFoundException <<<"$out" || fail "unknown cluster: $out"
  out=$(ecs describe-task-definition --task-definition ghost 2>&1) && fail "describe of an unknown task definition succeeded"
  grep -q ClientException <<<"$out" || fail "unknown task definition: $out"
  echo "ok: $aws one-off task exited 3"
done
