package ssm_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

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
	name      = "mpgw-key-zone-ssm01" // template with zone
)

// writes are the SSM actions that change state.
var writes = []string{"CreateSecret", "PutSecretValue", "UpdateSecret", "UpdateDescription",
	"DeleteSecretVersion", "DisableSecret", "EnableSecret", "DeleteSecret", "RestoreSecret"}

var fastRetry = retry.Policy{Attempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond}

type fixture struct {
	emu  *emulator.Emulator
	sink *ssm.Sink
	logs *testkit.Buffer
	// errs collects every error text the test saw, for the leak check.
	errs []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { emu.Close() })
	ep, err := config.ParseEndpoint(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	role := emu.RoleCredential()
	api := &tcapi.Client{
		Endpoint:   ep,
		Credential: common.NewTokenCredential(role.SecretID, role.SecretKey, role.Token),
		Limits:     tcapi.NewLimits(20, ssm.RateLimits),
		Timeout:    5 * time.Second, Retry: fastRetry, Logger: logger,
	}
	s := ssm.New(config.SSM{SecretName: template, VersionID: versionID, Region: region, Endpoint: ep}, api)
	if api.Service != "ssm" || api.Version != "2019-09-23" || api.Region != region {
		t.Fatalf("New set the client to %s %s %s", api.Service, api.Version, api.Region)
	}
	s.Retry = retry.Policy{Attempts: 3, Initial: time.Millisecond, Max: 5 * time.Millisecond}
	s.Logger = logger
	return &fixture{emu: emu, sink: s, logs: logs}
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

// value is what consumers read from the configured version ("" if none).
func (f *fixture) value() (string, bool) {
	s, ok := f.emu.Secret(region, name)
	if !ok {
		return "", false
	}
	for _, v := range s.Versions {
		if v.ID == versionID {
			return v.Value, true
		}
	}
	return "", false
}

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func delivery(key string) sink.Delivery {
	return sink.Delivery{ZoneID: zone, Key: secret.New(key), Action: "rotate", RotationID: "rot-1"}
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

func (f *fixture) seed(s seed, key, old string) {
	st := emulator.SecretState{Region: region, Name: name, Description: "seeded"}
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
	f.emu.PutSecret(st)
}

func TestDeliver(t *testing.T) {
	tests := []struct {
		name        string
		seed        seed
		want        sink.Outcome
		wantCalls   map[string]int
		wantVersion int // versions the secret holds afterwards
	}{
		{name: "missing secret is created", seed: noSecret, want: sink.OK,
			wantCalls: map[string]int{"CreateSecret": 1, "PutSecretValue": 0, "UpdateSecret": 0}, wantVersion: 1},
		{name: "missing version is put", seed: versionMissing, want: sink.OK,
			wantCalls: map[string]int{"CreateSecret": 0, "PutSecretValue": 1, "UpdateSecret": 0}, wantVersion: 2},
		{name: "existing version is updated", seed: otherValue, want: sink.OK,
			wantCalls: map[string]int{"CreateSecret": 0, "PutSecretValue": 0, "UpdateSecret": 1}, wantVersion: 1},
		{name: "equal value is left alone", seed: sameValue, want: sink.Unchanged,
			wantCalls: map[string]int{"CreateSecret": 0, "PutSecretValue": 0, "UpdateSecret": 0, "UpdateDescription": 0}, wantVersion: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			key, old := newKey(t), newKey(t)
			f.seed(tc.seed, key, old)
			got, err := f.sink.Deliver(context.Background(), delivery(key))
			if f.err(err) != nil || got != tc.want {
				t.Fatalf("Deliver = %s, %v; want %s", got, err, tc.want)
			}
			if v, ok := f.value(); !ok || v != key {
				t.Errorf("the secret does not hold the key (found %v)", ok)
			}
			for action, want := range tc.wantCalls {
				if got := f.emu.Calls(action); got != want {
					t.Errorf("%s called %d times, want %d", action, got, want)
				}
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
			}
			// A second delivery of the same key writes nothing.
			before := f.writeCalls()
			got, err = f.sink.Deliver(context.Background(), delivery(key))
			if f.err(err) != nil || got != sink.Unchanged {
				t.Errorf("second Deliver = %s, %v; want unchanged", got, err)
			}
			if f.writeCalls() != before {
				t.Error("a second delivery of the same key wrote")
			}
			f.noLeak(t, key, old)
		})
	}
}

// TestDeliverFaults: a write whose answer was lost (the work done) ends OK
// with the right value; persistent failures end Failed with the code.
func TestDeliverFaults(t *testing.T) {
	tests := []struct {
		name     string
		seed     seed
		fault    emulator.Fault
		want     sink.Outcome
		wantCode string
		wantOld  bool // the secret still holds the old value
		wantOnce string
	}{
		{name: "CreateSecret answer lost", seed: noSecret,
			fault: emulator.Fault{Action: "CreateSecret", Phase: emulator.After, Code: "InternalError", Times: 1}, want: sink.OK},
		{name: "CreateSecret connection dropped after the work", seed: noSecret,
			fault: emulator.Fault{Action: "CreateSecret", Phase: emulator.After, Drop: true, Times: 1}, want: sink.OK},
		{name: "PutSecretValue answer lost", seed: versionMissing,
			fault: emulator.Fault{Action: "PutSecretValue", Phase: emulator.After, Code: "InternalError", Times: 1}, want: sink.OK},
		{name: "PutSecretValue connection dropped after the work", seed: versionMissing,
			fault: emulator.Fault{Action: "PutSecretValue", Phase: emulator.After, Drop: true, Times: 1}, want: sink.OK},
		{name: "UpdateSecret answer lost", seed: otherValue,
			fault: emulator.Fault{Action: "UpdateSecret", Phase: emulator.After, HTTPStatus: 504, Times: 1}, want: sink.OK},
		{name: "UpdateSecret connection dropped after the work", seed: otherValue,
			fault: emulator.Fault{Action: "UpdateSecret", Phase: emulator.After, Drop: true, Times: 1}, want: sink.OK},
		{name: "GetSecretValue throttled twice", seed: otherValue,
			fault: emulator.Fault{Action: "GetSecretValue", Code: "RequestLimitExceeded", Times: 2}, want: sink.OK},
		{name: "DescribeSecret fails once while telling a missing secret", seed: noSecret,
			fault: emulator.Fault{Action: "DescribeSecret", Code: "InternalError", Times: 1}, want: sink.OK},

		{name: "UpdateSecret InternalError persists", seed: otherValue,
			fault: emulator.Fault{Action: "UpdateSecret", Code: "InternalError"}, want: sink.Failed, wantCode: "InternalError", wantOld: true},
		{name: "UpdateSecret unauthorized", seed: otherValue,
			fault: emulator.Fault{Action: "UpdateSecret", Code: "UnauthorizedOperation"}, want: sink.Failed, wantCode: "UnauthorizedOperation",
			wantOld: true, wantOnce: "UpdateSecret"},
		{name: "PutSecretValue over the version limit", seed: versionMissing,
			fault: emulator.Fault{Action: "PutSecretValue", Code: "LimitExceeded"}, want: sink.Failed, wantCode: "LimitExceeded", wantOnce: "PutSecretValue"},
		{name: "CreateSecret KMS failing", seed: noSecret,
			fault: emulator.Fault{Action: "CreateSecret", Code: "FailedOperation.AccessKmsError"}, want: sink.Failed, wantCode: "FailedOperation.AccessKmsError"},
		{name: "GetSecretValue denied", seed: otherValue,
			fault: emulator.Fault{Action: "GetSecretValue", Code: "AuthFailure.UnauthorizedOperation"}, want: sink.Failed,
			wantCode: "AuthFailure.UnauthorizedOperation", wantOld: true, wantOnce: "GetSecretValue"},
		{name: "dropped connections on UpdateSecret persist", seed: otherValue,
			fault: emulator.Fault{Action: "UpdateSecret", Drop: true}, want: sink.Failed, wantCode: "ClientError.NetworkError", wantOld: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			key, old := newKey(t), newKey(t)
			f.seed(tc.seed, key, old)
			f.emu.Inject(tc.fault)
			got, err := f.sink.Deliver(context.Background(), delivery(key))
			f.err(err)
			if got != tc.want {
				t.Fatalf("Deliver = %s, %v; want %s", got, err, tc.want)
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
				var se *ssm.Error
				if !errors.As(err, &se) || se.Secret != name || !strings.Contains(err.Error(), name) {
					t.Errorf("err = %v, want an *ssm.Error naming %s", err, name)
				}
				if code := tcapi.Code(err); code != tc.wantCode || !strings.Contains(err.Error(), tc.wantCode) {
					t.Errorf("code %q (%v), want %q", code, err, tc.wantCode)
				}
				if tc.wantOld && v != old {
					t.Error("the old value was changed")
				}
			}
			if tc.wantOnce != "" {
				if n := f.emu.Calls(tc.wantOnce); n != 1 {
					t.Errorf("%s called %d times for a final error, want 1", tc.wantOnce, n)
				}
			}
			f.noLeak(t, key, old)
		})
	}
}

func TestDeliverUnusableSecret(t *testing.T) {
	tests := []struct {
		seed     seed
		wantCode string
	}{
		{disabled, "ResourceUnavailable.ResourceDisabled"},
		{pendingDelete, "ResourceUnavailable.ResourcePendingDeleted"},
	}
	for _, tc := range tests {
		t.Run(tc.wantCode, func(t *testing.T) {
			f := newFixture(t)
			key, old := newKey(t), newKey(t)
			f.seed(tc.seed, key, old)
			got, err := f.sink.Deliver(context.Background(), delivery(key))
			f.err(err)
			if got != sink.Failed || tcapi.Code(err) != tc.wantCode || retry.IsRetryable(err) {
				t.Errorf("Deliver = %s, %v", got, err)
			}
			if f.writeCalls() != 0 {
				t.Error("wrote to an unusable secret")
			}
			f.noLeak(t, key, old)
		})
	}
}

func TestPreflight(t *testing.T) {
	tenOthers := make([]emulator.Version, 10)
	for i := range tenOthers {
		tenOthers[i] = emulator.Version{ID: fmt.Sprintf("v%d", i), Value: "old"}
	}
	nineOthers := tenOthers[:9]
	tenWithCurrent := append([]emulator.Version{{ID: versionID, Value: "old"}}, tenOthers[:9]...)
	tests := []struct {
		name     string
		secret   *emulator.SecretState // nil: none
		fault    *emulator.Fault
		wantCode string // "" = ready
		wantText string
	}{
		{name: "missing secret: CreateSecret will make it"},
		{name: "enabled secret holding the version",
			secret: &emulator.SecretState{Versions: []emulator.Version{{ID: versionID, Value: "old"}}}},
		{name: "version missing with room for it", secret: &emulator.SecretState{Versions: nineOthers}},
		{name: "ten versions, one of them the configured one", secret: &emulator.SecretState{Versions: tenWithCurrent}},
		{name: "disabled", secret: &emulator.SecretState{Status: emulator.StatusDisabled, Versions: []emulator.Version{{ID: versionID, Value: "old"}}},
			wantCode: "ResourceUnavailable.ResourceDisabled", wantText: "EnableSecret"},
		{name: "pending delete", secret: &emulator.SecretState{Status: emulator.StatusPendingDelete, Versions: []emulator.Version{{ID: versionID, Value: "old"}}},
			wantCode: "ResourceUnavailable.ResourcePendingDeleted", wantText: "RestoreSecret"},
		{name: "ten versions, none the configured one", secret: &emulator.SecretState{Versions: tenOthers},
			wantCode: "LimitExceeded", wantText: "10 versions"},
		{name: "DescribeSecret denied", fault: &emulator.Fault{Action: "DescribeSecret", Code: "UnauthorizedOperation"},
			wantCode: "UnauthorizedOperation"},
		{name: "GetSecretValue denied", secret: &emulator.SecretState{Versions: []emulator.Version{{ID: versionID, Value: "old"}}},
			fault: &emulator.Fault{Action: "GetSecretValue", Code: "UnauthorizedOperation"}, wantCode: "UnauthorizedOperation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.secret != nil {
				s := *tc.secret
				s.Region, s.Name = region, name
				f.emu.PutSecret(s)
			}
			if tc.fault != nil {
				f.emu.Inject(*tc.fault)
			}
			err := f.err(f.sink.Preflight(context.Background(), zone))
			if f.writeCalls() != 0 {
				t.Error("Preflight wrote")
			}
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Preflight: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Preflight passed")
			}
			if tcapi.Code(err) != tc.wantCode || retry.IsRetryable(err) {
				t.Errorf("code %q retryable %v (%v), want final %q", tcapi.Code(err), retry.IsRetryable(err), err, tc.wantCode)
			}
			for _, want := range []string{name, tc.wantCode, tc.wantText} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q lacks %q", err, want)
				}
			}
			var se *ssm.Error
			if !errors.As(err, &se) || se.Secret != name {
				t.Errorf("err %T does not name the secret", err)
			}
		})
	}
}

func TestRead(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name      string
		versions  []emulator.Version // nil: no secret
		status    string
		wantFound bool
		wantCode  string
	}{
		{name: "missing secret"},
		{name: "missing version", versions: []emulator.Version{{ID: "v1", Value: key}}},
		{name: "present", versions: []emulator.Version{{ID: versionID, Value: key}}, wantFound: true},
		{name: "disabled", versions: []emulator.Version{{ID: versionID, Value: key}}, status: emulator.StatusDisabled,
			wantCode: "ResourceUnavailable.ResourceDisabled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.versions != nil {
				f.emu.PutSecret(emulator.SecretState{Region: region, Name: name, Status: tc.status, Versions: tc.versions})
			}
			got, found, err := f.sink.Read(context.Background(), zone)
			f.err(err)
			if tcapi.Code(err) != tc.wantCode || (tc.wantCode == "") != (err == nil) {
				t.Fatalf("Read err = %v, want code %q", err, tc.wantCode)
			}
			if found != tc.wantFound || (found && got.Reveal() != key) || (!found && !got.IsZero()) {
				t.Errorf("Read = found %v, key right %v", found, got.Reveal() == key)
			}
			if f.writeCalls() != 0 {
				t.Error("Read wrote")
			}
			f.noLeak(t, key)
		})
	}
}

func TestRecordRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key := newKey(t)
	if _, err := f.sink.Deliver(ctx, delivery(key)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := f.sink.LoadRecord(ctx, zone); found || err != nil {
		t.Fatalf("LoadRecord before any record: found %v, %v", found, err)
	}
	recs := []sink.Record{
		{RotationID: "timer:nightly:2025-01-01T02:00:00Z", State: sink.Pending, From: secret.Fingerprint("old"), At: time.Now()},
		{RotationID: "timer:nightly:2025-01-01T02:00:00Z", State: sink.Done, From: secret.Fingerprint("old"), To: secret.Fingerprint(key), At: time.Now()},
		{RotationID: "h:0123abcd", State: sink.Pending, At: time.Date(2025, 1, 1, 2, 0, 0, 0, time.UTC)},
	}
	for _, rec := range recs {
		if err := f.err(f.sink.SaveRecord(ctx, zone, rec, secret.New(key))); err != nil {
			t.Fatalf("SaveRecord: %v", err)
		}
		got, found, err := f.sink.LoadRecord(ctx, zone)
		if err != nil || !found {
			t.Fatalf("LoadRecord: found %v, %v", found, err)
		}
		want := rec
		want.At = rec.At.UTC().Truncate(time.Second)
		if got != want {
			t.Errorf("LoadRecord = %+v, want %+v", got, want)
		}
	}
	s, _ := f.emu.Secret(region, name)
	if !strings.Contains(s.Description, zone) || strings.Count(s.Description, "mpgw-keyrotator:") != 1 {
		t.Errorf("description %q", s.Description)
	}
	if v, _ := f.value(); v != key || f.emu.Calls("UpdateSecret") != 0 {
		t.Error("saving a record touched the key")
	}
	f.noLeak(t, key)
}

func TestSaveRecordCreatesTheSecret(t *testing.T) {
	tests := []struct {
		name  string
		fault *emulator.Fault
	}{
		{name: "plain"},
		{name: "CreateSecret answer lost", fault: &emulator.Fault{Action: "CreateSecret", Phase: emulator.After, Code: "InternalError", Times: 1}},
		{name: "CreateSecret connection dropped after the work", fault: &emulator.Fault{Action: "CreateSecret", Phase: emulator.After, Drop: true, Times: 1}},
		{name: "UpdateDescription throttled once", fault: &emulator.Fault{Action: "UpdateDescription", Code: "RequestLimitExceeded", Times: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			current := newKey(t)
			if tc.fault != nil {
				f.emu.Inject(*tc.fault)
			}
			rec := sink.Record{RotationID: "rot-1", State: sink.Pending, From: secret.Fingerprint(current), At: time.Now()}
			if err := f.err(f.sink.SaveRecord(ctx, zone, rec, secret.New(current))); err != nil {
				t.Fatalf("SaveRecord: %v", err)
			}
			if v, ok := f.value(); !ok || v != current {
				t.Errorf("the secret was not created holding the live key (found %v)", ok)
			}
			s, _ := f.emu.Secret(region, name)
			if s.Tags["managed-by"] != "mpgw-keyrotator" || s.Tags["teo-zone"] != zone {
				t.Errorf("tags %v", s.Tags)
			}
			got, found, err := f.sink.LoadRecord(ctx, zone)
			if err != nil || !found || got.RotationID != "rot-1" || got.State != sink.Pending || got.From != rec.From {
				t.Errorf("LoadRecord = %+v, %v, %v", got, found, err)
			}
			f.noLeak(t, current)
		})
	}
	t.Run("without a live key nothing is created", func(t *testing.T) {
		f := newFixture(t)
		err := f.sink.SaveRecord(context.Background(), zone, sink.Record{RotationID: "rot-1", State: sink.Pending, At: time.Now()}, secret.Key{})
		if err == nil || !strings.HasPrefix(tcapi.Code(err), "ResourceNotFound") || !strings.Contains(err.Error(), name) {
			t.Errorf("err = %v", err)
		}
		if _, ok := f.emu.Secret(region, name); ok || f.emu.Calls("CreateSecret") != 0 {
			t.Error("a secret was created without a key")
		}
	})
}

func TestLoadRecordDistrustsEdits(t *testing.T) {
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
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			if err := f.sink.SaveRecord(ctx, zone, good, secret.New(newKey(t))); err != nil {
				t.Fatal(err)
			}
			if _, found, err := f.sink.LoadRecord(ctx, zone); !found || err != nil {
				t.Fatalf("untouched record: found %v, %v", found, err)
			}
			s, _ := f.emu.Secret(region, name)
			if !strings.Contains(s.Description, tc.from) {
				t.Fatalf("description %q lacks %q", s.Description, tc.from)
			}
			s.Description = strings.Replace(s.Description, tc.from, tc.to, 1)
			f.emu.PutSecret(s)
			got, found, err := f.sink.LoadRecord(ctx, zone)
			if found || err != nil {
				t.Errorf("LoadRecord after the edit = %+v, found %v, %v; want not found", got, found, err)
			}
		})
	}
	t.Run("missing secret", func(t *testing.T) {
		f := newFixture(t)
		if _, found, err := f.sink.LoadRecord(context.Background(), zone); found || err != nil {
			t.Errorf("found %v, %v", found, err)
		}
	})
	t.Run("DescribeSecret failing", func(t *testing.T) {
		f := newFixture(t)
		f.emu.Inject(emulator.Fault{Action: "DescribeSecret", Code: "UnauthorizedOperation"})
		_, found, err := f.sink.LoadRecord(context.Background(), zone)
		if found || tcapi.Code(err) != "UnauthorizedOperation" || !strings.Contains(fmt.Sprint(err), name) {
			t.Errorf("found %v, %v", found, err)
		}
	})
}

func TestRateLimits(t *testing.T) {
	for _, action := range []string{ssm.ActionGet, ssm.ActionDescribe, ssm.ActionCreate, ssm.ActionPut,
		ssm.ActionUpdate, ssm.ActionListVersions, ssm.ActionUpdateDescription} {
		if r, ok := ssm.RateLimits[ssm.Service+"."+action]; !ok || r <= 0 {
			t.Errorf("no rate limit for %s", action)
		}
	}
	// The documented limits (reference/ssm-secrets-manager.md).
	documented := map[string]float64{"GetSecretValue": 300, "DescribeSecret": 40, "CreateSecret": 100,
		"PutSecretValue": 100, "UpdateSecret": 50, "ListSecretVersionIds": 40, "UpdateDescription": 20}
	for action, want := range documented {
		if got := ssm.RateLimits["ssm."+action]; got != want {
			t.Errorf("%s: %v per second, documented %v", action, got, want)
		}
	}
	if len(ssm.RateLimits) != len(documented) {
		t.Errorf("%d rate limits for %d actions used", len(ssm.RateLimits), len(documented))
	}
}

func TestSinkBasics(t *testing.T) {
	f := newFixture(t)
	if f.sink.Name() != "ssm" {
		t.Errorf("Name = %q", f.sink.Name())
	}
	if f.sink.Budget() <= f.sink.API.Budget() {
		t.Errorf("Budget %v does not cover one call's %v", f.sink.Budget(), f.sink.API.Budget())
	}
	var _ sink.Reader = f.sink
	var _ sink.Journal = f.sink
}
