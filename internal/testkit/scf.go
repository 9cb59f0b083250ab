package testkit

import (
	"errors"
	"net"
	"net/rpc"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
)

// ServeSCF runs srv on a loopback listener until the test ends, then checks
// that Serve returned because the listener was closed. It returns the
// listener's address.
func ServeSCF(t testing.TB, srv *scf.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve returned %v, want net.ErrClosed", err)
		}
	})
	return l.Addr().String()
}

// DialSCF connects to an SCF runtime at addr, as the platform does, until
// the test ends.
func DialSCF(t testing.TB, addr string) *rpc.Client {
	t.Helper()
	c, err := rpc.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// StartSCF serves srv and returns a connected client.
func StartSCF(t testing.TB, srv *scf.Server) *rpc.Client {
	t.Helper()
	return DialSCF(t, ServeSCF(t, srv))
}
