package testkit

import (
	"context"
	"maps"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// With returns a copy of calls with action's count set to n: the calls of a
// path with one action sent more often (a retry).
func With(calls map[string]int, action string, n int) map[string]int {
	c := maps.Clone(calls)
	c[action] = n
	return c
}

// PendingCall is the part of a store's Pending test the SSM and AWS sinks
// share: the fault to inject, the call, the count of its reads, the failure.
type PendingCall struct {
	Emu    *emulator.Emulator
	Stager sink.Stager
	Zone   string
	// AllCalls checks every action of the sink's API: those left out of want
	// must not have been called.
	AllCalls func(t *testing.T, want map[string]int)
	// CheckError checks the failure of Pending's GetSecretValue with code.
	CheckError func(t *testing.T, err error, code string)
}

// Call injects fault (nil: none), calls Pending and checks that it sent
// GetSecretValue reads times and, when wantCode is set, that it failed with
// wantCode. It returns what Pending returned.
func (p PendingCall) Call(t *testing.T, fault *emulator.Fault, reads int, wantCode string) (secret.Key, bool, error) {
	t.Helper()
	if fault != nil {
		p.Emu.Inject(*fault)
	}
	got, found, err := p.Stager.Pending(context.Background(), p.Zone)
	p.AllCalls(t, map[string]int{"GetSecretValue": reads})
	if wantCode != "" {
		p.CheckError(t, err, wantCode)
	}
	return got, found, err
}
