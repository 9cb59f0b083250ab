package keyrotator_test

// ROTATION_MODE=staged: the function makes the key, stores it as pending
// in every durable sink, makes it live with Modify, then promotes it.

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

const (
	actionModify   = "ModifyMultiPathGatewaySecretKey"
	pendingVersion = "pending" // SSM_PENDING_VERSION_ID's default
)

// stagedCloud has every sink: SSM, AWS Secrets Manager and a webhook.
func stagedCloud(t *testing.T, zones []string, opts ...testkit.Option) *testkit.Cloud {
	t.Helper()
	opts = append([]testkit.Option{testkit.WithWebhook(), testkit.WithAWS(), testkit.WithEnv(map[string]string{"ROTATION_MODE": "staged"})}, opts...)
	return testkit.NewCloud(t, zones, opts...)
}

// noPendingLeft checks that no sink still holds a pending version of zone.
func noPendingLeft(t testing.TB, c *testkit.Cloud, zone string) {
	t.Helper()
	if s, ok := c.Emu.Secret(testkit.Region, c.SecretName(zone)); ok {
		for _, v := range s.Versions {
			if v.ID == pendingVersion {
				t.Errorf("%s: SSM still holds a %s version", zone, pendingVersion)
			}
		}
	}
	if s, ok := c.Emu.AWSSecret(testkit.AWSRegion, c.AWSName(zone)); ok {
		for _, v := range s.Versions {
			if slices.Contains(v.Stages, emulator.StagePending) {
				t.Errorf("%s: AWS still has an AWSPENDING version", zone)
			}
		}
	}
}

// pendingKeysWritten are the distinct keys the call log shows stored as
// pending for zone (SSM's pending version, AWS's AWSPENDING stage).
func pendingKeysWritten(c *testkit.Cloud, zone string) []string {
	var fps []string
	for _, call := range c.Emu.CallLog() {
		pending := call.Stage == pendingVersion || strings.Contains(call.Stage, emulator.StagePending)
		if !call.Performed || !pending || (call.Target != c.SecretName(zone) && call.Target != c.AWSName(zone)) {
			continue
		}
		for _, fp := range call.Written {
			if !slices.Contains(fps, fp) {
				fps = append(fps, fp)
			}
		}
	}
	return fps
}

// TestStagedRotation: with production settings and a 10 s deadline, through
// the SCF runtime and directly, a staged rotation never calls Refresh, makes
// live only a key every durable sink already held, announces it as pending
// before it goes live, and ends with every sink on it and no pending
// version left.
func TestStagedRotation(t *testing.T) {
	t.Parallel()
	zones := []string{zoneAlpha, zoneBeta}
	c := stagedCloud(t, zones)
	h := productionHandler(c)
	for round, first := range []bool{true, false} { // a first rotation creates the secrets; the second is steady
		before := map[string]string{}
		for _, z := range zones {
			before[z] = c.Live(z)
		}
		c.Emu.ResetCounters()
		ctx, cancel := context.WithTimeout(context.Background(), realisticDeadline)
		rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate})
		cancel()
		if err != nil || !rep.OK {
			t.Fatalf("round %d (first %v): %v %s", round, first, err, reportJSON(t, rep))
		}
		for _, z := range zones {
			live := c.Live(z)
			if live == before[z] || !allSinksHold(c, z, live) {
				t.Errorf("%s: changed %v, every sink on the live key %v", z, live != before[z], allSinksHold(c, z, live))
			}
			if c.AWSStaged(z, emulator.StagePrevious) != before[z] {
				t.Errorf("%s: AWSPREVIOUS is not the key replaced", z)
			}
			if k, ok := c.Receiver.Pending(z); !ok || k.Reveal() != live {
				t.Errorf("%s: the receiver was not told the pending key", z)
			}
			noPendingLeft(t, c, z)
		}
		if n := c.Emu.Calls(actionRefresh); n != 0 {
			t.Errorf("%d Refresh calls in staged mode", n)
		}
		if n := c.Emu.Performed(actionModify); n != len(zones) {
			t.Errorf("%d Modify calls for %d zones", n, len(zones))
		}
		if err := c.Emu.LiveKeysStoredFirst(); err != nil {
			t.Errorf("call log: %v", err)
		}
	}
	testkit.AssertNoLeak(t, append(c.Keys(zones), c.Emu.AWSCredential().SecretAccessKey), c.Logs.String())
}

// crashAfter is a transport that kills the "process" at the first request
// crash matches: that request and every later one fail without leaving,
// and the invocation's context is cancelled, as if the instance died.
type crashAfter struct {
	next   http.RoundTripper
	crash  func(r *http.Request, seen []string) bool
	cancel context.CancelFunc

	mu      sync.Mutex
	seen    []string // API actions sent so far
	crashed bool
}

func (c *crashAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	action := r.Header.Get("X-TC-Action")
	if action == "" {
		action = r.Header.Get("X-Amz-Target")
	}
	c.mu.Lock()
	if !c.crashed && c.crash(r, c.seen) {
		c.crashed = true
		c.cancel()
	}
	crashed := c.crashed
	c.seen = append(c.seen, action)
	c.mu.Unlock()
	if crashed {
		return nil, errors.New("the process was killed")
	}
	return c.next.RoundTrip(r)
}

// TestStagedCrashPoints kills the invocation after each step of a staged
// rotation (create, set, test, finish), then runs the same rotation id
// again on a fresh instance: every sink ends on the live key, exactly one
// key was made for the rotation id and it is the live one, no Refresh was
// called, and no pending version is left.
func TestStagedCrashPoints(t *testing.T) {
	t.Parallel()
	count := func(seen []string, action string) int {
		n := 0
		for _, a := range seen {
			if a == action {
				n++
			}
		}
		return n
	}
	points := []struct {
		name  string
		crash func(r *http.Request, seen []string) bool
		// live and promoted say where the killed run left the zone: the
		// pending key live in TEO, and promoted in SSM.
		live, promoted bool
	}{
		{"after create (before Modify)", func(r *http.Request, _ []string) bool {
			return r.Header.Get("X-TC-Action") == actionModify
		}, false, false},
		{"after set (before the test Describe)", func(r *http.Request, seen []string) bool {
			return count(seen, actionModify) > 0 && r.Header.Get("X-TC-Action") == actionDescribe
		}, true, false},
		{"after test (before promotion)", func(r *http.Request, seen []string) bool {
			return count(seen, actionModify) > 0 && count(seen, actionDescribe) > 0 && r.Header.Get("X-TC-Action") != actionDescribe
		}, true, false},
		{"after finish (before the confirming Describe)", func(r *http.Request, seen []string) bool {
			return count(seen, actionModify) > 0 && count(seen, actionDescribe) == 1 && r.Header.Get("X-TC-Action") == actionDescribe
		}, true, true},
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			c := stagedCloud(t, []string{zoneAlpha})
			if rep, err := productionHandler(c).Run(context.Background(), rotate.Request{Action: rotate.Rotate, RotationID: "setup"}); err != nil || !rep.OK {
				t.Fatalf("setup: %v %s", err, reportJSON(t, rep))
			}
			c.Emu.ResetCounters()
			before := c.Live(zoneAlpha)
			req := rotate.Request{Action: rotate.Rotate, RotationID: "staged-crash"}

			ctx, cancel := context.WithTimeout(context.Background(), realisticDeadline)
			defer cancel()
			killed := productionHandler(c)
			crash := &crashAfter{next: http.DefaultTransport, crash: p.crash, cancel: cancel}
			killed.Transport = crash
			_, _ = killed.Run(ctx, req)
			pending := pendingKeysWritten(c, zoneAlpha)
			if !crash.crashed || len(pending) != 1 {
				t.Fatalf("the killed run crashed %v, stored %d pending keys", crash.crashed, len(pending))
			}
			if live := secret.Fingerprint(c.Live(zoneAlpha)) == pending[0]; live != p.live {
				t.Errorf("after the crash the pending key is live: %v, want %v", live, p.live)
			}
			if promoted := secret.Fingerprint(c.SSMValue(zoneAlpha)) == pending[0]; promoted != p.promoted {
				t.Errorf("after the crash the pending key is promoted in SSM: %v, want %v", promoted, p.promoted)
			}

			rep, err := productionHandler(c).Run(context.Background(), req)
			if err != nil || !rep.OK {
				t.Fatalf("the retry did not finish the rotation: %v %s", err, reportJSON(t, rep))
			}
			live := c.Live(zoneAlpha)
			if live == before || !allSinksHold(c, zoneAlpha, live) {
				t.Errorf("changed %v, every sink on the live key %v: %s", live != before, allSinksHold(c, zoneAlpha, live), reportJSON(t, rep))
			}
			if keys := pendingKeysWritten(c, zoneAlpha); len(keys) != 1 || keys[0] != secret.Fingerprint(live) {
				t.Errorf("keys stored as pending for the rotation id: %v, want exactly the live %s", keys, secret.Fingerprint(live))
			}
			if n := c.Emu.Calls(actionRefresh); n != 0 {
				t.Errorf("%d Refresh calls", n)
			}
			if err := c.Emu.LiveKeysStoredFirst(); err != nil {
				t.Errorf("call log: %v", err)
			}
			noPendingLeft(t, c, zoneAlpha)
		})
	}
}

// TestStagedSyncPromotesThePending: promotion fails for good; the zone
// reports that the key is stored as pending, and sync promotes it.
func TestStagedSyncPromotesThePending(t *testing.T) {
	t.Parallel()
	c := stagedCloud(t, []string{zoneAlpha})
	h := productionHandler(c)
	if rep, err := h.Run(context.Background(), rotate.Request{Action: rotate.Rotate, RotationID: "setup"}); err != nil || !rep.OK {
		t.Fatalf("setup: %v %s", err, reportJSON(t, rep))
	}
	c.Emu.Inject(emulator.Fault{Action: "DeleteSecretVersion", Code: "FailedOperation"})
	ctx, cancel := context.WithTimeout(context.Background(), realisticDeadline)
	defer cancel()
	rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate})
	if err != nil {
		t.Fatal(err)
	}
	z := rep.Zones[0]
	if z.Outcome != rotate.Failed || !z.KeyChanged || !strings.HasPrefix(z.Error, "key rotated, stored as pending: run sync") {
		t.Fatalf("want failed, stored as pending: %s", reportJSON(t, rep))
	}
	c.Emu.ClearFaults()
	if rep, err := h.Run(ctx, rotate.Request{Action: rotate.Sync}); err != nil || !rep.OK {
		t.Fatalf("sync: %v %s", err, reportJSON(t, rep))
	}
	live := c.Live(zoneAlpha)
	if !allSinksHold(c, zoneAlpha, live) {
		t.Error("sync did not bring every sink to the live key")
	}
	noPendingLeft(t, c, zoneAlpha)
	if rec := checkRecord(t, c, zoneAlpha); rec == "" {
		t.Error("sync removed the rotation record")
	}
}

// checkRecord is the rotation record line in zone's SSM description.
func checkRecord(t *testing.T, c *testkit.Cloud, zone string) string {
	t.Helper()
	s, _ := c.Emu.Secret(testkit.Region, c.SecretName(zone))
	for _, l := range strings.Split(s.Description, "\n") {
		if strings.HasPrefix(l, "mpgw-keyrotator:") {
			return l
		}
	}
	return ""
}
