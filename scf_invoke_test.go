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
	if got := f.cloud.Emu.Performed(scfRefresh); got != 0 {
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
	if got := f.cloud.Emu.Performed(scfRefresh); got != len(allowedZones) {
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
	type want struct {
		errHas   []string // scf.InvokeResponse.Error message contains; nil = no error
		outcomes map[string]rotate.Outcome
		refresh  int      // Refresh performed so far (after priming)
		changed  []string // zones whose key changed since the start of the case
		logHas   string   // the logs contain this
		noCalls  bool     // no API call at all
	}
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
			want: []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated},
				refresh: 2, changed: allowedZones}},
		},
		{
			name:     "timer empty message rotates every zone",
			payloads: [][]byte{mustJSON(t, fixtureEvent(t, "timer.json"))},
			want: []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated},
				refresh: 2, changed: allowedZones}},
		},
		{
			name:     "timer check compares and refreshes nothing",
			prime:    true,
			payloads: [][]byte{timerEvent(t, "hourly-check", now, `{"action":"check"}`)},
			want:     []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.InSync, zoneBeta: rotate.InSync}}},
		},
		{
			name:     "timer check reports drift as an invocation error",
			payloads: [][]byte{timerEvent(t, "hourly-check", now, `{"action":"check","zones":["zone-beta"]}`)},
			want:     []want{{errHas: []string{"check not ok", zoneBeta + " drift"}}},
		},
		{
			name:     "timer with a failing zone is an invocation error",
			fault:    &emulator.Fault{Action: scfDescribe, Target: zoneBeta, Code: "AuthFailure.UnauthorizedOperation"},
			payloads: [][]byte{timerEvent(t, "nightly-rotate", now, "scheduled")},
			want: []want{{errHas: []string{zoneBeta + " failed", "AuthFailure.UnauthorizedOperation"},
				refresh: 1, changed: []string{zoneAlpha}}},
		},
		{
			name: "redelivered timer does not rotate twice",
			payloads: [][]byte{
				timerEvent(t, "nightly-rotate", now, "scheduled"),
				timerEvent(t, "nightly-rotate", now, "scheduled"),
			},
			want: []want{
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
			},
		},
		{
			name: "direct rotate and its redelivery",
			payloads: [][]byte{
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
			},
			want: []want{
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, refresh: 1, changed: []string{zoneAlpha}},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, refresh: 1, changed: []string{zoneAlpha}},
			},
		},
		{
			name: "direct redelivery to another instance",
			payloads: [][]byte{
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
			},
			otherInstance: true,
			want: []want{
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, refresh: 1, changed: []string{zoneAlpha}},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, refresh: 1, changed: []string{zoneAlpha}},
			},
		},
		{
			name: "redelivered timer on another instance does not rotate twice",
			payloads: [][]byte{
				timerEvent(t, "nightly-rotate", now, "scheduled"),
				timerEvent(t, "nightly-rotate", now, "scheduled"),
			},
			otherInstance: true,
			want: []want{
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
			},
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
				{errHas: []string{zoneBeta + " failed", "UpdateSecret FailedOperation", "key rotated, run sync"}, refresh: 2, changed: allowedZones},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
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
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
			},
		},
		{
			name:     "direct rotate of a zone outside the allow-list",
			payloads: [][]byte{[]byte(`{"action":"rotate","zones":["zone-outside"]}`)},
			want:     []want{{errHas: []string{zoneOutside + " failed"}, noCalls: true}},
		},
		{
			name:     "direct dry run refreshes nothing",
			payloads: [][]byte{[]byte(`{"action":"rotate","dryRun":true}`)},
			want:     []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Planned, zoneBeta: rotate.Planned}}},
		},
		{
			name:     "direct sync delivers the live key without rotating",
			payloads: [][]byte{[]byte(`{"action":"sync"}`)},
			want:     []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Synced, zoneBeta: rotate.Synced}}},
		},
		{
			name:     "deadline already past: zones skipped",
			payloads: [][]byte{timerEvent(t, "nightly-rotate", now, "scheduled")},
			deadline: -time.Second,
			want:     []want{{errHas: []string{zoneAlpha + " skipped", zoneBeta + " skipped"}, noCalls: true}},
		},
		{
			name:     "deadline shorter than the delivery budget: zones skipped",
			payloads: [][]byte{[]byte(`{"action":"rotate","rotationId":"r-short"}`)},
			deadline: 1500 * time.Millisecond,
			want: []want{{errHas: []string{zoneAlpha + " skipped", zoneBeta + " skipped"},
				logHas: "left before the deadline, DELIVERY_WINDOW is 5s"}},
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
				if w.errHas == nil {
					if resp.Error != nil {
						t.Fatalf("invoke %d: error %+v", i, resp.Error)
					}
					rep := decodeReport(t, resp.Payload)
					if !rep.OK || !maps.Equal(outcomes(rep), w.outcomes) {
						t.Fatalf("invoke %d: report %s, want outcomes %v", i, resp.Payload, w.outcomes)
					}
				} else {
					if resp.Error == nil {
						t.Fatalf("invoke %d: no invocation error; payload %s", i, resp.Payload)
					}
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
				if got := f.cloud.Emu.Performed(scfRefresh); got != w.refresh {
					t.Errorf("invoke %d: %d refreshes performed, want %d", i, got, w.refresh)
				}
				for z, old := range before {
					changed := f.cloud.Live(z) != old
					if changed != slices.Contains(w.changed, z) {
						t.Errorf("invoke %d: %s key changed = %v, want %v", i, z, changed, !changed)
					}
				}
				for z, o := range w.outcomes {
					if o.Good() && o != rotate.Planned {
						f.assertDelivered(z)
					}
				}
				if calls, logged := f.apiCalls(); w.noCalls && (len(calls) != 0 || logged != 0) {
					t.Errorf("invoke %d: the cloud was called: %v (%d logged)", i, calls, logged)
				}
				if w.logHas != "" && !strings.Contains(f.cloud.Logs.String(), w.logHas) {
					t.Errorf("invoke %d: the logs do not say %q", i, w.logHas)
				}
				if w.outcomes[zoneAlpha] == rotate.InSync {
					for _, a := range writeActions {
						if n := f.cloud.Emu.Calls(a); n != 0 {
							t.Errorf("check called %s %d times", a, n)
						}
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
