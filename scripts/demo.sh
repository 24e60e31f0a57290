#!/usr/bin/env bash
# Sets up a fresh Debian machine, starts kumo on 127.0.0.1:4566 and runs a
# one-off ECS task with the aws CLI. kumo keeps running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="/usr/local/go/bin:$PATH" # the fixture registry builds its test app with go

data_dir="${KUMO_DATA_DIR:-/var/lib/kumo}"
listen="${KUMO_LISTEN:-127.0.0.1:4566}"
endpoint="http://$listen"
work=$(mktemp -d)

# Demo images come from a small local registry (kumo's own registry is the ECR service).
bin/kumo-fixtures -serve 127.0.0.1:5000 >"$work/fixtures.log" 2>&1 &
fixtures=$!
bin/kumo up --listen "$listen" --data-dir "$data_dir" &
kumo=$!
trap 'kill $kumo $fixtures 2>/dev/null; wait $kumo 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -sf "$endpoint/_kumo/health" >/dev/null && grep -q ready "$work/fixtures.log" && break
  sleep 0.2
done

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
aws_ecs() { /usr/bin/aws --endpoint-url "$endpoint" ecs "$@"; }
cat >"$work/taskdef.json" <<JSON
{"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
 "containerDefinitions": [{"name": "app", "image": "127.0.0.1:5000/kumo/busybox:latest", "essential": true,
                           "command": ["sh", "-c", "echo hello; sleep 3600"]}]}
JSON
echo "+ aws ecs create-cluster --cluster-name dev"
aws_ecs create-cluster --cluster-name dev --query 'cluster.clusterArn' --output text
echo "+ aws ecs register-task-definition --cli-input-json file://taskdef.json"
aws_ecs register-task-definition --cli-input-json "file://$work/taskdef.json" --query 'taskDefinition.taskDefinitionArn' --output text
echo "+ aws ecs run-task ... --overrides (command: echo seeded; exit 3)"
task=$(aws_ecs run-task --cluster dev --task-definition web --launch-type FARGATE \
  --network-configuration 'awsvpcConfiguration={subnets=[subnet-local]}' \
  --overrides '{"containerOverrides":[{"name":"app","command":["sh","-c","echo seeded; exit 3"]}]}' \
  --query 'tasks[0].taskArn' --output text)
echo "$task"
echo "+ aws ecs wait tasks-stopped"
aws_ecs wait tasks-stopped --cluster dev --tasks "$task"
echo "+ aws ecs describe-tasks --query 'tasks[0].containers[0].exitCode'"
aws_ecs describe-tasks --cluster dev --tasks "$task" --query 'tasks[0].containers[0].exitCode'

cat <<MSG

kumo is running at $endpoint (data in $data_dir). Try:
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url $endpoint ecs list-tasks --cluster dev --desired-status STOPPED
Press Ctrl-C to stop kumo (running tasks keep running and are re-attached next time).
MSG
wait $kumo
