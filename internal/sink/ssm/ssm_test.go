package ssm_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/ssm"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

const (
	region    = "ap-guangzhou"
	zone      = "zone-ssm01"
	template  = "mpgw-key-{zone}"
	versionID = "current"
	pendingID = "pending"
	name      = "mpgw-key-zone-ssm01" // template with zone
)

// writes are the SSM actions that change state.
var writes = []string{"CreateSecret", "PutSecretValue", "UpdateSecret", "UpdateDescription",
	"DeleteSecretVersion", "DisableSecret", "EnableSecret", "DeleteSecret", "RestoreSecret"}

// reads are the SSM actions the sink uses that change nothing.
var reads = []string{"GetSecretValue", "DescribeSecret", "ListSecretVersionIds"}

// fastRetry is the client's policy: production logic without the waiting.
// A transient failure that persists is sent fastRetry.Attempts times.
var fastRetry = testkit.FastRetry

type fixture struct {
	emu  *emulator.Emulator
	sink *ssm.Sink
	logs *testkit.Buffer
	// errs collects every error text the test saw, for the leak check.
	errs []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	emu, ep := testkit.StartEmulator(t, emulator.Options{})
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	api := &tcapi.Client{
		Endpoint:   ep,
		Credential: testkit.RoleCredential(emu),
		Limits:     tcapi.NewLimits(20, ssm.RateLimits()),
		Timeout:    5 * time.Second, Retry: fastRetry, Logger: logger,
	}
	s := ssm.New(config.SSM{SecretName: template, VersionID: versionID, PendingVersionID: pendingID, Region: region, Endpoint: ep}, api)
	if api.Service != "" || api.Version != "" || api.Region != "" {
		t.Fatalf("New changed the client it was given to %s %s %s", api.Service, api.Version, api.Region)
	}
	if s.API.Service != "ssm" || s.API.Version != "2019-09-23" || s.API.Region != region || s.API.Logger != logger {
		t.Fatalf("New set the client to %s %s %s", s.API.Service, s.API.Version, s.API.Region)
	}
	if s.SecretName != template || s.VersionID != versionID || s.PendingVersionID != pendingID {
		t.Fatalf("New = %+v", s)
	}
	s.Logger = logger
	return &fixture{emu: emu, sink: s, logs: logs}
}

// parallel runs body as a parallel subtest on a fixture of its own.
func parallel(t *testing.T, name string, body func(t *testing.T, f *fixture)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		body(t, newFixture(t))
	})
}

func (f *fixture) err(err error) error {
	if err != nil {
		f.errs = append(f.errs, err.Error())
	}
	return err
}

// noLeak fails if any of keys shows in an error or a log line.
func (f *fixture) noLeak(t *testing.T, keys ...string) {
	t.Helper()
	testkit.AssertNoLeak(t, keys, append(f.errs, f.logs.String())...)
}

func (f *fixture) writeCalls() int {
	n := 0
	for _, a := range writes {
		n += f.emu.Calls(a)
	}
	return n
}

// calls checks the emulator's call counts; actions left out are not checked.
func (f *fixture) calls(t *testing.T, want map[string]int) {
	t.Helper()
	for _, action := range slices.Sorted(maps.Keys(want)) {
		if got := f.emu.Calls(action); got != want[action] {
			t.Errorf("%s called %d times, want %d", action, got, want[action])
		}
	}
}

// allCalls checks every read and write action: those left out of want must
// not have been called at all.
func (f *fixture) allCalls(t *testing.T, want map[string]int) {
	t.Helper()
	full := map[string]int{}
	for _, a := range append(slices.Clone(reads), writes...) {
		full[a] = want[a]
	}
	for a := range want {
		if _, ok := full[a]; !ok {
			t.Fatalf("unknown action %s in want", a)
		}
	}
	f.calls(t, full)
}

// holding is what Inspect answers for the zone now; the test stops when it
// fails.
func (f *fixture) holding(t *testing.T) sink.Holding {
	t.Helper()
	h, err := f.sink.Inspect(context.Background(), zone)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return h
}

// arm counts the calls afresh and injects faults: what a test checks
// afterwards is what the step under test did.
func (f *fixture) arm(faults []emulator.Fault) {
	f.emu.ResetCounters()
	for _, flt := range faults {
		f.emu.Inject(flt)
	}
}

// value is what consumers read from the configured version ("" if none).
func (f *fixture) value() (string, bool) { return f.versionValue(versionID) }

// versionValue is the value of version vid ("" and false if none).
func (f *fixture) versionValue(vid string) (string, bool) {
	s, ok := f.emu.Secret(region, name)
	if !ok {
		return "", false
	}
	for _, v := range s.Versions {
		if v.ID == vid {
			return v.Value, true
		}
	}
	return "", false
}

// put seeds the zone's secret (Region and Name are filled in).
func (f *fixture) put(s emulator.SecretState) {
	s.Region, s.Name = region, name
	f.emu.PutSecret(s)
}

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func delivery(key string, fresh bool) sink.Delivery {
	return sink.Delivery{ZoneID: zone, Key: secret.New(key), Action: "rotate", RotationID: "rot-1", Fresh: fresh}
}

// seed describes the secret before the test.
type seed int

const (
	noSecret       seed = iota
	versionMissing      // the secret exists with another version only
	otherValue          // the configured version holds another key
	sameValue           // the configured version holds the key delivered
	disabled            // otherValue, Disabled
	pendingDelete       // otherValue, PendingDelete
)

func (s seed) String() string {
	return [...]string{"no secret", "version missing", "other value", "same value", "disabled", "pending delete"}[s]
}

// seedDescription is the description of seeded secrets: no record.
const seedDescription = "seeded"

func (f *fixture) seed(s seed, key, old string) {
	st := emulator.SecretState{Description: seedDescription}
	switch s {
	case noSecret:
		return
	case versionMissing:
		st.Versions = []emulator.Version{{ID: "v1", Value: old}}
	case otherValue:
		st.Versions = []emulator.Version{{ID: versionID, Value: old}}
	case sameValue:
		st.Versions = []emulator.Version{{ID: versionID, Value: key}}
	case disabled:
		st.Versions = []emulator.Version{{ID: versionID, Value: old}}
		st.Status = emulator.StatusDisabled
	case pendingDelete:
		st.Versions = []emulator.Version{{ID: versionID, Value: old}}
		st.Status = emulator.StatusPendingDelete
	}
	f.put(st)
}

// record is a rotation record as Begin receives it.
func record(id string, from string) sink.Record {
	return sink.Record{RotationID: id, State: sink.Pending, From: from, At: time.Now()}
}

// stored is rec as it comes back from the description: at second precision.
func stored(rec sink.Record) sink.Record {
	rec.At = rec.At.UTC().Truncate(time.Second)
	return rec
}

func sameRecord(got *sink.Record, want sink.Record) bool {
	return got != nil && got.RotationID == want.RotationID && got.State == want.State &&
		got.From == want.From && got.To == want.To && got.At.Equal(want.At)
}

func describeRecord(r *sink.Record) string {
	if r == nil {
		return "no record"
	}
	return fmt.Sprintf("%+v", *r)
}

// checkError checks an error of the sink: an *ssm.Error naming the secret,
// carrying code (and its text), retryable as said.
func checkError(t *testing.T, err error, code string, retryable bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	var se *ssm.Error
	if !errors.As(err, &se) || se.Secret != name || !strings.Contains(err.Error(), name) {
		t.Errorf("err = %v (%T), want an *ssm.Error naming %s", err, err, name)
	}
	if got := tcapi.Code(err); got != code || !strings.Contains(err.Error(), code) {
		t.Errorf("code %q (%v), want %q", got, err, code)
	}
	if got := retry.IsRetryable(err); got != retryable {
		t.Errorf("retryable = %v, want %v (%v)", got, retryable, err)
	}
}

func TestInspect(t *testing.T) {
	key, old := newKey(t), newKey(t)
	rec := stored(record("timer:nightly:2025-01-01T02:00:00Z", secret.Fingerprint(old)))
	withRecord := "EdgeOne key of " + zone + "\n" + rec.Encode()
	current := []emulator.Version{{ID: versionID, Value: key}}
	tenOthers := make([]emulator.Version, 10)
	for i := range tenOthers {
		tenOthers[i] = emulator.Version{ID: fmt.Sprintf("v%d", i), Value: old}
	}
	nineOthers := tenOthers[:9]
	tenWithCurrent := append(slices.Clone(current), tenOthers[:9]...)
	steady := map[string]int{"GetSecretValue": 1, "DescribeSecret": 1}

	type inspectCase struct {
		name   string
		secret *emulator.SecretState // nil: none
		fault  *emulator.Fault

		wantExists bool
		wantKey    bool // Holding.Key is key (else zero)
		wantRecord bool // Holding.Record is rec (else nil)
		wantCalls  map[string]int

		wantCode      string // "" = no error
		wantRetryable bool
		wantText      string
	}
	// denied is CAM refusing action on secret s (nil: one that does not
	// exist yet).
	denied := func(action string, s *emulator.SecretState) inspectCase {
		name := action + " denied"
		if s == nil {
			name += " for a secret that does not exist yet"
		}
		return inspectCase{name: name, secret: s, fault: &emulator.Fault{Action: action, Code: "UnauthorizedOperation"},
			wantCode: "UnauthorizedOperation", wantCalls: steady}
	}
	tests := []inspectCase{
		{name: "steady secret with a record",
			secret:     &emulator.SecretState{Description: withRecord, Versions: current},
			wantExists: true, wantKey: true, wantRecord: true, wantCalls: steady},
		{name: "steady secret without a record",
			secret:     &emulator.SecretState{Description: seedDescription, Versions: current},
			wantExists: true, wantKey: true, wantCalls: steady},
		{name: "description edited by hand",
			secret:     &emulator.SecretState{Description: strings.Replace(withRecord, "state=pending", "state=finished", 1), Versions: current},
			wantExists: true, wantKey: true, wantCalls: steady},
		{name: "missing secret: Begin creates it", wantCalls: steady},
		{name: "missing version with room for it",
			secret:     &emulator.SecretState{Description: withRecord, Versions: nineOthers},
			wantExists: true, wantRecord: true,
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "ListSecretVersionIds": 1}},
		{name: "ten versions, one of them the configured one",
			secret:     &emulator.SecretState{Versions: tenWithCurrent},
			wantExists: true, wantKey: true, wantCalls: steady},
		{name: "ten versions, none the configured one",
			secret:   &emulator.SecretState{Versions: tenOthers},
			wantCode: "LimitExceeded", wantText: "10 versions",
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "ListSecretVersionIds": 1}},
		{name: "disabled",
			secret:   &emulator.SecretState{Status: emulator.StatusDisabled, Description: withRecord, Versions: current},
			wantCode: "ResourceUnavailable.ResourceDisabled", wantCalls: steady},
		{name: "pending delete",
			secret:   &emulator.SecretState{Status: emulator.StatusPendingDelete, Description: withRecord, Versions: current},
			wantCode: "ResourceUnavailable.ResourcePendingDeleted", wantCalls: steady},
		{name: "a status the sink does not know",
			secret:   &emulator.SecretState{Status: "Frozen", Versions: current},
			wantCode: "ResourceUnavailable", wantText: "is Frozen", wantCalls: steady},
		denied("GetSecretValue", nil),
		denied("GetSecretValue", &emulator.SecretState{Versions: current}),
		denied("DescribeSecret", &emulator.SecretState{Versions: current}),
		denied("DescribeSecret", nil),
		{name: "ListSecretVersionIds denied",
			secret:    &emulator.SecretState{Versions: nineOthers},
			fault:     &emulator.Fault{Action: "ListSecretVersionIds", Code: "UnauthorizedOperation"},
			wantCode:  "UnauthorizedOperation",
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "ListSecretVersionIds": 1}},
		{name: "GetSecretValue failing for good",
			secret:   &emulator.SecretState{Versions: current},
			fault:    &emulator.Fault{Action: "GetSecretValue", Code: "InternalError"},
			wantCode: "InternalError", wantRetryable: true,
			wantCalls: map[string]int{"GetSecretValue": fastRetry.Attempts, "DescribeSecret": 1}},

		{name: "GetSecretValue throttled twice",
			secret:     &emulator.SecretState{Description: withRecord, Versions: current},
			fault:      &emulator.Fault{Action: "GetSecretValue", Code: "RequestLimitExceeded", Times: 2},
			wantExists: true, wantKey: true, wantRecord: true,
			wantCalls: map[string]int{"GetSecretValue": 3, "DescribeSecret": 1}},
		{name: "DescribeSecret failing once",
			secret:     &emulator.SecretState{Description: withRecord, Versions: current},
			fault:      &emulator.Fault{Action: "DescribeSecret", Code: "InternalError", Times: 1},
			wantExists: true, wantKey: true, wantRecord: true,
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 2}},
		{name: "GetSecretValue answer dropped once",
			secret:     &emulator.SecretState{Versions: current},
			fault:      &emulator.Fault{Action: "GetSecretValue", Phase: emulator.After, Drop: true, Times: 1},
			wantExists: true, wantKey: true,
			wantCalls: map[string]int{"GetSecretValue": 2, "DescribeSecret": 1}},
	}
	for _, tc := range tests {
		parallel(t, tc.name, func(t *testing.T, f *fixture) {
			if tc.secret != nil {
				f.put(*tc.secret)
			}
			if tc.fault != nil {
				f.emu.Inject(*tc.fault)
			}
			h, err := f.sink.Inspect(context.Background(), zone)
			f.err(err)
			if tc.wantCalls != nil {
				f.allCalls(t, tc.wantCalls)
			}
			if f.writeCalls() != 0 {
				t.Error("Inspect wrote")
			}
			if tc.secret == nil {
				if _, ok := f.emu.Secret(region, name); ok {
					t.Error("Inspect created the secret")
				}
			}
			if tc.wantCode != "" {
				checkError(t, err, tc.wantCode, tc.wantRetryable)
				if !strings.Contains(fmt.Sprint(err), tc.wantText) {
					t.Errorf("%q lacks %q", err, tc.wantText)
				}
			} else {
				if err != nil {
					t.Fatalf("Inspect: %v", err)
				}
				if h.Exists != tc.wantExists {
					t.Errorf("Exists = %v, want %v", h.Exists, tc.wantExists)
				}
				if tc.wantKey && !h.Key.Equal(secret.New(key)) || !tc.wantKey && !h.Key.IsZero() {
					t.Errorf("Key is right %v, zero %v; want the key %v", h.Key.Equal(secret.New(key)), h.Key.IsZero(), tc.wantKey)
				}
				if tc.wantRecord && !sameRecord(h.Record, rec) || !tc.wantRecord && h.Record != nil {
					t.Errorf("Record = %s, want it %v (%+v)", describeRecord(h.Record), tc.wantRecord, rec)
				}
			}
			f.noLeak(t, key, old)
		})
	}
}

// TestInspectDistrustsEdits: a record changed by hand in any way is no
// record; the secret and its key are still reported.
func TestInspectDistrustsEdits(t *testing.T) {
	good := sink.Record{RotationID: "rot-1", State: sink.Pending, From: secret.Fingerprint("old"), At: time.Date(2025, 1, 1, 2, 0, 0, 0, time.UTC)}
	line := good.Encode()
	edits := []struct{ name, from, to string }{
		{"record removed", line, ""},
		{"state edited", "state=pending", "state=finished"},
		{"field repeated", "state=pending", "state=pending state=done"},
		{"field added", "state=pending", "state=pending by=hand"},
		{"fingerprint edited", "from=sha256:", "from=md5:"},
		{"time edited", "at=2025-01-01T02:00:00Z", "at=yesterday"},
		{"rotation removed", "rotation=rot-1 ", ""},
		{"line truncated", line, line[:len(line)/2]},
	}
	for _, tc := range edits {
		parallel(t, tc.name, func(t *testing.T, f *fixture) {
			ctx := context.Background()
			key := newKey(t)
			f.seed(sameValue, key, "")
			h, err := f.sink.Inspect(ctx, zone)
			if err != nil || !h.Exists || h.Record != nil {
				t.Fatalf("Inspect before Begin = %+v, %v", h, err)
			}
			if err := f.err(f.sink.Begin(ctx, zone, h, good, secret.New(key))); err != nil {
				t.Fatal(err)
			}
			if h, err := f.sink.Inspect(ctx, zone); err != nil || !sameRecord(h.Record, good) {
				t.Fatalf("untouched record: %s, %v", describeRecord(h.Record), err)
			}
			s, _ := f.emu.Secret(region, name)
			if !strings.Contains(s.Description, tc.from) {
				t.Fatalf("description %q lacks %q", s.Description, tc.from)
			}
			s.Description = strings.Replace(s.Description, tc.from, tc.to, 1)
			f.emu.PutSecret(s)
			h, err = f.sink.Inspect(ctx, zone)
			if f.err(err) != nil || h.Record != nil {
				t.Errorf("Inspect after the edit: %s, %v; want no record", describeRecord(h.Record), err)
			}
			if !h.Exists || !h.Key.Equal(secret.New(key)) {
				t.Errorf("Inspect after the edit: exists %v, key right %v", h.Exists, h.Key.Equal(secret.New(key)))
			}
			f.noLeak(t, key)
		})
	}
}

// TestBegin: Begin records the rotation in the description of an existing
// secret, or creates the secret holding the live key and reads it back.
func TestBegin(t *testing.T) {
	tests := []struct {
		name string
		seed seed // the secret before Inspect
		// gone: the holding says the secret exists, but it is gone (deleted
		// between Inspect and Begin).
		gone bool
		// meanwhile is a secret created between Inspect and Begin, holding
		// another key (nil: none).
		meanwhile *emulator.SecretState
		faults    []emulator.Fault
		zeroLive  bool

		wantCalls     map[string]int // calls made by Begin
		wantCode      string         // "" = no error
		wantRetryable bool
		wantText      string
		wantNoSecret  bool // no secret afterwards
	}{
		{name: "existing secret: the description is updated", seed: otherValue,
			wantCalls: map[string]int{"UpdateDescription": 1}},
		{name: "existing secret with the version missing", seed: versionMissing,
			wantCalls: map[string]int{"UpdateDescription": 1}},
		{name: "existing secret, zero live key", seed: otherValue, zeroLive: true,
			wantCalls: map[string]int{"UpdateDescription": 1}},
		{name: "existing secret, UpdateDescription throttled once", seed: otherValue,
			faults:    []emulator.Fault{{Action: "UpdateDescription", Code: "RequestLimitExceeded", Times: 1}},
			wantCalls: map[string]int{"UpdateDescription": 2}},
		{name: "existing secret, UpdateDescription answer lost", seed: otherValue,
			faults:    []emulator.Fault{{Action: "UpdateDescription", Phase: emulator.After, Code: "InternalError", Times: 1}},
			wantCalls: map[string]int{"UpdateDescription": 2}},
		{name: "missing secret is created holding the live key", seed: noSecret,
			wantCalls: map[string]int{"CreateSecret": 1, "GetSecretValue": 1}},
		{name: "missing secret, CreateSecret failing once", seed: noSecret,
			faults:    []emulator.Fault{{Action: "CreateSecret", Code: "InternalError", Times: 1}},
			wantCalls: map[string]int{"CreateSecret": 2, "GetSecretValue": 1}},
		{name: "missing secret, CreateSecret answer lost", seed: noSecret,
			faults:    []emulator.Fault{{Action: "CreateSecret", Phase: emulator.After, Code: "InternalError", Times: 1}},
			wantCalls: map[string]int{"CreateSecret": 2, "UpdateDescription": 1, "GetSecretValue": 1}},
		{name: "missing secret, CreateSecret connection dropped after the work", seed: noSecret,
			faults:    []emulator.Fault{{Action: "CreateSecret", Phase: emulator.After, Drop: true, Times: 1}},
			wantCalls: map[string]int{"CreateSecret": 2, "UpdateDescription": 1, "GetSecretValue": 1}},
		{name: "missing secret, read-back throttled once", seed: noSecret,
			faults:    []emulator.Fault{{Action: "GetSecretValue", Code: "RequestLimitExceeded", Times: 1}},
			wantCalls: map[string]int{"CreateSecret": 1, "GetSecretValue": 2}},
		{name: "secret created meanwhile: its description is updated", seed: noSecret,
			meanwhile: &emulator.SecretState{Description: seedDescription, Versions: []emulator.Version{{ID: versionID}}},
			wantCalls: map[string]int{"CreateSecret": 1, "UpdateDescription": 1, "GetSecretValue": 1}},

		{name: "missing secret, zero live key", seed: noSecret, zeroLive: true,
			wantCalls: map[string]int{}, wantText: "no live key", wantNoSecret: true},
		{name: "missing secret, read-back denied", seed: noSecret,
			faults:    []emulator.Fault{{Action: "GetSecretValue", Code: "UnauthorizedOperation"}},
			wantCalls: map[string]int{"CreateSecret": 1, "GetSecretValue": 1}, wantCode: "UnauthorizedOperation"},
		{name: "missing secret, read-back answer replaced by a denial", seed: noSecret,
			faults:    []emulator.Fault{{Action: "GetSecretValue", Phase: emulator.After, Code: "UnauthorizedOperation"}},
			wantCalls: map[string]int{"CreateSecret": 1, "GetSecretValue": 1}, wantCode: "UnauthorizedOperation"},
		{name: "missing secret, read-back finds nothing", seed: noSecret,
			faults:    []emulator.Fault{{Action: "GetSecretValue", Code: "ResourceNotFound.SecretNotExist"}},
			wantCalls: map[string]int{"CreateSecret": 1, "GetSecretValue": 1}, wantCode: "ResourceNotFound", wantText: "cannot be read back"},
		{name: "missing secret, read-back failing for good", seed: noSecret,
			faults:    []emulator.Fault{{Action: "GetSecretValue", Code: "InternalError"}},
			wantCalls: map[string]int{"CreateSecret": 1, "GetSecretValue": fastRetry.Attempts},
			wantCode:  "InternalError", wantRetryable: true},
		{name: "secret created meanwhile without the version", seed: noSecret,
			meanwhile: &emulator.SecretState{Description: seedDescription, Versions: []emulator.Version{{ID: "v1"}}},
			wantCalls: map[string]int{"CreateSecret": 1, "UpdateDescription": 1, "GetSecretValue": 1},
			wantCode:  "ResourceNotFound", wantText: "cannot be read back"},
		{name: "missing secret, CreateSecret denied", seed: noSecret,
			faults:    []emulator.Fault{{Action: "CreateSecret", Code: "UnauthorizedOperation"}},
			wantCalls: map[string]int{"CreateSecret": 1}, wantCode: "UnauthorizedOperation", wantNoSecret: true},
		{name: "existing secret, UpdateDescription denied", seed: otherValue,
			faults:    []emulator.Fault{{Action: "UpdateDescription", Code: "UnauthorizedOperation"}},
			wantCalls: map[string]int{"UpdateDescription": 1}, wantCode: "UnauthorizedOperation"},
		{name: "existing secret deleted meanwhile", seed: noSecret, gone: true,
			wantCalls: map[string]int{"UpdateDescription": 1}, wantCode: "ResourceNotFound", wantNoSecret: true},
	}
	for _, tc := range tests {
		parallel(t, tc.name, func(t *testing.T, f *fixture) {
			ctx := context.Background()
			live, old, other := newKey(t), newKey(t), newKey(t)
			f.seed(tc.seed, live, old)
			h := f.holding(t)
			if tc.gone {
				h = sink.Holding{Exists: true, Key: secret.New(old)}
			}
			if tc.meanwhile != nil {
				s := *tc.meanwhile
				s.Versions = slices.Clone(s.Versions)
				for i := range s.Versions {
					s.Versions[i].Value = other
				}
				f.put(s)
			}
			before, _ := f.emu.Secret(region, name)
			f.arm(tc.faults)
			liveKey := secret.New(live)
			if tc.zeroLive {
				liveKey = secret.Key{}
			}
			rec := record("rot-1", secret.Fingerprint(old))
			err := f.err(f.sink.Begin(ctx, zone, h, rec, liveKey))
			f.allCalls(t, tc.wantCalls)
			after, exists := f.emu.Secret(region, name)
			if tc.wantNoSecret && exists {
				t.Error("a secret exists afterwards")
			}
			switch {
			case tc.wantCode != "":
				checkError(t, err, tc.wantCode, tc.wantRetryable)
			case tc.wantText != "":
				var se *ssm.Error
				if err == nil || !errors.As(err, &se) || se.Secret != name || retry.IsRetryable(err) {
					t.Errorf("err = %v, want a final *ssm.Error naming %s", err, name)
				}
			default:
				if err != nil {
					t.Fatalf("Begin: %v", err)
				}
			}
			if !strings.Contains(fmt.Sprint(err), tc.wantText) {
				t.Errorf("%q lacks %q", err, tc.wantText)
			}
			if err != nil {
				f.noLeak(t, live, old, other)
				return
			}

			// The record is there, and the key consumers read is the one
			// they read before, or the live key in a secret Begin created.
			f.emu.ResetCounters()
			f.emu.ClearFaults()
			got, err := f.sink.Inspect(ctx, zone)
			if f.err(err) != nil || !got.Exists || !sameRecord(got.Record, stored(rec)) {
				t.Fatalf("Inspect after Begin = exists %v, %s, %v; want %+v", got.Exists, describeRecord(got.Record), err, stored(rec))
			}
			f.calls(t, map[string]int{"GetSecretValue": 1, "DescribeSecret": 1})
			if strings.Count(after.Description, "mpgw-keyrotator:") != 1 || !strings.Contains(after.Description, zone) {
				t.Errorf("description %q", after.Description)
			}
			if !slices.Equal(after.Versions, before.Versions) && tc.seed != noSecret {
				t.Error("Begin changed the versions of an existing secret")
			}
			v, _ := f.value()
			switch {
			case tc.meanwhile != nil:
				if v != other || after.Tags != nil {
					t.Errorf("Begin replaced the secret created meanwhile (value is ours %v, tags %v)", v == live, after.Tags)
				}
			case tc.seed == noSecret:
				if v != live || len(after.Versions) != 1 || after.Versions[0].ID != versionID {
					t.Errorf("the secret was not created holding the live key alone: %d versions, right value %v", len(after.Versions), v == live)
				}
				if after.Tags["managed-by"] != "mpgw-keyrotator" || after.Tags["teo-zone"] != zone || len(after.Tags) != 2 {
					t.Errorf("tags %v", after.Tags)
				}
				if after.Status != emulator.StatusEnabled {
					t.Errorf("status %s", after.Status)
				}
				if !got.Key.Equal(secret.New(live)) {
					t.Error("Inspect does not return the live key")
				}
			}
			f.noLeak(t, live, old, other)
		})
	}
}

// TestRecordRoundTrip: every record Begin writes comes back from Inspect,
// and writing one never touches the key.
func TestRecordRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key := newKey(t)
	if _, err := f.sink.Deliver(ctx, delivery(key, false)); err != nil {
		t.Fatal(err)
	}
	h, err := f.sink.Inspect(ctx, zone)
	if err != nil || !h.Exists || h.Record != nil || !h.Key.Equal(secret.New(key)) {
		t.Fatalf("Inspect before any record: %+v, %v", h, err)
	}
	recs := []sink.Record{
		{RotationID: "timer:nightly:2025-01-01T02:00:00Z", State: sink.Pending, From: secret.Fingerprint("old"), At: time.Now()},
		{RotationID: "timer:nightly:2025-01-01T02:00:00Z", State: sink.Done, From: secret.Fingerprint("old"), To: secret.Fingerprint(key), At: time.Now()},
		{RotationID: "h:0123abcd", State: sink.Pending, At: time.Date(2025, 1, 1, 2, 0, 0, 0, time.UTC)},
		{RotationID: strings.Repeat("r", 128), State: sink.Pending, From: secret.Fingerprint(key), At: time.Now().In(time.FixedZone("CST", 8*3600))},
	}
	for i, rec := range recs {
		f.emu.ResetCounters()
		if err := f.err(f.sink.Begin(ctx, zone, h, rec, secret.New(key))); err != nil {
			t.Fatalf("Begin %d: %v", i, err)
		}
		f.allCalls(t, map[string]int{"UpdateDescription": 1})
		got, err := f.sink.Inspect(ctx, zone)
		if err != nil || !sameRecord(got.Record, stored(rec)) {
			t.Errorf("record %d: Inspect = %s, %v; want %+v", i, describeRecord(got.Record), err, stored(rec))
		}
		h = got
	}
	s, _ := f.emu.Secret(region, name)
	if !strings.Contains(s.Description, zone) || strings.Count(s.Description, "mpgw-keyrotator:") != 1 {
		t.Errorf("description %q", s.Description)
	}
	if v, _ := f.value(); v != key || len(s.Versions) != 1 {
		t.Error("recording touched the key")
	}
	f.noLeak(t, key)
}

// TestDeliver: a fresh key is written straight away; any other is read first
// and written only when it differs. A second delivery of the same key writes
// nothing.
func TestDeliver(t *testing.T) {
	tests := []struct {
		seed        seed
		fresh       bool
		want        sink.Outcome
		wantCalls   map[string]int // every action; those left out: 0
		wantVersion int            // versions the secret holds afterwards
	}{
		{seed: otherValue, fresh: true, want: sink.OK, wantVersion: 1,
			wantCalls: map[string]int{"UpdateSecret": 1}},
		{seed: sameValue, fresh: true, want: sink.OK, wantVersion: 1,
			wantCalls: map[string]int{"UpdateSecret": 1}},
		{seed: versionMissing, fresh: true, want: sink.OK, wantVersion: 2,
			wantCalls: map[string]int{"UpdateSecret": 1, "PutSecretValue": 1}},
		{seed: noSecret, fresh: true, want: sink.OK, wantVersion: 1,
			wantCalls: map[string]int{"UpdateSecret": 1, "PutSecretValue": 1, "CreateSecret": 1}},

		{seed: otherValue, want: sink.OK, wantVersion: 1,
			wantCalls: map[string]int{"GetSecretValue": 1, "UpdateSecret": 1}},
		{seed: sameValue, want: sink.Unchanged, wantVersion: 1,
			wantCalls: map[string]int{"GetSecretValue": 1}},
		{seed: versionMissing, want: sink.OK, wantVersion: 2,
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "PutSecretValue": 1}},
		{seed: noSecret, want: sink.OK, wantVersion: 1,
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "CreateSecret": 1}},
	}
	for _, tc := range tests {
		parallel(t, fmt.Sprintf("%s, fresh %v", tc.seed, tc.fresh), func(t *testing.T, f *fixture) {
			key, old := newKey(t), newKey(t)
			f.seed(tc.seed, key, old)
			got, err := f.sink.Deliver(context.Background(), delivery(key, tc.fresh))
			if f.err(err) != nil || got != tc.want {
				t.Fatalf("Deliver = %s, %v; want %s", got, err, tc.want)
			}
			f.allCalls(t, tc.wantCalls)
			if v, ok := f.value(); !ok || v != key {
				t.Errorf("the secret does not hold the key (found %v)", ok)
			}
			s, _ := f.emu.Secret(region, name)
			if len(s.Versions) != tc.wantVersion {
				t.Errorf("%d versions, want %d", len(s.Versions), tc.wantVersion)
			}
			if tc.seed == versionMissing && (s.Versions[0].ID != "v1" || s.Versions[0].Value != old) {
				t.Error("another version was changed")
			}
			if tc.seed == noSecret {
				if s.Tags["managed-by"] != "mpgw-keyrotator" || s.Tags["teo-zone"] != zone || len(s.Tags) != 2 {
					t.Errorf("tags %v", s.Tags)
				}
				if !strings.Contains(s.Description, zone) || !strings.Contains(s.Description, "mpgw-keyrotator") {
					t.Errorf("description %q does not say what the secret is", s.Description)
				}
				if s.Status != emulator.StatusEnabled {
					t.Errorf("status %s", s.Status)
				}
			} else if s.Description != seedDescription {
				t.Errorf("Deliver changed the description to %q", s.Description)
			}
			if !strings.Contains(f.logs.String(), `"outcome":"`+string(tc.want)+`"`) ||
				!strings.Contains(f.logs.String(), secret.Fingerprint(key)) {
				t.Error("the delivery is not logged with its outcome and fingerprint")
			}

			// A second delivery of the same key reads once and writes nothing.
			f.emu.ResetCounters()
			got, err = f.sink.Deliver(context.Background(), delivery(key, false))
			if f.err(err) != nil || got != sink.Unchanged {
				t.Errorf("second Deliver = %s, %v; want unchanged", got, err)
			}
			f.allCalls(t, map[string]int{"GetSecretValue": 1})
			f.noLeak(t, key, old)
		})
	}
}

// TestDeliverFaults: transient failures before or after the work still end
// with the key in place; persistent failures end Failed with the code. A
// secret consumers cannot read is never written by a delivery that reads
// first; a fresh one to a secret scheduled for deletion fails for good.
func TestDeliverFaults(t *testing.T) {
	internal := func(action string, phase emulator.Phase) emulator.Fault {
		return emulator.Fault{Action: action, Phase: phase, Code: "InternalError", Times: 1}
	}
	tests := []struct {
		name      string
		seed      seed
		fresh     bool
		fault     emulator.Fault // none when zero
		wantCalls map[string]int // only these are checked, unless allCalls
		allCalls  bool           // wantCalls lists every action made

		want          sink.Outcome
		wantCode      string
		wantRetryable bool
		wantOld       bool // the secret still holds the old value
	}{
		{name: "UpdateSecret failing once", seed: otherValue, fresh: true, fault: internal("UpdateSecret", emulator.Before),
			want: sink.OK, wantCalls: map[string]int{"UpdateSecret": 2, "GetSecretValue": 0}},
		{name: "UpdateSecret answer lost", seed: otherValue, fresh: true, fault: internal("UpdateSecret", emulator.After),
			want: sink.OK, wantCalls: map[string]int{"UpdateSecret": 2, "GetSecretValue": 0}},
		{name: "UpdateSecret answer lost, read first", seed: otherValue, fault: internal("UpdateSecret", emulator.After),
			want: sink.OK, wantCalls: map[string]int{"GetSecretValue": 1, "UpdateSecret": 2}},
		{name: "UpdateSecret gateway timeout after the work", seed: otherValue,
			fault: emulator.Fault{Action: "UpdateSecret", Phase: emulator.After, HTTPStatus: 504, Times: 1},
			want:  sink.OK, wantCalls: map[string]int{"UpdateSecret": 2}},
		{name: "UpdateSecret connection dropped after the work", seed: otherValue, fresh: true,
			fault: emulator.Fault{Action: "UpdateSecret", Phase: emulator.After, Drop: true, Times: 1},
			want:  sink.OK, wantCalls: map[string]int{"UpdateSecret": 2}},

		{name: "PutSecretValue failing once", seed: versionMissing, fresh: true, fault: internal("PutSecretValue", emulator.Before),
			want: sink.OK, wantCalls: map[string]int{"UpdateSecret": 1, "PutSecretValue": 2}},
		{name: "PutSecretValue answer lost: the retry's VersionIdExists becomes an update", seed: versionMissing, fresh: true,
			fault: internal("PutSecretValue", emulator.After),
			want:  sink.OK, wantCalls: map[string]int{"UpdateSecret": 2, "PutSecretValue": 2}},
		{name: "PutSecretValue answer lost, read first", seed: versionMissing, fault: internal("PutSecretValue", emulator.After),
			want: sink.OK, wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "PutSecretValue": 2, "UpdateSecret": 1}},
		{name: "PutSecretValue connection dropped after the work", seed: versionMissing,
			fault: emulator.Fault{Action: "PutSecretValue", Phase: emulator.After, Drop: true, Times: 1},
			want:  sink.OK, wantCalls: map[string]int{"PutSecretValue": 2, "UpdateSecret": 1}},

		{name: "CreateSecret failing once", seed: noSecret, fault: internal("CreateSecret", emulator.Before),
			want: sink.OK, wantCalls: map[string]int{"CreateSecret": 2, "UpdateSecret": 0}},
		{name: "CreateSecret answer lost: the retry's SecretExists becomes an update", seed: noSecret,
			fault: internal("CreateSecret", emulator.After),
			want:  sink.OK, wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "CreateSecret": 2, "UpdateSecret": 1}},
		{name: "CreateSecret answer lost, fresh", seed: noSecret, fresh: true, fault: internal("CreateSecret", emulator.After),
			want: sink.OK, wantCalls: map[string]int{"UpdateSecret": 2, "PutSecretValue": 1, "CreateSecret": 2}},
		{name: "CreateSecret connection dropped after the work", seed: noSecret,
			fault: emulator.Fault{Action: "CreateSecret", Phase: emulator.After, Drop: true, Times: 1},
			want:  sink.OK, wantCalls: map[string]int{"CreateSecret": 2, "UpdateSecret": 1}},

		{name: "GetSecretValue throttled twice", seed: otherValue,
			fault: emulator.Fault{Action: "GetSecretValue", Code: "RequestLimitExceeded", Times: 2},
			want:  sink.OK, wantCalls: map[string]int{"GetSecretValue": 3, "UpdateSecret": 1}},
		{name: "DescribeSecret fails once while telling a missing secret", seed: noSecret,
			fault: emulator.Fault{Action: "DescribeSecret", Code: "InternalError", Times: 1},
			want:  sink.OK, wantCalls: map[string]int{"DescribeSecret": 2, "CreateSecret": 1}},

		{name: "every UpdateSecret answer lost although the work was done: one read tells", seed: otherValue, fresh: true,
			fault: emulator.Fault{Action: "UpdateSecret", Phase: emulator.After, Code: "InternalError"},
			want:  sink.OK, wantCalls: map[string]int{"UpdateSecret": 4, "GetSecretValue": 1}},
		{name: "UpdateSecret InternalError persists", seed: otherValue, fresh: true,
			fault: emulator.Fault{Action: "UpdateSecret", Code: "InternalError"},
			want:  sink.Failed, wantCode: "InternalError", wantRetryable: true, wantOld: true,
			wantCalls: map[string]int{"UpdateSecret": fastRetry.Attempts}},
		{name: "UpdateSecret unauthorized", seed: otherValue, fresh: true,
			fault: emulator.Fault{Action: "UpdateSecret", Code: "UnauthorizedOperation"},
			want:  sink.Failed, wantCode: "UnauthorizedOperation", wantOld: true,
			wantCalls: map[string]int{"UpdateSecret": 1, "PutSecretValue": 0, "CreateSecret": 0}},
		{name: "UpdateSecret unauthorized, read first", seed: otherValue,
			fault: emulator.Fault{Action: "UpdateSecret", Code: "UnauthorizedOperation"},
			want:  sink.Failed, wantCode: "UnauthorizedOperation", wantOld: true,
			wantCalls: map[string]int{"GetSecretValue": 1, "UpdateSecret": 1}},
		{name: "PutSecretValue over the version limit", seed: versionMissing,
			fault: emulator.Fault{Action: "PutSecretValue", Code: "LimitExceeded"},
			want:  sink.Failed, wantCode: "LimitExceeded", wantCalls: map[string]int{"PutSecretValue": 1}},
		{name: "CreateSecret unauthorized", seed: noSecret, fresh: true,
			fault: emulator.Fault{Action: "CreateSecret", Code: "UnauthorizedOperation"},
			want:  sink.Failed, wantCode: "UnauthorizedOperation", wantCalls: map[string]int{"CreateSecret": 1}},
		{name: "CreateSecret KMS failing", seed: noSecret,
			fault: emulator.Fault{Action: "CreateSecret", Code: "FailedOperation.AccessKmsError"},
			want:  sink.Failed, wantCode: "FailedOperation.AccessKmsError", wantRetryable: true,
			wantCalls: map[string]int{"CreateSecret": fastRetry.Attempts}},
		{name: "GetSecretValue denied", seed: otherValue,
			fault: emulator.Fault{Action: "GetSecretValue", Code: "AuthFailure.UnauthorizedOperation"},
			want:  sink.Failed, wantCode: "AuthFailure.UnauthorizedOperation", wantOld: true,
			wantCalls: map[string]int{"GetSecretValue": 1, "UpdateSecret": 0}},
		{name: "dropped connections on UpdateSecret persist", seed: otherValue,
			fault: emulator.Fault{Action: "UpdateSecret", Drop: true},
			want:  sink.Failed, wantCode: "ClientError.NetworkError", wantRetryable: true, wantOld: true,
			wantCalls: map[string]int{"UpdateSecret": fastRetry.Attempts}},

		// secrets consumers cannot read
		{name: "disabled secret, read first", seed: disabled,
			want: sink.Failed, wantCode: "ResourceUnavailable.ResourceDisabled", wantOld: true,
			wantCalls: map[string]int{"GetSecretValue": 1}, allCalls: true},
		{name: "secret pending deletion, read first", seed: pendingDelete,
			want: sink.Failed, wantCode: "ResourceUnavailable.ResourcePendingDeleted", wantOld: true,
			wantCalls: map[string]int{"GetSecretValue": 1}, allCalls: true},
		{name: "secret pending deletion, fresh key", seed: pendingDelete, fresh: true,
			want: sink.Failed, wantCode: "OperationDenied", wantOld: true,
			wantCalls: map[string]int{"UpdateSecret": 1}, allCalls: true},
	}
	for _, tc := range tests {
		parallel(t, tc.name, func(t *testing.T, f *fixture) {
			key, old := newKey(t), newKey(t)
			f.seed(tc.seed, key, old)
			if tc.fault != (emulator.Fault{}) {
				f.emu.Inject(tc.fault)
			}
			got, err := f.sink.Deliver(context.Background(), delivery(key, tc.fresh))
			f.err(err)
			if got != tc.want {
				t.Fatalf("Deliver = %s, %v; want %s", got, err, tc.want)
			}
			if tc.allCalls {
				f.allCalls(t, tc.wantCalls)
			} else {
				f.calls(t, tc.wantCalls)
			}
			v, _ := f.value()
			if tc.want != sink.Failed {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if v != key {
					t.Error("the secret does not hold the key")
				}
			} else {
				checkError(t, err, tc.wantCode, tc.wantRetryable)
				if tc.wantOld && v != old {
					t.Error("the old value was changed")
				}
				if !strings.Contains(f.logs.String(), `"code":"`+tc.wantCode+`"`) {
					t.Error("the failure is not logged with its code")
				}
			}
			f.noLeak(t, key, old)
		})
	}
}

// TestSecretPerZone: each zone has its own secret, named by the template.
func TestSecretPerZone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	keys := map[string]string{"zone-a": newKey(t), "zone-b": newKey(t)}
	for _, z := range slices.Sorted(maps.Keys(keys)) {
		d := delivery(keys[z], false)
		d.ZoneID = z
		if _, err := f.err2(f.sink.Deliver(ctx, d)); err != nil {
			t.Fatalf("Deliver %s: %v", z, err)
		}
	}
	for z, key := range keys {
		s, ok := f.emu.Secret(region, "mpgw-key-"+z)
		if !ok || len(s.Versions) != 1 || s.Versions[0].Value != key || s.Tags["teo-zone"] != z {
			t.Errorf("secret of %s: found %v, %+v", z, ok, s.Tags)
		}
		h, err := f.sink.Inspect(ctx, z)
		if f.err(err) != nil || !h.Exists || !h.Key.Equal(secret.New(key)) {
			t.Errorf("Inspect %s: exists %v, right key %v, %v", z, h.Exists, h.Key.Equal(secret.New(key)), err)
		}
	}
	f.noLeak(t, keys["zone-a"], keys["zone-b"])
}

func (f *fixture) err2(o sink.Outcome, err error) (sink.Outcome, error) { return o, f.err(err) }

func TestRateLimits(t *testing.T) {
	for _, action := range []string{ssm.ActionGet, ssm.ActionDescribe, ssm.ActionCreate, ssm.ActionPut,
		ssm.ActionUpdate, ssm.ActionListVersions, ssm.ActionUpdateDescription, ssm.ActionDeleteVersion} {
		if r, ok := ssm.RateLimits()[ssm.Service+"."+action]; !ok || r <= 0 {
			t.Errorf("no rate limit for %s", action)
		}
	}
	// The documented limits (reference/ssm-secrets-manager.md).
	documented := map[string]float64{"GetSecretValue": 300, "DescribeSecret": 40, "CreateSecret": 100,
		"PutSecretValue": 100, "UpdateSecret": 50, "ListSecretVersionIds": 40, "UpdateDescription": 20,
		"DeleteSecretVersion": 50}
	for action, want := range documented {
		if got := ssm.RateLimits()["ssm."+action]; got != want {
			t.Errorf("%s: %v per second, documented %v", action, got, want)
		}
	}
	if len(ssm.RateLimits()) != len(documented) {
		t.Errorf("%d rate limits for %d actions used", len(ssm.RateLimits()), len(documented))
	}
}

func TestSinkBasics(t *testing.T) {
	f := newFixture(t)
	if f.sink.Name() != "ssm" {
		t.Errorf("Name = %q", f.sink.Name())
	}
	var _ sink.Store = f.sink
	var _ sink.Stager = f.sink
	err := &ssm.Error{Secret: name, Err: &tcapi.Error{Service: "ssm", Action: "UpdateSecret", Code: "InternalError"}}
	if !strings.Contains(err.Error(), name) || tcapi.Code(err) != "InternalError" || !retry.IsRetryable(err) {
		t.Errorf("Error %q does not carry the secret, the code and the classification", err)
	}
}

// CreateSecret refusing the tags (InvalidParameterValue.TagsNotExisted) is
// sent once more without them, with a warning: the key is delivered all
// the same.
func TestCreateWithoutRefusedTags(t *testing.T) {
	refused := emulator.Fault{Action: "CreateSecret", Code: "InvalidParameterValue.TagsNotExisted"}
	once := refused
	once.Times = 1
	tests := []struct {
		name        string
		deliver     bool // through Deliver (a missing secret found on write) instead of Begin
		fault       emulator.Fault
		wantCreates int
		wantCode    string
	}{
		{name: "Begin: tags refused once", fault: once, wantCreates: 2},
		{name: "Deliver: tags refused once", deliver: true, fault: once, wantCreates: 2},
		{name: "refused without tags too: the error stands", fault: refused, wantCreates: 2, wantCode: "InvalidParameterValue.TagsNotExisted"},
	}
	for _, tc := range tests {
		parallel(t, tc.name, func(t *testing.T, f *fixture) {
			ctx := context.Background()
			live := newKey(t)
			f.emu.Inject(tc.fault)
			var err error
			if tc.deliver {
				_, err = f.sink.Deliver(ctx, delivery(live, false))
			} else {
				err = f.sink.Begin(ctx, zone, sink.Holding{}, record("rot-1", secret.Fingerprint(live)), secret.New(live))
			}
			err = f.err(err)
			if got := f.emu.Calls("CreateSecret"); got != tc.wantCreates {
				t.Errorf("CreateSecret called %d times, want %d", got, tc.wantCreates)
			}
			if tc.wantCode != "" {
				checkError(t, err, tc.wantCode, false)
				f.noLeak(t, live)
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if v, ok := f.value(); !ok || v != live {
				t.Error("the secret does not hold the live key")
			}
			s, _ := f.emu.Secret(region, name)
			if len(s.Tags) != 0 {
				t.Errorf("tags %v on a secret created without them", s.Tags)
			}
			logs := f.logs.String()
			if !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "refused the tags") {
				t.Errorf("no warning about the tags in %s", logs)
			}
			f.noLeak(t, live)
		})
	}
}
