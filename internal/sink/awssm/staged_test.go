package awssm_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/awssm"
)

const (
	sm       = "secretsmanager."
	oldID    = "00000000-0000-4000-8000-00000000000a"
	pendID   = "00000000-0000-4000-8000-00000000000b"
	strayID  = "00000000-0000-4000-8000-00000000000c"
	pendingL = "AWSPENDING"
)

// seedVersions makes the secret exist with the versions given (id, value,
// labels).
func (f *fixture) seedVersions(tags map[string]string, versions ...emulator.AWSVersion) {
	f.emu.PutAWSSecret(emulator.AWSSecretState{Region: region, Name: name, Tags: tags, Versions: versions})
}

// labels returns the labels of the version holding value (nil when none).
func (f *fixture) labels(t *testing.T, value string) []string {
	t.Helper()
	for _, v := range f.state(t).Versions {
		if v.Value == value {
			return v.Stages
		}
	}
	return nil
}

// pendingCount is the number of versions labelled AWSPENDING.
func (f *fixture) pendingCount(t *testing.T) int {
	n := 0
	for _, v := range f.state(t).Versions {
		if slices.Contains(v.Stages, pendingL) {
			n++
		}
	}
	return n
}

func (f *fixture) storedRecord(t *testing.T) (sink.Record, bool) {
	t.Helper()
	rec, err := sink.ParseRecord(f.state(t).Tags[awssm.RecordTag])
	return rec, err == nil
}

func checkFinal(t *testing.T, err error, action, code string, retryable bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s %s", action, code)
	}
	var e *awssm.Error
	if !errors.As(err, &e) || e.Secret != name || !strings.Contains(err.Error(), name) || operation(err) != action || awssm.Code(err) != code {
		t.Errorf("err = %v (%T), want an *awssm.Error: %s %s naming %s", err, err, action, code, name)
	}
	if retry.IsRetryable(err) != retryable {
		t.Errorf("retryable = %v, want %v", retry.IsRetryable(err), retryable)
	}
}

// TestStage: the record first, then AWSPENDING.
func TestStage(t *testing.T) {
	tests := []struct {
		name          string
		missing       bool // no secret before Stage
		faults        []emulator.Fault
		wantCalls     map[string]int
		wantAction    string // "" = no error
		wantCode      string
		wantRetryable bool
		wantPending   bool
	}{
		{name: "existing secret", wantCalls: map[string]int{"TagResource": 1, "PutSecretValue": 1}, wantPending: true},
		{name: "missing secret is created holding the live key", missing: true,
			wantCalls: map[string]int{"CreateSecret": 1, "GetSecretValue": 1, "PutSecretValue": 1}, wantPending: true},
		{name: "TagResource throttled once", faults: []emulator.Fault{{Action: sm + "TagResource", Code: "ThrottlingException", Times: 1}},
			wantCalls: map[string]int{"TagResource": 2, "PutSecretValue": 1}, wantPending: true},
		{name: "PutSecretValue failing once", faults: []emulator.Fault{{Action: sm + "PutSecretValue", Code: "InternalServiceError", Times: 1}},
			wantCalls: map[string]int{"TagResource": 1, "PutSecretValue": 2}, wantPending: true},
		{name: "PutSecretValue answer lost: the same token makes no second version",
			faults:    []emulator.Fault{{Action: sm + "PutSecretValue", Phase: emulator.After, Drop: true, Times: 1}},
			wantCalls: map[string]int{"TagResource": 1, "PutSecretValue": 2}, wantPending: true},
		{name: "PutSecretValue answers all lost, but it landed",
			faults:    []emulator.Fault{{Action: sm + "PutSecretValue", Phase: emulator.After, Code: "InternalServiceError"}},
			wantCalls: map[string]int{"TagResource": 1, "PutSecretValue": fastRetry.Attempts, "GetSecretValue": 1}, wantPending: true},
		{name: "the record first: PutSecretValue denied after it",
			faults:     []emulator.Fault{{Action: sm + "PutSecretValue", Code: "AccessDeniedException"}},
			wantCalls:  map[string]int{"TagResource": 1, "PutSecretValue": 1},
			wantAction: "PutSecretValue", wantCode: "AccessDeniedException"},
		{name: "the record first: missing secret, PutSecretValue denied after it", missing: true,
			faults:     []emulator.Fault{{Action: sm + "PutSecretValue", Code: "AccessDeniedException"}},
			wantCalls:  map[string]int{"CreateSecret": 1, "GetSecretValue": 1, "PutSecretValue": 1},
			wantAction: "PutSecretValue", wantCode: "AccessDeniedException"},
		{name: "TagResource denied: nothing staged",
			faults:     []emulator.Fault{{Action: sm + "TagResource", Code: "AccessDeniedException"}},
			wantCalls:  map[string]int{"TagResource": 1},
			wantAction: "TagResource", wantCode: "AccessDeniedException"},
		{name: "PutSecretValue failing for good",
			faults:     []emulator.Fault{{Action: sm + "PutSecretValue", Code: "InternalServiceError"}},
			wantCalls:  map[string]int{"TagResource": 1, "PutSecretValue": fastRetry.Attempts, "GetSecretValue": 1},
			wantAction: "PutSecretValue", wantCode: "InternalServiceError", wantRetryable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			live, key := f.newKey(t), f.newKey(t)
			if !tc.missing {
				f.seed(live.Reveal(), nil)
			}
			h, err := f.sink.Inspect(ctx, zone)
			if err != nil {
				t.Fatal(err)
			}
			f.emu.ResetCounters()
			for _, flt := range tc.faults {
				f.emu.Inject(flt)
			}
			rec := record(live)
			rec.To = key.Fingerprint()
			err = f.err(f.sink.Stage(ctx, zone, h, rec, key, live))
			f.allCalls(t, tc.wantCalls)
			if tc.wantAction != "" {
				checkFinal(t, err, tc.wantAction, tc.wantCode, tc.wantRetryable)
			} else if err != nil {
				t.Fatalf("Stage: %v", err)
			}
			got, ok := f.storedRecord(t)
			if wantRecord := tc.wantAction != "TagResource"; ok != wantRecord || (ok && got != rec) {
				t.Errorf("record %+v (%v), want %v", got, ok, wantRecord)
			}
			if f.stage(t, "AWSCURRENT") != live.Reveal() {
				t.Error("AWSCURRENT does not hold the live key")
			}
			if got := f.stage(t, pendingL) == key.Reveal(); got != tc.wantPending {
				t.Errorf("AWSPENDING holds the key: %v, want %v", got, tc.wantPending)
			}
			if tc.wantPending && len(f.state(t).Versions) != 2 {
				t.Errorf("%d versions, want 2", len(f.state(t).Versions))
			}
		})
	}
}

// TestStageTwice: the same key staged twice makes one version; a leftover
// AWSPENDING of another key moves to the new one.
func TestStageTwice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	live, key, stray := f.newKey(t), f.newKey(t), f.newKey(t)
	f.seedVersions(nil,
		emulator.AWSVersion{ID: oldID, Value: live.Reveal(), Stages: []string{"AWSCURRENT"}},
		emulator.AWSVersion{ID: strayID, Value: stray.Reveal(), Stages: []string{pendingL}})
	rec := record(live)
	rec.To = key.Fingerprint()
	for i := range 2 {
		h, err := f.sink.Inspect(ctx, zone)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.err(f.sink.Stage(ctx, zone, h, rec, key, live)); err != nil {
			t.Fatalf("Stage %d: %v", i+1, err)
		}
	}
	if n := len(f.state(t).Versions); n != 3 {
		t.Errorf("%d versions, want 3", n)
	}
	if f.pendingCount(t) != 1 || f.stage(t, pendingL) != key.Reveal() {
		t.Error("AWSPENDING is not on the staged key alone")
	}
	if got, found, err := f.sink.Pending(ctx, zone); err != nil || !found || !got.Equal(key) {
		t.Errorf("Pending: found %v, %v", found, f.err(err))
	}
}

func TestPending(t *testing.T) {
	tests := []struct {
		name      string
		pending   bool
		missing   bool
		fault     *emulator.Fault
		wantFound bool
		wantCode  string
		wantCalls int
	}{
		{name: "found", pending: true, wantFound: true, wantCalls: 1},
		{name: "none", wantCalls: 1},
		{name: "no secret", missing: true, wantCalls: 1},
		{name: "throttled once", pending: true, wantFound: true, wantCalls: 2,
			fault: &emulator.Fault{Action: sm + "GetSecretValue", Code: "ThrottlingException", Times: 1}},
		{name: "denied", pending: true, wantCode: "AccessDeniedException", wantCalls: 1,
			fault: &emulator.Fault{Action: sm + "GetSecretValue", Code: "AccessDeniedException"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			live, key := f.newKey(t), f.newKey(t)
			versions := []emulator.AWSVersion{{ID: oldID, Value: live.Reveal(), Stages: []string{"AWSCURRENT"}}}
			if tc.pending {
				versions = append(versions, emulator.AWSVersion{ID: pendID, Value: key.Reveal(), Stages: []string{pendingL}})
			}
			if !tc.missing {
				f.seedVersions(nil, versions...)
			}
			got, found, err := f.pendingCall().Call(t, tc.fault, tc.wantCalls, tc.wantCode)
			if f.err(err); tc.wantCode != "" {
				return
			}
			if err != nil || found != tc.wantFound || (found && !got.Equal(key)) {
				t.Errorf("Pending = found %v, the key %v, %v; want found %v", found, got.Equal(key), err, tc.wantFound)
			}
		})
	}
}

// TestPromote: AWSCURRENT on the staged version, AWSPREVIOUS on the old
// one, no AWSPENDING anywhere, the record Done.
func TestPromote(t *testing.T) {
	type setup int
	const (
		staged        setup = iota // old AWSCURRENT, key AWSPENDING
		promoted                   // key AWSCURRENT (old AWSPREVIOUS), no AWSPENDING
		movedNotClean              // key AWSCURRENT and AWSPENDING
		pendingLost                // old AWSCURRENT, no AWSPENDING
		pendingOther               // old AWSCURRENT, another key AWSPENDING
		noCurrent                  // key AWSPENDING, nothing AWSCURRENT
		secretLost                 // no secret at all
	)
	// promotion is the calls that promote a staged key: both labels read,
	// both moved, the record tagged.
	promotion := map[string]int{"GetSecretValue": 2, "UpdateSecretVersionStage": 2, "TagResource": 1}
	tests := []struct {
		name          string
		setup         setup
		faults        []emulator.Fault
		wantCalls     map[string]int
		wantOutcome   sink.Outcome
		wantAction    string // "" = no error
		wantCode      string
		wantRetryable bool
		wantPrevious  bool // the old key is AWSPREVIOUS
	}{
		{name: "staged key promoted", setup: staged,
			wantCalls:   promotion,
			wantOutcome: sink.OK, wantPrevious: true},
		{name: "already promoted: unchanged, the record still written", setup: promoted,
			wantCalls:   map[string]int{"GetSecretValue": 2, "TagResource": 1},
			wantOutcome: sink.Unchanged, wantPrevious: true},
		{name: "moved but AWSPENDING left: only the cleanup", setup: movedNotClean,
			wantCalls:   map[string]int{"GetSecretValue": 2, "UpdateSecretVersionStage": 1, "TagResource": 1},
			wantOutcome: sink.OK, wantPrevious: true},
		{name: "pending version lost: put as AWSCURRENT", setup: pendingLost,
			wantCalls:   map[string]int{"GetSecretValue": 2, "PutSecretValue": 1, "TagResource": 1},
			wantOutcome: sink.OK, wantPrevious: true},
		{name: "AWSPENDING holds another key: put, and the label removed", setup: pendingOther,
			wantCalls:   map[string]int{"GetSecretValue": 2, "PutSecretValue": 1, "UpdateSecretVersionStage": 1, "TagResource": 1},
			wantOutcome: sink.OK, wantPrevious: true},
		{name: "no AWSCURRENT: moved without RemoveFromVersionId", setup: noCurrent,
			wantCalls:   promotion,
			wantOutcome: sink.OK},
		{name: "secret lost: created holding the key", setup: secretLost,
			wantCalls:   map[string]int{"GetSecretValue": 2, "PutSecretValue": 1, "CreateSecret": 1, "TagResource": 1},
			wantOutcome: sink.OK},

		// transient faults
		{name: "GetSecretValue throttled once", setup: staged,
			faults:      []emulator.Fault{{Action: sm + "GetSecretValue", Code: "ThrottlingException", Times: 1}},
			wantCalls:   with(promotion, "GetSecretValue", 3),
			wantOutcome: sink.OK, wantPrevious: true},
		{name: "UpdateSecretVersionStage failing once", setup: staged,
			faults:      []emulator.Fault{{Action: sm + "UpdateSecretVersionStage", Code: "InternalServiceError", Times: 1}},
			wantCalls:   with(promotion, "UpdateSecretVersionStage", 3),
			wantOutcome: sink.OK, wantPrevious: true},
		{name: "AWSCURRENT move answer lost: the labels are read again", setup: staged,
			faults:      []emulator.Fault{{Action: sm + "UpdateSecretVersionStage", Phase: emulator.After, Drop: true, Times: 1}},
			wantCalls:   with(with(promotion, "GetSecretValue", 4), "UpdateSecretVersionStage", 3),
			wantOutcome: sink.OK, wantPrevious: true},
		{name: "AWSPENDING removal answer lost: the labels are read again", setup: movedNotClean,
			faults:      []emulator.Fault{{Action: sm + "UpdateSecretVersionStage", Phase: emulator.After, Code: "InternalServiceError", Times: 1}},
			wantCalls:   map[string]int{"GetSecretValue": 4, "UpdateSecretVersionStage": 2, "TagResource": 1},
			wantOutcome: sink.OK, wantPrevious: true},
		{name: "PutSecretValue answer lost", setup: pendingLost,
			faults:      []emulator.Fault{{Action: sm + "PutSecretValue", Phase: emulator.After, Drop: true, Times: 1}},
			wantCalls:   map[string]int{"GetSecretValue": 2, "PutSecretValue": 2, "TagResource": 1},
			wantOutcome: sink.OK, wantPrevious: true},
		{name: "TagResource answer lost", setup: staged,
			faults:      []emulator.Fault{{Action: sm + "TagResource", Phase: emulator.After, Code: "InternalServiceError", Times: 1}},
			wantCalls:   with(promotion, "TagResource", 2),
			wantOutcome: sink.OK, wantPrevious: true},

		// final failures
		{name: "UpdateSecretVersionStage denied", setup: staged,
			faults:     []emulator.Fault{{Action: sm + "UpdateSecretVersionStage", Code: "AccessDeniedException"}},
			wantCalls:  map[string]int{"GetSecretValue": 2, "UpdateSecretVersionStage": 1},
			wantAction: "UpdateSecretVersionStage", wantCode: "AccessDeniedException"},
		{name: "UpdateSecretVersionStage failing for good", setup: staged,
			faults:     []emulator.Fault{{Action: sm + "UpdateSecretVersionStage", Code: "InternalServiceError"}},
			wantCalls:  map[string]int{"GetSecretValue": 6, "UpdateSecretVersionStage": 3 * fastRetry.Attempts},
			wantAction: "UpdateSecretVersionStage", wantCode: "InternalServiceError", wantRetryable: true},
		{name: "TagResource denied", setup: staged,
			faults:     []emulator.Fault{{Action: sm + "TagResource", Code: "AccessDeniedException"}},
			wantCalls:  promotion,
			wantAction: "TagResource", wantCode: "AccessDeniedException", wantPrevious: true},
		{name: "GetSecretValue denied", setup: staged,
			faults:     []emulator.Fault{{Action: sm + "GetSecretValue", Code: "AccessDeniedException"}},
			wantCalls:  map[string]int{"GetSecretValue": 2},
			wantAction: "GetSecretValue", wantCode: "AccessDeniedException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			old, key, other := f.newKey(t), f.newKey(t), f.newKey(t)
			v := func(id string, k secret.Key, labels ...string) emulator.AWSVersion {
				return emulator.AWSVersion{ID: id, Value: k.Reveal(), Stages: labels}
			}
			switch tc.setup {
			case staged:
				f.seedVersions(nil, v(oldID, old, "AWSCURRENT"), v(pendID, key, pendingL))
			case promoted:
				f.seedVersions(nil, v(oldID, old, "AWSPREVIOUS"), v(pendID, key, "AWSCURRENT"))
			case movedNotClean:
				f.seedVersions(nil, v(oldID, old, "AWSPREVIOUS"), v(pendID, key, "AWSCURRENT", pendingL))
			case pendingLost:
				f.seedVersions(nil, v(oldID, old, "AWSCURRENT"))
			case pendingOther:
				f.seedVersions(nil, v(oldID, old, "AWSCURRENT"), v(strayID, other, pendingL))
			case noCurrent:
				f.seedVersions(nil, v(pendID, key, pendingL))
			}
			for _, flt := range tc.faults {
				f.emu.Inject(flt)
			}
			rec := record(old)
			rec.State, rec.To = sink.Done, key.Fingerprint()
			outcome, err := f.sink.Promote(ctx, zone, key, rec)
			f.err(err)
			f.allCalls(t, tc.wantCalls)
			if tc.wantAction != "" {
				checkFinal(t, err, tc.wantAction, tc.wantCode, tc.wantRetryable)
				if outcome != sink.Failed {
					t.Errorf("outcome %s, want failed", outcome)
				}
			} else {
				if err != nil || outcome != tc.wantOutcome {
					t.Fatalf("Promote = %s, %v; want %s", outcome, err, tc.wantOutcome)
				}
				if got := f.labels(t, key.Reveal()); !slices.Equal(got, []string{"AWSCURRENT"}) {
					t.Errorf("the key's labels %v, want [AWSCURRENT]", got)
				}
				if n := f.pendingCount(t); n != 0 {
					t.Errorf("%d versions labelled AWSPENDING", n)
				}
				if got, ok := f.storedRecord(t); !ok || got != rec {
					t.Errorf("record %+v (%v), want %+v", got, ok, rec)
				}
				if got, found, err := f.sink.Pending(ctx, zone); err != nil || found {
					t.Errorf("Pending after Promote: found %v (the key %v), %v", found, got.Equal(key), err)
				}
			}
			if tc.wantPrevious && !slices.Contains(f.labels(t, old.Reveal()), "AWSPREVIOUS") {
				t.Errorf("the old key's labels %v, want AWSPREVIOUS", f.labels(t, old.Reveal()))
			}
		})
	}
}

// TestStagedRotation: Stage, Pending, Promote twice: the second is
// Unchanged and calls only the reads and the tag.
func TestStagedRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	live, key := f.newKey(t), f.newKey(t)
	f.seed(live.Reveal(), nil)
	h, err := f.sink.Inspect(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	rec := record(live)
	rec.To = key.Fingerprint()
	if err := f.err(f.sink.Stage(ctx, zone, h, rec, key, live)); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if got, found, err := f.sink.Pending(ctx, zone); err != nil || !found || !got.Equal(key) {
		t.Fatalf("Pending: found %v, %v", found, f.err(err))
	}
	if f.stage(t, "AWSCURRENT") != live.Reveal() {
		t.Error("Stage moved AWSCURRENT")
	}
	rec.State = sink.Done
	for i, want := range []sink.Outcome{sink.OK, sink.Unchanged} {
		f.emu.ResetCounters()
		outcome, err := f.sink.Promote(ctx, zone, key, rec)
		if f.err(err) != nil || outcome != want {
			t.Fatalf("Promote %d = %s, %v; want %s", i+1, outcome, err, want)
		}
	}
	f.allCalls(t, map[string]int{"GetSecretValue": 2, "TagResource": 1})
	if f.stage(t, "AWSCURRENT") != key.Reveal() || f.stage(t, "AWSPREVIOUS") != live.Reveal() || f.pendingCount(t) != 0 {
		t.Error("labels not AWSCURRENT on the key, AWSPREVIOUS on the live key, no AWSPENDING")
	}
}
