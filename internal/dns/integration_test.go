package dns

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/miekg/dns"

	"github.com/kumo-project/kumo/internal/kumotest"
	"github.com/kumo-project/kumo/internal/testimages"
)

// TestKumoDNS runs a real kumo whose DNS listens on a free loopback port
// and forwards to a fake upstream on 127.0.0.1, then resolves a real ALB's
// name from the host and from inside a task. Not parallel: kumo reads its
// DNS settings from the environment this test sets.
func TestKumoDNS(t *testing.T) {
	upstream, upstreamQuestions := fakeUpstream(t)
	hostAddr := freeDNSAddr(t)
	t.Setenv("KUMO_DNS_LISTEN", hostAddr)
	t.Setenv("KUMO_DNS_UPSTREAMS", upstream)
	images := testimages.PushFixtures(t, testimages.StartRegistry(t))
	k := kumotest.Start(t)
	ctx := kumotest.Context(t, 3*time.Minute)

	lbs := elb.NewFromConfig(k.AWSConfig())
	out, err := lbs.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		Name: aws.String("dns-alb"), Subnets: []string{"subnet-a", "subnet-b"}, Type: elbtypes.LoadBalancerTypeEnumApplication})
	if err != nil {
		t.Fatal(err)
	}
	lb := out.LoadBalancers[0]
	name, addr := aws.ToString(lb.DNSName), aws.ToString(lb.AvailabilityZones[0].LoadBalancerAddresses[0].IpAddress)

	t.Run("the ALB's name from the host", func(t *testing.T) {
		for _, network := range []string{"udp", "tcp"} {
			if got := answerOf(query(t, network, hostAddr, name, dns.TypeA)); got != "NOERROR "+addr {
				t.Errorf("%s over %s: %q, want NOERROR %s", name, network, got, addr)
			}
		}
		if got := answerOf(query(t, "udp", hostAddr, "gone-1.us-east-1.elb.localhost", dns.TypeA)); got != "NXDOMAIN" {
			t.Errorf("unknown load balancer: %q, want NXDOMAIN", got)
		}
	})

	t.Run("other names go upstream", func(t *testing.T) {
		got := answerOf(query(t, "udp", hostAddr, "www.example.com", dns.TypeA))
		if !strings.HasPrefix(got, "NOERROR 192.0.2.") {
			t.Errorf("www.example.com: %q, want the fake upstream's 192.0.2.x", got)
		}
	})

	t.Run("a task resolves through kumo's DNS", func(t *testing.T) {
		// busybox nslookup asks the resolver of /etc/resolv.conf; each
		// check exits with its own code. The bridge IP is the task's gateway.
		script := fmt.Sprintf(`gw=$(ip route | awk '/^default/ {print $3}')
[ -n "$gw" ] && [ "$(cat /etc/resolv.conf)" = "nameserver $gw" ] || exit 3
nslookup %s | grep -qxF "Address: $gw" || exit 4
nslookup %s | grep -q 'Address: %s$' && exit 7
nslookup task-name.example.com | grep -q 'Address: 192.0.2.' || exit 5
nslookup gone-1.us-east-1.elb.localhost && exit 6
exit 0`, name, name, strings.ReplaceAll(addr, ".", `\.`))
		code := exitCode(t, k.RunScript(t, "dns", images.Busybox, script))
		if code != 0 {
			t.Fatalf("task exited %d (3: resolv.conf does not name the bridge IP alone, 4: ALB name not answered with the bridge IP, 7: ALB name answered with its loopback address, 5: upstream, 6: NXDOMAIN), want 0", code)
		}
		if q := strings.Join(upstreamQuestions(), ";"); !strings.Contains(q, "task-name.example.com.") || strings.Contains(q, "elb.localhost") {
			t.Errorf("upstream saw %q: want the task's outside name and none of kumo's", q)
		}
	})
}

// freeDNSAddr is a 127.0.0.1 address whose UDP and TCP ports were both
// free a moment ago.
func freeDNSAddr(t *testing.T) string {
	t.Helper()
	pc, ln, err := listenPair("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	defer ln.Close()
	return pc.LocalAddr().String()
}

// exitCode is the exit code of a stopped task's container.
func exitCode(t *testing.T, task ecstypes.Task) int32 {
	t.Helper()
	c := task.Containers[0]
	if c.ExitCode == nil {
		t.Fatalf("task stopped without an exit code: %s", aws.ToString(task.StoppedReason))
	}
	return *c.ExitCode
}
