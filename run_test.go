package keyrotator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

const (
	actionRefresh  = "RefreshMultiPathGatewaySecretKey"
	actionDescribe = "DescribeMultiPathGatewaySecretKey"
)

func zoneIDs(n int) []string {
	zones := make([]string, n)
	for i := range zones {
		zones[i] = fmt.Sprintf("zone-t%04d", i)
	}
	return zones
}

func run(t *testing.T, c *testkit.Cloud, req rotate.Request) rotate.Report {
	t.Helper()
	rep, err := handlerkit.New(c).Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// assertRotated checks that z says rotated and the cloud agrees: zone's key
// changed from before, SSM and every sink of also (its name → the value it
// holds) hold the live key, and the report's fingerprints are the live
// key's and before's.
func assertRotated(t *testing.T, c *testkit.Cloud, z rotate.ZoneResult, before string, also map[string]string) {
	t.Helper()
	live := c.Live(z.ZoneID)
	sinks := map[string]string{"SSM": c.SSMValue(z.ZoneID)}
	maps.Copy(sinks, also)
	switch {
	case z.Outcome != rotate.Rotated:
		t.Errorf("%s: outcome %s: %s", z.ZoneID, z.Outcome, z.Error)
	case live == before:
		t.Errorf("%s: key not changed", z.ZoneID)
	case z.Fingerprint != secret.Fingerprint(live) || z.PreviousFingerprint != secret.Fingerprint(before):
		t.Errorf("%s: fingerprints %s <- %s do not match the emulator", z.ZoneID, z.Fingerprint, z.PreviousFingerprint)
	}
	for _, name := range slices.Sorted(maps.Keys(sinks)) {
		if v := sinks[name]; v != live {
			t.Errorf("%s: %s holds %s, live is %s", z.ZoneID, name, secret.Fingerprint(v), secret.Fingerprint(live))
		}
	}
}

func reportJSON(t testing.TB, rep rotate.Report) string {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRotateEveryZone(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 50} {
		t.Run(fmt.Sprintf("%d zones", n), func(t *testing.T) {
			t.Parallel()
			zones := zoneIDs(n)
			c := testkit.NewCloud(t, zones)
			before := map[string]string{}
			for _, z := range zones {
				before[z] = c.Live(z)
			}
			rep := run(t, c, rotate.Request{Action: rotate.Rotate})
			if !rep.OK || len(rep.Zones) != n {
				t.Fatalf("report not ok: %s", reportJSON(t, rep))
			}
			for i, z := range rep.Zones {
				if z.ZoneID != zones[i] {
					t.Errorf("zone %d is %s, want %s (report keeps request order)", i, z.ZoneID, zones[i])
				}
				assertRotated(t, c, z, before[z.ZoneID], nil)
			}
			if got := c.Emu.Performed(actionRefresh); got != n {
				t.Errorf("%d refreshes for %d zones", got, n)
			}
			// Every call was accepted: the client's rate limit kept within the
			// emulator's 20 per second per action.
			for _, a := range []string{actionRefresh, actionDescribe} {
				if c.Emu.Calls(a) != c.Emu.Performed(a) {
					t.Errorf("%s: %d calls, %d performed: some were refused", a, c.Emu.Calls(a), c.Emu.Performed(a))
				}
			}
			testkit.AssertNoLeak(t, append(c.Keys(zones), values(before)...), c.Logs.String(), reportJSON(t, rep))
			for _, line := range strings.Split(c.Logs.String(), "\n") {
				if strings.Count(line, `"requestId":`) > 1 {
					t.Fatalf("a log line names its request twice: %s", line)
				}
			}
		})
	}
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	// zone-outside exists in the account but is not in ZONE_IDS.
	c := testkit.NewCloud(t, []string{"zone-inside", "zone-outside"}, testkit.WithEnv(map[string]string{"ZONE_IDS": "zone-inside"}))
	outsideKey := c.Live("zone-outside")
	rep := run(t, c, rotate.Request{Action: rotate.Rotate, Zones: []string{"zone-inside", "zone-outside"}})
	if rep.OK || len(rep.Zones) != 2 {
		t.Fatalf("report: %s", reportJSON(t, rep))
	}
	in, out := rep.Zones[0], rep.Zones[1]
	if in.ZoneID != "zone-inside" || in.Outcome != rotate.Rotated {
		t.Errorf("allowed zone: %+v", in)
	}
	if out.ZoneID != "zone-outside" || out.Outcome != rotate.Failed || !strings.Contains(out.Error, "not in ZONE_IDS") || out.KeyChanged {
		t.Errorf("zone outside the allow-list: %+v", out)
	}
	if c.Live("zone-outside") != outsideKey {
		t.Error("the zone outside the allow-list was refreshed")
	}
	if _, ok := c.Emu.Secret(testkit.Region, c.SecretName("zone-outside")); ok {
		t.Error("a secret was written for the zone outside the allow-list")
	}
	if c.Emu.Performed(actionRefresh) != 1 || c.Emu.Calls(actionDescribe) != c.Emu.Performed(actionDescribe) {
		t.Errorf("refreshes: %d", c.Emu.Performed(actionRefresh))
	}
}

func TestUnknownZone(t *testing.T) {
	t.Parallel()
	c := testkit.NewCloud(t, []string{"zone-known"}, testkit.WithEnv(map[string]string{"ZONE_IDS": "zone-known,zone-ghost"}))
	rep := run(t, c, rotate.Request{Action: rotate.Rotate})
	ghost := rep.Zones[1]
	if rep.OK || ghost.ZoneID != "zone-ghost" || ghost.Outcome != rotate.Failed {
		t.Fatalf("report: %s", reportJSON(t, rep))
	}
	if ghost.Code != "ResourceNotFound.ZoneNotFound" || ghost.APIAction != actionDescribe ||
		!strings.Contains(ghost.Error, "zone-ghost") || !strings.HasPrefix(ghost.Error, "key unchanged") {
		t.Errorf("unknown zone reported as %+v", ghost)
	}
	if rep.Zones[0].Outcome != rotate.Rotated {
		t.Errorf("a failing zone stopped the others: %+v", rep.Zones[0])
	}
	err := rep.Err()
	if err == nil || !strings.Contains(err.Error(), "zone-ghost failed") || !strings.Contains(err.Error(), "ResourceNotFound.ZoneNotFound") {
		t.Errorf("report error = %v", err)
	}
}

// TestAPIErrors: final errors are reported once and never retried;
// transient ones are retried and succeed, and a refresh whose answer was
// lost is never repeated.
func TestAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		fault        emulator.Fault
		wantOutcome  rotate.Outcome
		wantCode     string
		wantCalls    map[string]int // emulator calls per action
		wantRefresh  int            // refreshes performed
		wantChanged  bool
		wantErrorHas string
	}{
		// Describe is first needed to confirm, after the refresh: the key is
		// delivered everywhere but cannot be confirmed (and the run refreshes
		// no further zone).
		{name: "AuthFailure on Describe is final",
			fault:       emulator.Fault{Action: actionDescribe, Code: "AuthFailure.UnauthorizedOperation"},
			wantOutcome: rotate.Failed, wantCode: "AuthFailure.UnauthorizedOperation", wantRefresh: 1, wantChanged: true,
			wantCalls: map[string]int{actionDescribe: 1, actionRefresh: 1}, wantErrorHas: "delivered, but confirming the live key failed"},
		{name: "AuthFailure on Refresh is final",
			fault:       emulator.Fault{Action: actionRefresh, Code: "AuthFailure.UnauthorizedOperation"},
			wantOutcome: rotate.Failed, wantCode: "AuthFailure.UnauthorizedOperation",
			wantCalls: map[string]int{actionRefresh: 1}, wantErrorHas: "key unchanged"},
		{name: "OperationDenied on Refresh is final",
			fault:       emulator.Fault{Action: actionRefresh, Code: "OperationDenied"},
			wantOutcome: rotate.Failed, wantCode: "OperationDenied", wantCalls: map[string]int{actionRefresh: 1}},
		{name: "RequestLimitExceeded on Refresh is retried",
			fault:       emulator.Fault{Action: actionRefresh, Code: "RequestLimitExceeded", Times: 1},
			wantOutcome: rotate.Rotated, wantCalls: map[string]int{actionRefresh: 2}, wantRefresh: 1, wantChanged: true},
		{name: "InternalError on Refresh is retried",
			fault:       emulator.Fault{Action: actionRefresh, Code: "InternalError", Times: 2},
			wantOutcome: rotate.Rotated, wantCalls: map[string]int{actionRefresh: 3}, wantRefresh: 1, wantChanged: true},
		{name: "dropped connection on Refresh is retried",
			fault:       emulator.Fault{Action: actionRefresh, Drop: true, Times: 1},
			wantOutcome: rotate.Rotated, wantCalls: map[string]int{actionRefresh: 2}, wantRefresh: 1, wantChanged: true},
		{name: "InternalError after the refresh: answer lost, not refreshed again",
			fault:       emulator.Fault{Action: actionRefresh, Code: "InternalError", Phase: emulator.After, Times: 1},
			wantOutcome: rotate.Rotated, wantCalls: map[string]int{actionRefresh: 1}, wantRefresh: 1, wantChanged: true},
		{name: "dropped connection after the refresh: answer lost, not refreshed again",
			fault:       emulator.Fault{Action: actionRefresh, Drop: true, Phase: emulator.After, Times: 1},
			wantOutcome: rotate.Rotated, wantCalls: map[string]int{actionRefresh: 1}, wantRefresh: 1, wantChanged: true},
		{name: "RequestLimitExceeded on Describe is retried",
			fault:       emulator.Fault{Action: actionDescribe, Code: "RequestLimitExceeded", Times: 2},
			wantOutcome: rotate.Rotated, wantRefresh: 1, wantChanged: true},
		{name: "dropped connection on Describe is retried",
			fault:       emulator.Fault{Action: actionDescribe, Drop: true, Times: 1},
			wantOutcome: rotate.Rotated, wantRefresh: 1, wantChanged: true},
		{name: "proxy error page on Describe is retried",
			fault:       emulator.Fault{Action: actionDescribe, HTTPStatus: 502, Times: 1},
			wantOutcome: rotate.Rotated, wantRefresh: 1, wantChanged: true},
		{name: "InternalError on SSM UpdateSecret is retried",
			fault:       emulator.Fault{Action: "UpdateSecret", Code: "InternalError", Times: 1},
			wantOutcome: rotate.Rotated, wantRefresh: 1, wantChanged: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			zone := "zone-errors"
			c := testkit.NewCloud(t, []string{zone})
			// A first rotation creates the secret, so that later faults hit
			// the steady-state path (UpdateSecret).
			if rep := run(t, c, rotate.Request{Action: rotate.Rotate, RotationID: "setup"}); !rep.OK {
				t.Fatalf("setup rotation: %s", reportJSON(t, rep))
			}
			c.Emu.ResetCounters()
			before := c.Live(zone)
			c.Emu.Inject(tc.fault)
			rep := run(t, c, rotate.Request{Action: rotate.Rotate})
			z := rep.Zones[0]
			if z.Outcome != tc.wantOutcome || z.Code != tc.wantCode || z.KeyChanged != tc.wantChanged {
				t.Fatalf("got %s code=%q changed=%v (%s); want %s code=%q changed=%v", z.Outcome, z.Code, z.KeyChanged, z.Error,
					tc.wantOutcome, tc.wantCode, tc.wantChanged)
			}
			if !strings.Contains(z.Error, tc.wantErrorHas) {
				t.Errorf("error %q lacks %q", z.Error, tc.wantErrorHas)
			}
			for action, want := range tc.wantCalls {
				if got := c.Emu.Calls(action); got != want {
					t.Errorf("%s called %d times, want %d", action, got, want)
				}
			}
			if got := c.Emu.Performed(actionRefresh); got != tc.wantRefresh {
				t.Errorf("%d refreshes performed, want %d", got, tc.wantRefresh)
			}
			if changed := c.Live(zone) != before; changed != tc.wantChanged {
				t.Errorf("key changed = %v, want %v", changed, tc.wantChanged)
			}
			if c.SSMValue(zone) != c.Live(zone) && tc.wantOutcome == rotate.Rotated {
				t.Error("SSM does not hold the live key")
			}
			if tc.wantOutcome == rotate.Failed {
				if n := strings.Count(c.Logs.String(), `"msg":"zone done","requestId"`); n != 2 {
					t.Errorf("%d zone result lines logged over two runs, want one per run", n)
				}
			}
			testkit.AssertNoLeak(t, []string{before, c.Live(zone)}, c.Logs.String(), reportJSON(t, rep))
		})
	}
}

func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, variable, value, wantCode string }{
		{"wrong secret key", "TENCENTCLOUD_SECRETKEY", "not-the-key", "AuthFailure.SignatureFailure"},
		{"unknown secret id", "TENCENTCLOUD_SECRETID", "AKIDunknown", "AuthFailure.SecretIdNotFound"},
		{"wrong token", "TENCENTCLOUD_SESSIONTOKEN", "stale-token", "AuthFailure.TokenFailure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testkit.NewCloud(t, []string{"zone-creds"}, testkit.WithEnv(map[string]string{tc.variable: tc.value}))
			rep := run(t, c, rotate.Request{Action: rotate.Rotate})
			z := rep.Zones[0]
			if rep.OK || z.Code != tc.wantCode || z.KeyChanged {
				t.Fatalf("got %+v", z)
			}
			if c.Emu.Performed(actionRefresh) != 0 {
				t.Error("refreshed with bad credentials")
			}
		})
	}
}

func TestMissingCredentials(t *testing.T) {
	c := testkit.NewCloud(t, []string{"zone-creds"}, testkit.WithEnv(map[string]string{
		"TENCENTCLOUD_SECRETID": "", "TENCENTCLOUD_SECRETKEY": "", "TENCENTCLOUD_SESSIONTOKEN": "", "HOME": t.TempDir(),
	}))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("TENCENTCLOUD_CREDENTIALS_FILE", "unset below") // restores the original when done
	os.Unsetenv("TENCENTCLOUD_CREDENTIALS_FILE")
	_, err := handlerkit.New(c).Run(context.Background(), rotate.Request{Action: rotate.Rotate})
	if err == nil || !strings.Contains(err.Error(), "TENCENTCLOUD_SECRETID") {
		t.Fatalf("err = %v", err)
	}
	if c.Emu.Calls(actionDescribe) != 0 {
		t.Error("an API was called without credentials")
	}
}
