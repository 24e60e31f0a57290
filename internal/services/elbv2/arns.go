package elbv2

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/kumo-project/kumo/internal/arn"
)

// Resource types in ELBv2 ARNs.
const (
	resLoadBalancer = "loadbalancer/"
	resTargetGroup  = "targetgroup/"
	resListener     = "listener/"
	resRule         = "listener-rule/"
)

// prefix is the ARN prefix of a resource type in the scope.
func (sc scope) prefix(resource string) string {
	return arn.New("elasticloadbalancing", sc.region, sc.account, resource)
}

func (sc scope) lbARN(name, id string) string {
	return sc.prefix(resLoadBalancer + "app/" + name + "/" + id)
}

func (sc scope) tgARN(name, id string) string {
	return sc.prefix(resTargetGroup + name + "/" + id)
}

// listenerARN is the load balancer's ARN with listener/ for loadbalancer/
// and the listener's ID appended, as AWS forms it.
func listenerARN(lbARN, id string) string {
	return strings.Replace(lbARN, ":"+resLoadBalancer, ":"+resListener, 1) + "/" + id
}

func ruleARN(listenerARN, id string) string {
	return strings.Replace(listenerARN, ":"+resListener, ":"+resListener[:len(resListener)-1]+"-rule/", 1) + "/" + id
}

// lbARNOfListener is the load balancer a listener ARN belongs to.
func lbARNOfListener(listenerARN string) string {
	i := strings.LastIndex(listenerARN, "/")
	if i < 0 {
		return ""
	}
	return strings.Replace(listenerARN[:i], ":"+resListener, ":"+resLoadBalancer, 1)
}

// inScope reports whether an ARN is a resource of this type in the scope.
func (sc scope) inScope(a, resource string) bool {
	return strings.HasPrefix(a, sc.prefix(resource))
}

// newResourceID is a 16-hex-digit ID, the shape of ELBv2 resource IDs.
func newResourceID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newDNSID is the numeric part of a load balancer's DNS name.
func newDNSID() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9_000_000_000))
	return fmt.Sprint(n.Int64() + 1_000_000_000)
}
