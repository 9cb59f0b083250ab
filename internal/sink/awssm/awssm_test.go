package awssm_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/awssm"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

const (
	region   = "us-east-1"
	zone     = "zone-aws01"
	template = "mpgw/{zone}"
	name     = "mpgw/zone-aws01" // template with zone
	seedID   = "00000000-0000-4000-8000-000000000001"
)

// actions are every Secrets Manager action the emulator serves that the
// sink could call; allCalls checks them all.
var actions = []string{"GetSecretValue", "DescribeSecret", "CreateSecret", "PutSecretValue",
	"TagResource", "UntagResource", "UpdateSecretVersionStage", "ListSecretVersionIds"}

// fastRetry is production logic without the waiting. A transient failure
// that persists is sent fastRetry.Attempts times.
var fastRetry = retry.Policy{Attempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond, AttemptTimeout: 5 * time.Second}

type fixture struct {
	emu  *emulator.Emulator
	sink *awssm.Sink
	logs *testkit.Buffer
	cred emulator.AWSCredential
	errs []string // every error text the test saw, for the leak check
	keys []string // every value the test made
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { emu.Close() })
	cred := emu.AWSCredential()
	env := map[string]string{
		"AWS_REGION": region, "AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL,
		"AWS_ACCESS_KEY_ID": cred.AccessKeyID, "AWS_SECRET_ACCESS_KEY": cred.SecretAccessKey, "AWS_SESSION_TOKEN": cred.SessionToken,
	}
	api, err := awssm.NewAPI(func(k string) string { return env[k] }, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	s := awssm.New(api, template)
	if s.API != api || s.SecretID != template || s.Name() != "aws" {
		t.Fatalf("New = %+v", s)
	}
	logs := &testkit.Buffer{}
	s.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Retry = fastRetry
	f := &fixture{emu: emu, sink: s, logs: logs, cred: cred}
	t.Cleanup(func() { f.noLeak(t) })
	return f
}

func (f *fixture) newKey(t *testing.T) secret.Key {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	v := base64.StdEncoding.EncodeToString(b)
	f.keys = append(f.keys, v)
	return secret.New(v)
}

func (f *fixture) err(err error) error {
	if err != nil {
		f.errs = append(f.errs, err.Error())
	}
	return err
}

// noLeak fails if a value, the AWS secret key or the session token shows in
// an error or a log line.
func (f *fixture) noLeak(t *testing.T) {
	t.Helper()
	testkit.AssertNoLeak(t, append(slices.Clone(f.keys), f.cred.SecretAccessKey, f.cred.SessionToken),
		append(f.errs, f.logs.String())...)
}

// allCalls checks every action: those left out of want must not have been
// called at all.
func (f *fixture) allCalls(t *testing.T, want map[string]int) {
	t.Helper()
	for a := range want {
		if !slices.Contains(actions, a) {
			t.Fatalf("unknown action %s in want", a)
		}
	}
	for _, a := range actions {
		if got := f.emu.Calls("secretsmanager." + a); got != want[a] {
			t.Errorf("%s called %d times, want %d", a, got, want[a])
		}
	}
}

// with returns a copy of calls with action's count set to n.
var with = testkit.With

// pendingCall calls Pending on f's sink for the zone.
func (f *fixture) pendingCall() testkit.PendingCall {
	return testkit.PendingCall{Emu: f.emu, Stager: f.sink, Zone: zone, AllCalls: f.allCalls,
		CheckError: func(t *testing.T, err error, code string) { checkFinal(t, err, "GetSecretValue", code, false) }}
}

// seed makes the secret exist, holding value as AWSCURRENT (no version
// when value is empty).
func (f *fixture) seed(value string, tags map[string]string) {
	s := emulator.AWSSecretState{Region: region, Name: name, Tags: maps.Clone(tags)}
	if value != "" {
		s.Versions = []emulator.AWSVersion{{ID: seedID, Value: value, Stages: []string{"AWSCURRENT"}}}
	}
	f.emu.PutAWSSecret(s)
}

func (f *fixture) state(t *testing.T) emulator.AWSSecretState {
	t.Helper()
	s, ok := f.emu.AWSSecret(region, name)
	if !ok {
		t.Fatal("the secret does not exist")
	}
	return s
}

// stage returns the value holding the staging label ("" when none).
func (f *fixture) stage(t *testing.T, label string) string {
	t.Helper()
	for _, v := range f.state(t).Versions {
		if slices.Contains(v.Stages, label) {
			return v.Value
		}
	}
	return ""
}

func record(from secret.Key) sink.Record {
	return sink.Record{RotationID: "rot-1", State: sink.Pending, From: from.Fingerprint(),
		At: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func code(err error) string {
	var e *awssm.Error
	if errors.As(err, &e) {
		return e.ErrorCode()
	}
	return ""
}

func operation(err error) string {
	var e *awssm.Error
	if errors.As(err, &e) {
		return e.Operation()
	}
	return ""
}

func TestInspect(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(f *fixture, key secret.Key)
		wantExists bool
		wantKey    bool
		wantRecord bool
		wantCode   string // "" = no error
		wantText   []string
		wantCalls  map[string]int
	}{
		{
			name: "steady",
			setup: func(f *fixture, key secret.Key) {
				f.seed(key.Reveal(), map[string]string{awssm.RecordTag: record(key).Encode(), "managed-by": "mpgw-keyrotator"})
			},
			wantExists: true, wantKey: true, wantRecord: true,
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1},
		},
		{
			name:      "missing",
			setup:     func(*fixture, secret.Key) {},
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1},
		},
		{
			name:       "no AWSCURRENT version",
			setup:      func(f *fixture, _ secret.Key) { f.seed("", nil) },
			wantExists: true,
			wantCalls:  map[string]int{"GetSecretValue": 1, "DescribeSecret": 1},
		},
		{
			name: "scheduled for deletion",
			setup: func(f *fixture, key secret.Key) {
				f.emu.PutAWSSecret(emulator.AWSSecretState{Region: region, Name: name, DeletedDate: time.Now(),
					Tags:     map[string]string{awssm.RecordTag: record(key).Encode()},
					Versions: []emulator.AWSVersion{{ID: seedID, Value: key.Reveal(), Stages: []string{"AWSCURRENT"}}}})
			},
			wantCode: "InvalidRequestException", wantText: []string{name, "scheduled for deletion", "RestoreSecret", "run sync"},
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1},
		},
		{
			name: "record tag edited by hand",
			setup: func(f *fixture, key secret.Key) {
				f.seed(key.Reveal(), map[string]string{awssm.RecordTag: strings.Replace(record(key).Encode(), "pending", "half-done", 1)})
			},
			wantExists: true, wantKey: true,
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1},
		},
		{
			name: "no record tag",
			setup: func(f *fixture, key secret.Key) {
				f.seed(key.Reveal(), map[string]string{"owner": "team"})
			},
			wantExists: true, wantKey: true,
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1},
		},
		{
			name: "access denied",
			setup: func(f *fixture, key secret.Key) {
				f.seed(key.Reveal(), nil)
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.GetSecretValue", Code: "AccessDeniedException"})
			},
			wantCode: "AccessDeniedException", wantText: []string{name, "GetSecretValue"},
			// Final: sent once, not retried.
			wantCalls: map[string]int{"GetSecretValue": 1, "DescribeSecret": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			key := f.newKey(t)
			tc.setup(f, key)
			before, _ := f.emu.AWSSecret(region, name)
			h, err := f.sink.Inspect(context.Background(), zone)
			f.err(err)
			if tc.wantCode != "" {
				if err == nil {
					t.Fatalf("no error, holding %+v", h)
				}
				if code(err) != tc.wantCode || retry.IsRetryable(err) {
					t.Errorf("error %q: code %q retryable %v, want %s, final", err, code(err), retry.IsRetryable(err), tc.wantCode)
				}
				for _, s := range tc.wantText {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if h.Exists != tc.wantExists || h.Key.Equal(key) != tc.wantKey || (h.Record != nil) != tc.wantRecord {
				t.Errorf("holding exists %v, key %v, record %v; want %v %v %v", h.Exists, h.Key.Equal(key), h.Record != nil,
					tc.wantExists, tc.wantKey, tc.wantRecord)
			}
			if tc.wantRecord && *h.Record != record(key) {
				t.Errorf("record %+v, want %+v", *h.Record, record(key))
			}
			f.allCalls(t, tc.wantCalls)
			after, _ := f.emu.AWSSecret(region, name)
			if !sameSecret(before, after) {
				t.Errorf("Inspect changed the secret: %+v -> %+v", before, after)
			}
		})
	}
}

func sameSecret(a, b emulator.AWSSecretState) bool {
	if !maps.Equal(a.Tags, b.Tags) || len(a.Versions) != len(b.Versions) || a.LastChanged != b.LastChanged {
		return false
	}
	for i := range a.Versions {
		if a.Versions[i].ID != b.Versions[i].ID || a.Versions[i].Value != b.Versions[i].Value ||
			!slices.Equal(a.Versions[i].Stages, b.Versions[i].Stages) {
			return false
		}
	}
	return true
}

func TestBegin(t *testing.T) {
	tests := []struct {
		name string
		// setup runs before Inspect; between runs after it (the world
		// changing under the rotation).
		setup, between func(f *fixture, live secret.Key)
		wantCalls      map[string]int // of Begin alone
		wantCreated    bool           // the secret was made by Begin, holding live
		wantVersions   int
	}{
		{
			name:         "tag an existing secret",
			setup:        func(f *fixture, live secret.Key) { f.seed(live.Reveal(), map[string]string{"owner": "team"}) },
			wantCalls:    map[string]int{"TagResource": 1},
			wantVersions: 1,
		},
		{
			name:         "create a missing secret",
			wantCalls:    map[string]int{"CreateSecret": 1, "GetSecretValue": 1},
			wantCreated:  true,
			wantVersions: 1,
		},
		{
			name:         "created meanwhile",
			between:      func(f *fixture, live secret.Key) { f.seed(live.Reveal(), map[string]string{"owner": "team"}) },
			wantCalls:    map[string]int{"CreateSecret": 1, "TagResource": 1, "GetSecretValue": 1},
			wantVersions: 1,
		},
		{
			name: "create answer lost once",
			between: func(f *fixture, _ secret.Key) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.CreateSecret", Phase: emulator.After, Code: "InternalServiceError", Times: 1})
			},
			// The retry carries the same token and value: AWS answers it as
			// a success, no second version.
			wantCalls:    map[string]int{"CreateSecret": 2, "GetSecretValue": 1},
			wantCreated:  true,
			wantVersions: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			live := f.newKey(t)
			if tc.setup != nil {
				tc.setup(f, live)
			}
			h, err := f.sink.Inspect(context.Background(), zone)
			if f.err(err) != nil {
				t.Fatal(err)
			}
			if tc.between != nil {
				tc.between(f, live)
			}
			f.emu.ResetCounters()
			rec := record(live)
			if err := f.err(f.sink.Begin(context.Background(), zone, h, rec, live)); err != nil {
				t.Fatal(err)
			}
			f.allCalls(t, tc.wantCalls)

			s := f.state(t)
			if got := s.Tags[awssm.RecordTag]; got != rec.Encode() {
				t.Errorf("record tag %q, want %q", got, rec.Encode())
			}
			if len(s.Versions) != tc.wantVersions {
				t.Errorf("%d versions, want %d", len(s.Versions), tc.wantVersions)
			}
			if got := f.stage(t, "AWSCURRENT"); got != live.Reveal() {
				t.Error("AWSCURRENT does not hold the live key")
			}
			if tc.wantCreated {
				if s.Tags["managed-by"] != "mpgw-keyrotator" || s.Tags["teo-zone"] != zone {
					t.Errorf("tags %v", s.Tags)
				}
				if !strings.Contains(s.Description, "mpgw-keyrotator") || !strings.Contains(s.Description, awssm.RecordTag) {
					t.Errorf("description %q says neither what manages it nor where the record is", s.Description)
				}
			} else if s.Tags["owner"] != "team" {
				t.Errorf("tags of the existing secret lost: %v", s.Tags)
			}
			// The next Inspect finds the record.
			h2, err := f.sink.Inspect(context.Background(), zone)
			if f.err(err) != nil {
				t.Fatal(err)
			}
			if !h2.Exists || !h2.Key.Equal(live) || h2.Record == nil || *h2.Record != rec {
				t.Errorf("Inspect after Begin: exists %v key %v record %+v", h2.Exists, h2.Key.Equal(live), h2.Record)
			}
		})
	}
}

func TestBeginRefusals(t *testing.T) {
	t.Run("no live key for a missing secret", func(t *testing.T) {
		f := newFixture(t)
		err := f.err(f.sink.Begin(context.Background(), zone, sink.Holding{}, record(secret.Key{}), secret.Key{}))
		if err == nil || retry.IsRetryable(err) || !strings.Contains(err.Error(), name) {
			t.Fatalf("error %v, want a final one naming the secret", err)
		}
		f.allCalls(t, nil)
	})
	t.Run("missing secret configured by ARN", func(t *testing.T) {
		f := newFixture(t)
		f.sink.SecretID = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mpgw-{zone}-AbCdEf"
		live := f.newKey(t)
		err := f.err(f.sink.Begin(context.Background(), zone, sink.Holding{}, record(live), live))
		if err == nil || retry.IsRetryable(err) || !strings.Contains(err.Error(), "ARN") {
			t.Fatalf("error %v, want a final one about the ARN", err)
		}
		f.allCalls(t, nil)
	})
}

func TestDeliver(t *testing.T) {
	tests := []struct {
		name    string
		fresh   bool
		setup   func(f *fixture, old, key secret.Key)
		want    sink.Outcome
		calls   map[string]int
		newVers int // versions added
		// previous: AWSPREVIOUS holds the old key afterwards
		previous bool
		missing  bool // the secret does not exist
	}{
		{
			name: "fresh key written straight away", fresh: true,
			want: sink.OK, calls: map[string]int{"PutSecretValue": 1}, newVers: 1, previous: true,
		},
		{
			name: "not fresh, equal", setup: func(f *fixture, _, key secret.Key) { f.seed(key.Reveal(), nil) },
			want: sink.Unchanged, calls: map[string]int{"GetSecretValue": 1},
		},
		{
			name: "not fresh, differs",
			want: sink.OK, calls: map[string]int{"GetSecretValue": 1, "PutSecretValue": 1}, newVers: 1, previous: true,
		},
		{
			name: "not fresh, secret missing", missing: true,
			want: sink.OK, calls: map[string]int{"GetSecretValue": 1, "PutSecretValue": 1, "CreateSecret": 1}, newVers: 1,
		},
		{
			name: "put answer lost once", fresh: true,
			setup: func(f *fixture, _, _ secret.Key) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", Phase: emulator.After, Code: "InternalServiceError", Times: 1})
			},
			// Retried with the same token: exactly one new version.
			want: sink.OK, calls: map[string]int{"PutSecretValue": 2}, newVers: 1, previous: true,
		},
		{
			name: "every put answer lost", fresh: true,
			setup: func(f *fixture, _, _ secret.Key) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", Phase: emulator.After, Code: "InternalServiceError"})
			},
			// fastRetry.Attempts puts, then one read finds the key.
			want: sink.OK, calls: map[string]int{"PutSecretValue": fastRetry.Attempts, "GetSecretValue": 1}, newVers: 1, previous: true,
		},
		{
			name: "throttled once", fresh: true,
			setup: func(f *fixture, _, _ secret.Key) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", Code: "ThrottlingException", Times: 1})
			},
			want: sink.OK, calls: map[string]int{"PutSecretValue": 2}, newVers: 1, previous: true,
		},
		{
			name: "bare 502 from a proxy once", fresh: true,
			setup: func(f *fixture, _, _ secret.Key) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", HTTPStatus: 502, Times: 1})
			},
			want: sink.OK, calls: map[string]int{"PutSecretValue": 2}, newVers: 1, previous: true,
		},
		{
			name: "dropped connection once", fresh: true,
			setup: func(f *fixture, _, _ secret.Key) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", Phase: emulator.After, Drop: true, Times: 1})
			},
			want: sink.OK, calls: map[string]int{"PutSecretValue": 2}, newVers: 1, previous: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			old, key := f.newKey(t), f.newKey(t)
			if !tc.missing {
				f.seed(old.Reveal(), map[string]string{awssm.RecordTag: record(old).Encode()})
			}
			if tc.setup != nil {
				tc.setup(f, old, key)
			}
			before := 0
			if s, ok := f.emu.AWSSecret(region, name); ok {
				before = len(s.Versions)
			}
			f.emu.ResetCounters()
			got, err := f.sink.Deliver(context.Background(), sink.Delivery{ZoneID: zone, Key: key, Action: "rotate",
				RotationID: "rot-1", Previous: old.Fingerprint(), Fresh: tc.fresh})
			if f.err(err) != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("outcome %s, want %s", got, tc.want)
			}
			f.allCalls(t, tc.calls)
			if f.stage(t, "AWSCURRENT") != key.Reveal() {
				t.Error("AWSCURRENT does not hold the key")
			}
			if n := len(f.state(t).Versions) - before; n != tc.newVers {
				t.Errorf("%d new versions, want %d", n, tc.newVers)
			}
			if tc.previous && f.stage(t, "AWSPREVIOUS") != old.Reveal() {
				t.Error("AWSPREVIOUS does not hold the old key")
			}
		})
	}
}

func TestDeliverFailures(t *testing.T) {
	tests := []struct {
		name     string
		fresh    bool
		setup    func(f *fixture)
		wantCode string
		wantOp   string
		calls    map[string]int
	}{
		{
			name: "access denied on put", fresh: true,
			setup: func(f *fixture) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", Code: "AccessDeniedException"})
			},
			// Final: sent once, and not read after (it was refused, not lost).
			wantCode: "AccessDeniedException", wantOp: "PutSecretValue", calls: map[string]int{"PutSecretValue": 1},
		},
		{
			name: "invalid parameter", fresh: true,
			setup: func(f *fixture) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", Code: "InvalidParameterException"})
			},
			wantCode: "InvalidParameterException", wantOp: "PutSecretValue", calls: map[string]int{"PutSecretValue": 1},
		},
		{
			name: "bare 403 from a proxy", fresh: true,
			setup: func(f *fixture) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", HTTPStatus: 403})
			},
			wantCode: awssm.CodeHTTPStatus, wantOp: "PutSecretValue", calls: map[string]int{"PutSecretValue": 1},
		},
		{
			name: "scheduled for deletion",
			setup: func(f *fixture) {
				s := f.state(t)
				s.DeletedDate = time.Now()
				f.emu.PutAWSSecret(s)
			},
			wantCode: "InvalidRequestException", wantOp: "GetSecretValue", calls: map[string]int{"GetSecretValue": 1},
		},
		{
			name: "persistent throttling", fresh: true,
			setup: func(f *fixture) {
				f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", Code: "ThrottlingException"})
			},
			// Retryable, so the read after the lost writes comes too.
			wantCode: "ThrottlingException", wantOp: "PutSecretValue",
			calls: map[string]int{"PutSecretValue": fastRetry.Attempts, "GetSecretValue": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			old, key := f.newKey(t), f.newKey(t)
			f.seed(old.Reveal(), nil)
			tc.setup(f)
			f.emu.ResetCounters()
			got, err := f.sink.Deliver(context.Background(), sink.Delivery{ZoneID: zone, Key: key, Action: "rotate",
				RotationID: "rot-1", Fresh: tc.fresh})
			f.err(err)
			if got != sink.Failed || err == nil {
				t.Fatalf("outcome %s, error %v; want failed", got, err)
			}
			if code(err) != tc.wantCode || operation(err) != tc.wantOp {
				t.Errorf("error %q: code %q operation %q, want %s %s", err, code(err), operation(err), tc.wantCode, tc.wantOp)
			}
			wantRetryable := tc.wantCode == "ThrottlingException"
			if retry.IsRetryable(err) != wantRetryable {
				t.Errorf("retryable %v, want %v", retry.IsRetryable(err), wantRetryable)
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), tc.wantOp) {
				t.Errorf("error %q names neither the secret nor the action", err)
			}
			f.allCalls(t, tc.calls)
			if f.stage(t, "AWSCURRENT") != old.Reveal() {
				t.Error("AWSCURRENT changed")
			}
		})
	}
}

// A rotation delivering its key again after someone wrote another value
// (same rotation id, same key) must not be taken by AWS for a repeat of its
// first write, which it would ignore.
func TestRedeliveryOverAnotherValue(t *testing.T) {
	f := newFixture(t)
	old, key, other := f.newKey(t), f.newKey(t), f.newKey(t)
	f.seed(old.Reveal(), nil)
	d := sink.Delivery{ZoneID: zone, Key: key, Action: "rotate", RotationID: "rot-1"}
	if _, err := f.sink.Deliver(context.Background(), d); f.err(err) != nil {
		t.Fatal(err)
	}
	s := f.state(t)
	s.Versions = append(s.Versions, emulator.AWSVersion{ID: "11111111-1111-4111-8111-111111111111", Value: other.Reveal()})
	for i := range s.Versions {
		s.Versions[i].Stages = nil
	}
	s.Versions[len(s.Versions)-1].Stages = []string{"AWSCURRENT"}
	f.emu.PutAWSSecret(s)
	got, err := f.sink.Deliver(context.Background(), d)
	if f.err(err) != nil {
		t.Fatal(err)
	}
	if got != sink.OK || f.stage(t, "AWSCURRENT") != key.Reveal() {
		t.Errorf("outcome %s, AWSCURRENT holds the key: %v", got, f.stage(t, "AWSCURRENT") == key.Reveal())
	}
}

// Inspect, Begin and a fresh Deliver: the calls of a steady rotation.
func TestSteadyRotationCalls(t *testing.T) {
	f := newFixture(t)
	old, key := f.newKey(t), f.newKey(t)
	f.seed(old.Reveal(), map[string]string{awssm.RecordTag: record(old).Encode()})
	ctx := context.Background()
	h, err := f.sink.Inspect(ctx, zone)
	if f.err(err) != nil {
		t.Fatal(err)
	}
	if err := f.err(f.sink.Begin(ctx, zone, h, record(old), h.Key)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sink.Deliver(ctx, sink.Delivery{ZoneID: zone, Key: key, Action: "rotate", RotationID: "rot-1", Fresh: true}); f.err(err) != nil {
		t.Fatal(err)
	}
	f.allCalls(t, map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "TagResource": 1, "PutSecretValue": 1})
}

// One timer bounds one attempt: a put that does not answer within
// AttemptTimeout is sent again (same token), and the error of a timed-out
// attempt stays retryable.
func TestAttemptTimeout(t *testing.T) {
	f := newFixture(t)
	old, key := f.newKey(t), f.newKey(t)
	f.seed(old.Reveal(), nil)
	f.sink.Retry = retry.Policy{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond, AttemptTimeout: 100 * time.Millisecond}
	f.emu.Inject(emulator.Fault{Action: "secretsmanager.PutSecretValue", Delay: 10 * time.Second, Times: 1})
	f.emu.ResetCounters()
	got, err := f.sink.Deliver(context.Background(), sink.Delivery{ZoneID: zone, Key: key, RotationID: "rot-1", Fresh: true})
	if f.err(err) != nil || got != sink.OK {
		t.Fatalf("outcome %s, error %v", got, err)
	}
	f.allCalls(t, map[string]int{"PutSecretValue": 2})
	if n := len(f.state(t).Versions); n != 2 {
		t.Errorf("%d versions, want 2", n)
	}
	if !strings.Contains(f.logs.String(), `"code":"`+awssm.CodeTimeout+`"`) {
		t.Error("the timed-out attempt is not logged as " + awssm.CodeTimeout)
	}
}

// A caller out of time gets a final error, and no read after the write.
func TestCancelledContextIsFinal(t *testing.T) {
	f := newFixture(t)
	f.seed(f.newKey(t).Reveal(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.emu.ResetCounters()
	got, err := f.sink.Deliver(ctx, sink.Delivery{ZoneID: zone, Key: f.newKey(t), RotationID: "rot-1", Fresh: true})
	f.err(err)
	if got != sink.Failed || err == nil || retry.IsRetryable(err) {
		t.Fatalf("outcome %s, error %v (retryable %v), want a final failure", got, err, retry.IsRetryable(err))
	}
	if code(err) != awssm.CodeCanceled || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), name) {
		t.Errorf("error %q: code %q, want %s naming the secret and wrapping context.Canceled", err, code(err), awssm.CodeCanceled)
	}
	f.allCalls(t, nil)
}
