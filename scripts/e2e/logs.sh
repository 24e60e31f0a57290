#!/usr/bin/env bash
# The CloudWatch Logs flow of issue 4 with the Debian aws CLI: a task logs
# through awslogs (multi-line events by awslogs-datetime-format), then
# filter-log-events with OR terms, a Logs Insights query, `aws logs tail`
# (also --follow) and `kumo logs`.
source "$(dirname "$0")/lib.bash"
aws=/usr/bin/aws
start_fixtures
start_kumo
echo "using $($aws --version 2>&1)"
logs() { "$aws" --endpoint-url "$endpoint" logs "$@"; }
ecs() { "$aws" --endpoint-url "$endpoint" ecs "$@"; }

ecs create-cluster --cluster-name dev >/dev/null
cat >"$work/taskdef.json" <<JSON
{"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
 "executionRoleArn": "arn:aws:iam::000000000000:role/ecsTaskExecutionRole",
 "containerDefinitions": [{"name": "app", "image": "$registry/kumo/busybox:latest", "essential": true,
   "command": ["sh", "-c", "printf '[2024-05-01 10:00:00] INFO: started\\\\n[2024-05-01 10:00:01] ERROR: cannot connect\\\\nTraceback (most recent call last):\\\\n  File app.py, line 1\\\\n[2024-05-01 10:00:02] WARNING: retrying\\\\n[2024-05-01 10:00:03] INFO: done\\\\n'"],
   "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1",
     "awslogs-stream-prefix": "web", "awslogs-create-group": "true", "awslogs-datetime-format": "\\\\[%Y-%m-%d %H:%M:%S\\\\]"}}}]}
JSON
ecs register-task-definition --cli-input-json "file://$work/taskdef.json" >/dev/null
task=$(ecs run-task --cluster dev --task-definition web --launch-type FARGATE \
  --network-configuration 'awsvpcConfiguration={subnets=[subnet-local]}' --query 'tasks[0].taskArn' --output text)
task_id=${task##*/}
stream="web/app/$task_id"
ecs wait tasks-stopped --cluster dev --tasks "$task"

# `aws logs tail --follow` polls FilterLogEvents: it sees the events as they arrive.
timeout 20 "$aws" --endpoint-url "$endpoint" logs tail /ecs/web --follow --since 1d >"$work/tail.txt" 2>&1 &
wait_for "grep -q 'INFO: done' $work/tail.txt" || { cat "$work/tail.txt"; fail "logs tail --follow never showed the last event"; }
grep -q "$stream \[2024-05-01 10:00:01\] ERROR: cannot connect" "$work/tail.txt" || fail "tail: $(cat "$work/tail.txt")"

n=$(logs get-log-events --log-group-name /ecs/web --log-stream-name "$stream" --start-from-head --query 'length(events)' --output text)
[ "$n" = 4 ] || fail "$n events, want 4 (the stack trace joined to its ERROR line)"

out=$(logs filter-log-events --log-group-name /ecs/web --filter-pattern '?"ERROR:" ?"WARNING:"' --query 'events[].message' --output json)
[ "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$out")" = 2 ] || fail "filter-log-events: $out"
grep -q 'Traceback' <<<"$out" || fail "the stack trace is not in the ERROR event: $out"

query_id=$(logs start-query --log-group-name /ecs/web --start-time $(($(date +%s) - 3600)) --end-time $(($(date +%s) + 60)) \
  --query-string 'fields @timestamp, @message, @logStream | filter @message like /(?i)(Warning|Error)/ | sort @timestamp desc | limit 100' \
  --query queryId --output text)
wait_for "[ \"\$(\"$aws\" --endpoint-url $endpoint logs get-query-results --query-id $query_id --query status --output text)\" = Complete ]"
rows=$(logs get-query-results --query-id "$query_id" --query 'length(results)' --output text)
[ "$rows" = 2 ] || fail "query returned $rows rows, want 2"

"$kumo_bin" logs "$task_id" --cluster dev --endpoint-url "$endpoint" >"$work/kumo-logs.txt"
grep -q "INFO: done" "$work/kumo-logs.txt" || fail "kumo logs: $(cat "$work/kumo-logs.txt")"

# AWS's errors.
out=$(logs create-log-group --log-group-name /ecs/web 2>&1) && fail "duplicate create-log-group succeeded"
grep -q ResourceAlreadyExistsException <<<"$out" || fail "duplicate group: $out"
out=$(logs filter-log-events --log-group-name /ecs/nope 2>&1) && fail "filter on a missing group succeeded"
grep -q ResourceNotFoundException <<<"$out" || fail "missing group: $out"
out=$(logs start-query --log-group-name /ecs/web --start-time 0 --end-time 1 --query-string 'fields @message | sort' 2>&1) &&
  fail "a malformed query was accepted"
grep -q MalformedQueryException <<<"$out" || fail "malformed query: $out"
echo "ok: awslogs, filter-log-events, start-query, logs tail --follow, kumo logs"
