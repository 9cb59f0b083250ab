package keyrotator_test

// End-to-end tests of timer and direct invokes through the SCF runtime
// (scf_harness_test.go): each case asserts the answer and what the emulated
// cloud (TEO, SSM) and the webhook receiver ended up holding.

import (
	"cmp"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

// TestSCFCredentialsOnlyFromEnvironment: the function's configuration has
// no credentials; they exist only in each invoke's Environment, are read
// afresh on every invoke (never cached), and a wrong set fails cleanly.
// Not parallel: HOME is pointed at an empty directory so that no
// credentials file on this machine can stand in for the Environment.
func TestSCFCredentialsOnlyFromEnvironment(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("TENCENTCLOUD_CREDENTIALS_FILE", "")
	os.Unsetenv("TENCENTCLOUD_CREDENTIALS_FILE")
	f := startSCFFunction(t, nil)
	before := f.liveKeys()
	timer := timerEvent(t, "nightly-rotate", time.Now().UTC().Format(time.RFC3339), "scheduled")
	role := f.cloud.Emu.RoleCredential()
	wrong, _ := json.Marshal(map[string]string{
		"TENCENTCLOUD_SECRETID": role.SecretID, "TENCENTCLOUD_SECRETKEY": "not-the-role-key", "TENCENTCLOUD_SESSIONTOKEN": role.Token,
	})

	// 1. No Environment: nothing to sign with, nothing called.
	resp := f.invokeWith(invokeRequest(timer, time.Now().Add(longDeadline), ""))
	if resp.Error == nil || !strings.Contains(resp.Error.Message, "TENCENTCLOUD_SECRETID") || len(resp.Payload) != 0 {
		t.Fatalf("invoke without credentials: payload %q, error %+v", resp.Payload, resp.Error)
	}
	if calls, logged := f.apiCalls(); len(calls) != 0 || logged != 0 {
		t.Errorf("API called without credentials: %v (%d logged)", calls, logged)
	}

	// 2. A wrong key in Environment: refused by the cloud, key unchanged.
	resp = f.invokeWith(invokeRequest(timer, time.Now().Add(longDeadline), string(wrong)))
	if resp.Error == nil || !strings.Contains(resp.Error.Message, "AuthFailure.SignatureFailure") {
		t.Fatalf("invoke with a wrong key: %+v", resp.Error)
	}
	if got := f.cloud.Emu.Performed(actionRefresh); got != 0 {
		t.Errorf("%d refreshes with a wrong key", got)
	}

	// 3. The right credentials in Environment replace the wrong ones: the
	// same instance now rotates (the redelivered timer is a retry of a
	// rotation that never refreshed, so it refreshes once).
	resp = f.invoke(timer, time.Now().Add(longDeadline))
	if resp.Error != nil {
		t.Fatalf("invoke with the role credentials: %+v", resp.Error)
	}
	rep := decodeReport(t, resp.Payload)
	if !rep.OK || len(rep.Zones) != len(allowedZones) {
		t.Fatalf("report: %s", resp.Payload)
	}
	for _, z := range allowedZones {
		if f.cloud.Live(z) == before[z] {
			t.Errorf("%s not rotated", z)
		}
		f.assertDelivered(z)
	}
	if got := f.cloud.Emu.Performed(actionRefresh); got != len(allowedZones) {
		t.Errorf("%d refreshes, want %d", got, len(allowedZones))
	}
	if f.cloud.Live(zoneOutside) != before[zoneOutside] {
		t.Error("a zone outside ZONE_IDS was rotated")
	}
	f.assertNoLeak()
}

// TestSCFInvoke covers timer and direct events through the runtime.
func TestSCFInvoke(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Format(time.RFC3339)
	// want is what one invoke must produce. Every member is asserted on
	// every invoke.
	type want struct {
		// errHas: a ReportError, without payload, whose message contains
		// each; nil: an ok report with exactly outcomes.
		errHas    []string
		outcomes  map[string]rotate.Outcome
		refresh   int      // Refresh performed so far (after priming)
		changed   []string // zones whose key changed since the start of the case
		delivered []string // zones whose SSM secret and webhook receiver hold the live key
		calls     bool     // the cloud was called (so far, after priming)
		writes    bool     // an SSM write action was called (so far, after priming)
		logHas    []string // the logs contain each
	}
	both := map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}
	alpha := map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}
	rotatedBoth := want{outcomes: both, refresh: 2, changed: allowedZones, delivered: allowedZones, calls: true, writes: true}
	rotatedAlpha := want{outcomes: alpha, refresh: 1, changed: []string{zoneAlpha}, delivered: []string{zoneAlpha}, calls: true, writes: true}
	tests := []struct {
		name          string
		env           map[string]string
		prime         bool
		fault         *emulator.Fault
		payloads      [][]byte      // invoked in order on the same instance
		otherInstance bool          // payloads after the first go to a new instance
		clearFaults   bool          // the fault is removed after the first payload
		deadline      time.Duration // from now; 0 = longDeadline
		want          []want        // one per payload
	}{
		{
			name:     "timer note rotates every zone",
			payloads: [][]byte{timerEvent(t, "nightly-rotate", now, "scheduled")},
			want:     []want{rotatedBoth},
		},
		{
			name:     "timer empty message rotates every zone",
			payloads: [][]byte{mustJSON(t, fixtureEvent(t, "timer.json"))},
			want:     []want{rotatedBoth},
		},
		{
			name:     "timer check compares and refreshes nothing",
			prime:    true,
			payloads: [][]byte{timerEvent(t, "hourly-check", now, `{"action":"check"}`)},
			want: []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.InSync, zoneBeta: rotate.InSync},
				delivered: allowedZones, calls: true}},
		},
		{
			name:     "timer check reports drift as an invocation error",
			payloads: [][]byte{timerEvent(t, "hourly-check", now, `{"action":"check","zones":["zone-beta"]}`)},
			want:     []want{{errHas: []string{"check not ok", zoneBeta + " drift"}, calls: true}},
		},
		{
			name:     "timer with a failing zone is an invocation error",
			fault:    &emulator.Fault{Action: actionDescribe, Target: zoneBeta, Code: "AuthFailure.UnauthorizedOperation"},
			payloads: [][]byte{timerEvent(t, "nightly-rotate", now, "scheduled")},
			want: []want{{errHas: []string{zoneBeta + " failed", "AuthFailure.UnauthorizedOperation"},
				refresh: 1, changed: []string{zoneAlpha}, delivered: []string{zoneAlpha}, calls: true, writes: true}},
		},
		{
			name: "redelivered timer does not rotate twice",
			payloads: [][]byte{
				timerEvent(t, "nightly-rotate", now, "scheduled"),
				timerEvent(t, "nightly-rotate", now, "scheduled"),
			},
			want: []want{rotatedBoth, rotatedBoth},
		},
		{
			name: "direct rotate and its redelivery",
			payloads: [][]byte{
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
			},
			want: []want{rotatedAlpha, rotatedAlpha},
		},
		{
			name: "direct redelivery to another instance",
			payloads: [][]byte{
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
			},
			otherInstance: true,
			want:          []want{rotatedAlpha, rotatedAlpha},
		},
		{
			name: "redelivered timer on another instance does not rotate twice",
			payloads: [][]byte{
				timerEvent(t, "nightly-rotate", now, "scheduled"),
				timerEvent(t, "nightly-rotate", now, "scheduled"),
			},
			otherInstance: true,
			want:          []want{rotatedBoth, rotatedBoth},
		},
		{
			name:  "timer retried after a failed delivery finishes it without refreshing",
			prime: true,
			fault: &emulator.Fault{Action: "UpdateSecret", Target: strings.ReplaceAll(testkit.SecretName, "{zone}", zoneBeta), Code: "FailedOperation"},
			payloads: [][]byte{
				timerEvent(t, "nightly-rotate", now, "scheduled"),
				timerEvent(t, "nightly-rotate", now, "scheduled"),
			},
			otherInstance: true,
			clearFaults:   true,
			want: []want{
				{errHas: []string{zoneBeta + " failed", "UpdateSecret FailedOperation", "key rotated, run sync"}, refresh: 2, changed: allowedZones,
					delivered: []string{zoneAlpha}, calls: true, writes: true},
				rotatedBoth,
			},
		},
		{
			name: "webhook only: redelivery remembered by the instance",
			env:  map[string]string{"SSM_SECRET_NAME": "", "SSM_VERSION_ID": ""},
			payloads: [][]byte{
				[]byte(`{"action":"rotate","rotationId":"r-hook"}`),
				[]byte(`{"action":"rotate","rotationId":"r-hook"}`),
			},
			want: []want{
				{outcomes: both, refresh: 2, changed: allowedZones, delivered: allowedZones, calls: true},
				{outcomes: both, refresh: 2, changed: allowedZones, delivered: allowedZones, calls: true},
			},
		},
		{
			name:     "direct rotate of a zone outside the allow-list",
			payloads: [][]byte{[]byte(`{"action":"rotate","zones":["zone-outside"]}`)},
			want:     []want{{errHas: []string{zoneOutside + " failed"}}},
		},
		{
			name:     "direct dry run refreshes nothing",
			payloads: [][]byte{[]byte(`{"action":"rotate","dryRun":true}`)},
			want:     []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Planned, zoneBeta: rotate.Planned}, calls: true}},
		},
		{
			name:     "direct sync delivers the live key without rotating",
			payloads: [][]byte{[]byte(`{"action":"sync"}`)},
			want: []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Synced, zoneBeta: rotate.Synced},
				delivered: allowedZones, calls: true, writes: true}},
		},
		{
			name:     "deadline already past: zones skipped",
			payloads: [][]byte{timerEvent(t, "nightly-rotate", now, "scheduled")},
			deadline: -time.Second,
			want:     []want{{errHas: []string{zoneAlpha + " skipped", zoneBeta + " skipped"}}},
		},
		{
			name:     "deadline shorter than the delivery budget: zones skipped",
			payloads: [][]byte{[]byte(`{"action":"rotate","rotationId":"r-short"}`)},
			deadline: 1500 * time.Millisecond,
			want: []want{{errHas: []string{zoneAlpha + " skipped", zoneBeta + " skipped"},
				logHas: []string{"left before the deadline, DELIVERY_WINDOW is 5s"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startSCFFunction(t, tc.env)
			if tc.prime {
				f.prime()
			}
			if tc.fault != nil {
				f.cloud.Emu.Inject(*tc.fault)
			}
			before := f.liveKeys()
			for i, payload := range tc.payloads {
				w := tc.want[i]
				if i > 0 && tc.otherInstance {
					f.newInstance()
				}
				if i > 0 && tc.clearFaults {
					f.cloud.Emu.ClearFaults()
				}
				deadline := time.Now().Add(cmp.Or(tc.deadline, longDeadline))
				resp := f.invoke(payload, deadline)
				if (resp.Error != nil) != (w.errHas != nil) {
					t.Fatalf("invoke %d: error %+v, payload %s; want an error containing %q", i, resp.Error, resp.Payload, w.errHas)
				}
				var got map[string]rotate.Outcome // of the report, nil without one
				if resp.Error == nil {
					rep := decodeReport(t, resp.Payload)
					if !rep.OK {
						t.Errorf("invoke %d: report not ok: %s", i, resp.Payload)
					}
					got = outcomes(rep)
				} else {
					if len(resp.Payload) != 0 {
						t.Errorf("invoke %d: payload %q returned with the error", i, resp.Payload)
					}
					if resp.Error.Type != "ReportError" {
						t.Errorf("invoke %d: error type %q, want ReportError", i, resp.Error.Type)
					}
					for _, s := range w.errHas {
						if !strings.Contains(resp.Error.Message, s) {
							t.Errorf("invoke %d: error %q lacks %q", i, resp.Error.Message, s)
						}
					}
				}
				if !maps.Equal(got, w.outcomes) {
					t.Errorf("invoke %d: outcomes %v, want %v", i, got, w.outcomes)
				}
				if got := f.cloud.Emu.Performed(actionRefresh); got != w.refresh {
					t.Errorf("invoke %d: %d refreshes performed, want %d", i, got, w.refresh)
				}
				for z, old := range before {
					if changed := f.cloud.Live(z) != old; changed != slices.Contains(w.changed, z) {
						t.Errorf("invoke %d: %s key changed = %v, want %v", i, z, changed, !changed)
					}
				}
				for _, z := range w.delivered {
					f.assertDelivered(z)
				}
				if calls, logged := f.apiCalls(); (len(calls) != 0 || logged != 0) != w.calls {
					t.Errorf("invoke %d: the cloud was called: %v (%d logged), want called = %v", i, calls, logged, w.calls)
				}
				if n := f.writeCalls(); (n != 0) != w.writes {
					t.Errorf("invoke %d: %d SSM writes, want writes = %v", i, n, w.writes)
				}
				for _, s := range w.logHas {
					if !strings.Contains(f.cloud.Logs.String(), s) {
						t.Errorf("invoke %d: the logs do not say %q", i, s)
					}
				}
			}
			if f.cloud.Live(zoneOutside) != before[zoneOutside] {
				t.Error("a zone outside ZONE_IDS was rotated")
			}
			if _, ok := f.cloud.Emu.Secret(testkit.Region, f.cloud.SecretName(zoneOutside)); ok {
				t.Error("a secret was written for a zone outside ZONE_IDS")
			}
			f.assertNoLeak()
		})
	}
}

// TestSCFRegionFromInvoke: the Go1 runtime names the region in the invoke,
// not in a variable; SSM (regional) takes it from there when neither
// SSM_REGION nor TENCENTCLOUD_REGION is set, and the logs name the function.
func TestSCFRegionFromInvoke(t *testing.T) {
	t.Parallel()
	f := startSCFFunction(t, map[string]string{"TENCENTCLOUD_REGION": ""})
	resp := f.invoke([]byte(`{"action":"rotate","zones":["zone-alpha"]}`), time.Now().Add(longDeadline))
	if resp.Error != nil {
		t.Fatalf("invoke: %s", resp.Error.Message)
	}
	f.assertDelivered(zoneAlpha)
	if logs := f.cloud.Logs.String(); !strings.Contains(logs, `"functionName":"mpgw-keyrotator"`) || !strings.Contains(logs, `"namespace":"default"`) {
		t.Error("the function's logs do not name the function and namespace")
	}
}
