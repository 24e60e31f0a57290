#!/usr/bin/env bash
# The ECR flow of issue 3 with the Debian aws CLI and skopeo: create an
# IMMUTABLE scan-on-push repository, log in, push, see the immutable tag
# refused, wait for the scan, preview a lifecycle policy, and run an ECS task
# whose image names the AWS-style registry host.
source "$(dirname "$0")/lib.bash"
aws=/usr/bin/aws
command -v skopeo >/dev/null || fail "skopeo is not installed"

# A test advisory that matches the Go toolchain of the test app's binary.
mkdir -p "$work/advisories"
cat >"$work/advisories/stdlib.json" <<'JSON'
{"id": "GO-2026-9999", "aliases": ["CVE-2026-9999"], "summary": "test advisory",
 "affected": [{"package": {"ecosystem": "Go", "name": "stdlib"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "999.0.0"}]}],
   "database_specific": {"severity": "HIGH"}}]}
JSON
export KUMO_ADVISORY_DIR="$work/advisories"
start_kumo
"$fixtures_bin" -out "$work/layouts" >/dev/null

ecr() { "$aws" --endpoint-url "$endpoint" ecr "$@"; }
echo "using $($aws --version 2>&1)"

uri=$(ecr create-repository --repository-name web --image-tag-mutability IMMUTABLE \
  --image-scanning-configuration scanOnPush=true --query repository.repositoryUri --output text)
[ "$uri" = "$kumo_addr/web" ] || fail "repositoryUri $uri"

auth="$work/auth.json"
ecr get-login-password | skopeo login --authfile "$auth" --tls-verify=false --username AWS --password-stdin "$kumo_addr" >/dev/null
skopeo copy -q --authfile "$auth" --dest-tls-verify=false "oci:$work/layouts/testapp" "docker://$uri:v1"
skopeo inspect --authfile "$auth" --tls-verify=false "docker://$uri:v1" >/dev/null

# The tag is immutable: pushing another image to it is refused.
out=$(skopeo copy -q --authfile "$auth" --dest-tls-verify=false "oci:$work/layouts/busybox" "docker://$uri:v1" 2>&1) &&
  fail "re-push of an immutable tag succeeded"
grep -q "already exists" <<<"$out" || fail "re-push: $out"
skopeo copy -q --authfile "$auth" --dest-tls-verify=false "oci:$work/layouts/busybox" "docker://$uri:sh"

# Scan on push finds the test advisory.
ecr wait image-scan-complete --repository-name web --image-id imageTag=v1
high=$(ecr describe-image-scan-findings --repository-name web --image-id imageTag=v1 \
  --query 'imageScanFindings.findingSeverityCounts.HIGH' --output text)
[ "$high" = 1 ] || fail "HIGH findings: $high"
tags=$(ecr describe-images --repository-name web --query 'sort(imageDetails[].imageTags[0])' --output text)
[ "$tags" = "sh	v1" ] || fail "image tags: $tags"

# A lifecycle policy that keeps one image expires the older one in its preview.
ecr put-lifecycle-policy --repository-name web --lifecycle-policy-text \
  '{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}' >/dev/null
ecr start-lifecycle-policy-preview --repository-name web >/dev/null
ecr wait lifecycle-policy-preview-complete --repository-name web
expiring=$(ecr get-lifecycle-policy-preview --repository-name web --query 'previewResults[].imageTags[0]' --output text)
[ "$expiring" = v1 ] || fail "preview expires: $expiring"
ecr delete-lifecycle-policy --repository-name web >/dev/null

# Errors are ECR's.
out=$(ecr describe-repositories --repository-names nope 2>&1) && fail "describe of a missing repository succeeded"
grep -q RepositoryNotFoundException <<<"$out" || fail "missing repository: $out"
out=$(ecr create-repository --repository-name web 2>&1) && fail "duplicate repository created"
grep -q RepositoryAlreadyExistsException <<<"$out" || fail "duplicate repository: $out"

# An unchanged task definition naming the AWS-style host runs from kumo's registry.
ecs() { "$aws" --endpoint-url "$endpoint" ecs "$@"; }
ecs create-cluster --cluster-name ecr >/dev/null
cat >"$work/taskdef.json" <<JSON
{"family": "from-ecr", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
 "containerDefinitions": [{"name": "app", "image": "000000000000.dkr.ecr.us-east-1.amazonaws.com/web:v1", "essential": true}]}
JSON
ecs register-task-definition --cli-input-json "file://$work/taskdef.json" >/dev/null
task=$(ecs run-task --cluster ecr --task-definition from-ecr --launch-type FARGATE \
  --network-configuration 'awsvpcConfiguration={subnets=[subnet-local]}' --query 'tasks[0].taskArn' --output text)
ecs wait tasks-running --cluster ecr --tasks "$task"
ecs stop-task --cluster ecr --task "$task" >/dev/null
echo "ok: ecr push, immutability, scan, lifecycle preview and a task from the ECR hostname"
