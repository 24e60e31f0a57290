#!/usr/bin/env bash
# An application load balancer with the Debian aws CLI (v2): a load
# balancer, two target groups with local backends, an HTTP listener, a path
# rule, a sorry page switched on by a priority change, AWS's errors, and an
# HTTPS listener with a certificate from kumo's ACM; every answer checked
# with curl on the load balancer's loopback address.
source "$(dirname "$0")/lib.bash"
start_kumo
aws=/usr/bin/aws
elb() { "$aws" --endpoint-url "$endpoint" elbv2 "$@"; }
acm() { "$aws" --endpoint-url "$endpoint" acm "$@"; }

# Three backends: python's file server, each with its own index and /health.
# backend NAME starts one and sets its port in ports[NAME]; it runs in this
# shell (not a $(...) subshell) so that cleanup knows its PID.
declare -A ports
backend() {
  local dir="$work/$1" port
  mkdir -p "$dir/api"
  echo "$1" >"$dir/index.html"
  echo "$1 api" >"$dir/api/hello"
  echo ok >"$dir/health"
  port=$(free_port)
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_for "curl -sf http://127.0.0.1:$port/health"
  ports[$1]=$port
}
backend web1
backend web2
backend api1
p1=${ports[web1]} p2=${ports[web2]} p3=${ports[api1]}

name="web-alb-$RANDOM"
read -r lb dns addr < <(elb create-load-balancer --name "$name" --type application --subnets subnet-a subnet-b \
  --query 'LoadBalancers[0].[LoadBalancerArn,DNSName,AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress]' --output text)
[[ "$dns" == "$name"-*.us-east-1.elb.localhost ]] || fail "DNS name $dns"
tg() {
  elb create-target-group --name "$1" --protocol HTTP --port 8080 --target-type ip --vpc-id vpc-local \
    --health-check-path /health --health-check-interval-seconds 5 --health-check-timeout-seconds 2 \
    --healthy-threshold-count 2 --query 'TargetGroups[0].TargetGroupArn' --output text
}
web=$(tg "web-$RANDOM")
api=$(tg "api-$RANDOM")
listener=$(elb create-listener --load-balancer-arn "$lb" --protocol HTTP --port 80 \
  --default-actions "Type=forward,TargetGroupArn=$web" --query 'Listeners[0].ListenerArn' --output text)
elb create-rule --listener-arn "$listener" --priority 10 --conditions "Field=path-pattern,Values=/api/*" \
  --actions "Type=forward,TargetGroupArn=$api" >/dev/null
elb register-targets --target-group-arn "$web" --targets "Id=127.0.0.1,Port=$p1" "Id=127.0.0.1,Port=$p2"
elb register-targets --target-group-arn "$api" --targets "Id=127.0.0.1,Port=$p3"

healthy() { [ "$(elb describe-target-health --target-group-arn "$1" --query 'TargetHealthDescriptions[].TargetHealth.State' --output text)" = "$2" ]; }
wait_for "healthy $web 'healthy	healthy'"
wait_for "healthy $api healthy"

# Both web targets answer in turn; the path rule goes to the api group.
url="http://$addr"
seen=$(for _ in 1 2 3 4; do curl -sf "$url/"; done | sort | uniq -c | awk '{print $1 $2}' | tr '\n' ' ')
[ "$seen" = "2web1 2web2 " ] || fail "round robin answered: $seen"
[ "$(curl -sf "$url/api/hello")" = "api1 api" ] || fail "path rule"
[ "$(curl -sf --resolve "$dns:80:$addr" "http://$dns/")" != "" ] || fail "request by DNS name"
echo "ok: two targets in turn and a path rule"

# A sorry page, switched on by raising its priority above the path rule.
sorry=$(elb create-rule --listener-arn "$listener" --priority 20 --conditions 'Field=path-pattern,Values=/*' \
  --actions 'Type=fixed-response,FixedResponseConfig={StatusCode=503,ContentType=text/plain,MessageBody=maintenance}' \
  --query 'Rules[0].RuleArn' --output text)
rule10=$(elb describe-rules --listener-arn "$listener" --query "Rules[?Priority=='10'].RuleArn" --output text)
[ "$(curl -sf "$url/api/hello")" = "api1 api" ] || fail "sorry page too early"
elb set-rule-priorities --rule-priorities "RuleArn=$sorry,Priority=5" >/dev/null
wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $url/api/hello)\" = 503 ]"
[ "$(curl -s "$url/api/hello")" = maintenance ] || fail "sorry page body"
elb delete-rule --rule-arn "$sorry"
wait_for "curl -sf $url/api/hello"
echo "ok: sorry page on and off"

# AWS's errors.
out=$(elb create-rule --listener-arn "$listener" --priority 10 --conditions 'Field=path-pattern,Values=/x' \
  --actions "Type=forward,TargetGroupArn=$api" 2>&1) && fail "duplicate priority accepted"
grep -q PriorityInUse <<<"$out" || fail "duplicate priority: $out"
out=$(elb delete-target-group --target-group-arn "$web" 2>&1) && fail "deleted a target group in use"
grep -q ResourceInUse <<<"$out" || fail "target group in use: $out"
out=$(elb create-load-balancer --name "$name" --subnets subnet-x subnet-y 2>&1) && fail "duplicate name accepted"
grep -q DuplicateLoadBalancerName <<<"$out" || fail "duplicate name: $out"
echo "ok: PriorityInUse, ResourceInUse, DuplicateLoadBalancerName"

# A target that fails its health check gets no traffic.
rm "$work/web2/health"
wait_for "healthy $web 'healthy	unhealthy'"
for _ in 1 2 3 4; do [ "$(curl -sf "$url/")" = web1 ] || fail "unhealthy target got traffic"; done
echo "ok: an unhealthy target gets no traffic"

# HTTPS with a certificate issued by kumo's ACM, verified against its CA.
cert=$(acm request-certificate --domain-name "$dns" --query CertificateArn --output text)
acm get-certificate --certificate-arn "$cert" --query CertificateChain --output text >"$work/ca.pem"
elb create-listener --load-balancer-arn "$lb" --protocol HTTPS --port 443 --certificates "CertificateArn=$cert" \
  --ssl-policy ELBSecurityPolicy-TLS-1-2-2017-01 --default-actions "Type=forward,TargetGroupArn=$web" >/dev/null
wait_for "curl -sf --cacert $work/ca.pem --resolve $dns:443:$addr https://$dns/"
[ "$(curl -sf --http2 --cacert "$work/ca.pem" --resolve "$dns:443:$addr" -o /dev/null -w '%{http_version}' "https://$dns/")" = 2 ] || fail "no HTTP/2"
out=$(acm delete-certificate --certificate-arn "$cert" 2>&1) && fail "deleted a certificate in use"
grep -q ResourceInUseException <<<"$out" || fail "certificate in use: $out"
echo "ok: HTTPS with an ACM certificate"

elb delete-load-balancer --load-balancer-arn "$lb"
wait_for "! curl -s --max-time 1 $url/"
acm delete-certificate --certificate-arn "$cert"
echo "ok: elbv2 end to end"
