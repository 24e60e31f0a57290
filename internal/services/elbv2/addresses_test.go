package elbv2

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
)

func TestListeningAddressesSeesAForeignListener(t *testing.T) {
	t.Parallel()
	addr := netip.MustParseAddr("127.250.3.7")
	ln, err := net.Listen("tcp", addr.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !listeningAddresses("/proc/net/tcp")[addr] {
		t.Fatalf("%s is listening but not reported", addr)
	}
	s := &Service{addrBase: [2]byte{250, 3}}
	for i := 1; i <= 6; i++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.250.3.%d:0", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	got, err := s.freeAddress([]lbRecord{{Address: "127.250.3.8"}})
	if err != nil || got != netip.MustParseAddr("127.250.3.9") {
		t.Fatalf("free address %v %v, want 127.250.3.9 (1-7 listened on, 8 held)", got, err)
	}
}
