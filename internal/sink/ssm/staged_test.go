package ssm_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

// storedRecord is the record in the secret's description (nil if none).
func (f *fixture) storedRecord() *sink.Record {
	s, ok := f.emu.Secret(region, name)
	if !ok {
		return nil
	}
	rec, err := sink.ParseRecord(s.Description)
	if err != nil {
		return nil
	}
	return &rec
}

// stagedSeed says what the secret holds before Stage or Promote.
type stagedSeed struct {
	exists  bool
	current string // value of the current version ("" = missing)
	pending string // value of the pending version ("" = missing)
	others  int    // further versions
}

// seedStaged puts s in the emulator, a value that is a key of subst (a
// placeholder such as "<key>") replaced by subst's value for it.
func (f *fixture) seedStaged(s stagedSeed, subst map[string]string) {
	if !s.exists {
		return
	}
	if v, ok := subst[s.current]; ok {
		s.current = v
	}
	if v, ok := subst[s.pending]; ok {
		s.pending = v
	}
	st := emulator.SecretState{Description: seedDescription}
	if s.current != "" {
		st.Versions = append(st.Versions, emulator.Version{ID: versionID, Value: s.current})
	}
	if s.pending != "" {
		st.Versions = append(st.Versions, emulator.Version{ID: pendingID, Value: s.pending})
	}
	for i := range s.others {
		st.Versions = append(st.Versions, emulator.Version{ID: fmt.Sprintf("old-%d", i), Value: "x"})
	}
	f.put(st)
}

func stageRecord(key string) sink.Record {
	rec := record("rot-staged", secret.Fingerprint("the old key"))
	rec.To = secret.Fingerprint(key)
	return stored(rec)
}

// TestStage: the record first, then the pending version, with the calls
// of each path; failures before anything changes leave the secret as it was.
func TestStage(t *testing.T) {
	const (
		keyV   = "<key>"   // replaced by the staged key
		liveV  = "<live>"  // replaced by the live key
		otherV = "<other>" // replaced by another key
	)
	// live is a secret whose current version holds the live key; staging,
	// the calls that stage a key in it.
	live := stagedSeed{exists: true, current: liveV}
	staging := map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1, "PutSecretValue": 1}
	type stageCase struct {
		name   string
		seed   stagedSeed
		faults []emulator.Fault

		wantCalls     map[string]int
		wantCode      string // "" = no error
		wantRetryable bool
		wantRecord    bool // the record is there afterwards
		wantPending   bool // the pending version holds the key afterwards
		wantCurrent   string
	}
	// staged is a case that ends with the record written and the key in the
	// pending version beside the live key; once, one whose fault (Times 1)
	// costs its action one more call on the staging path.
	staged := func(name string, seed stagedSeed, calls map[string]int, faults ...emulator.Fault) stageCase {
		return stageCase{name: name, seed: seed, faults: faults, wantCalls: calls, wantRecord: true, wantPending: true, wantCurrent: liveV}
	}
	once := func(name string, flt emulator.Fault) stageCase {
		return staged(name, live, with(staging, flt.Action, 2), flt)
	}
	tests := []stageCase{
		staged("existing secret", live, staging),
		staged("missing secret is created holding the live key", stagedSeed{},
			map[string]int{"CreateSecret": 1, "GetSecretValue": 1, "PutSecretValue": 1}),
		{name: "existing secret without the current version", seed: stagedSeed{exists: true, others: 1},
			wantCalls:  staging,
			wantRecord: true, wantPending: true},
		staged("pending version holds the key already", stagedSeed{exists: true, current: liveV, pending: keyV},
			map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1, "GetSecretValue": 1}),
		staged("pending version holds another key", stagedSeed{exists: true, current: liveV, pending: otherV},
			map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1, "GetSecretValue": 1, "UpdateSecret": 1}),
		staged("nine versions with the current one: room for the pending one", stagedSeed{exists: true, current: liveV, others: 8},
			staging),
		staged("ten versions with the pending one: it is updated", stagedSeed{exists: true, current: liveV, pending: otherV, others: 8},
			map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1, "GetSecretValue": 1, "UpdateSecret": 1}),

		// transient faults
		once("ListSecretVersionIds throttled once", emulator.Fault{Action: "ListSecretVersionIds", Code: "RequestLimitExceeded", Times: 1}),
		once("UpdateDescription answer lost", emulator.Fault{Action: "UpdateDescription", Phase: emulator.After, Code: "InternalError", Times: 1}),
		once("PutSecretValue failing once", emulator.Fault{Action: "PutSecretValue", Code: "InternalError", Times: 1}),
		staged("PutSecretValue answer lost: the retry finds the version and updates it", live,
			map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1, "PutSecretValue": 2, "UpdateSecret": 1},
			emulator.Fault{Action: "PutSecretValue", Phase: emulator.After, Drop: true, Times: 1}),
		staged("UpdateSecret answer lost", stagedSeed{exists: true, current: liveV, pending: otherV},
			map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1, "GetSecretValue": 1, "UpdateSecret": 2},
			emulator.Fault{Action: "UpdateSecret", Phase: emulator.After, Code: "InternalError", Times: 1}),
		staged("missing secret, CreateSecret answer lost", stagedSeed{},
			map[string]int{"CreateSecret": 2, "UpdateDescription": 1, "GetSecretValue": 1, "PutSecretValue": 1},
			emulator.Fault{Action: "CreateSecret", Phase: emulator.After, Code: "InternalError", Times: 1}),
		{name: "PutSecretValue failing for good: one read tells it did not land", seed: live,
			faults: []emulator.Fault{{Action: "PutSecretValue", Code: "InternalError"}},
			wantCalls: map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1, "PutSecretValue": fastRetry.Attempts,
				"GetSecretValue": 1},
			wantCode: "InternalError", wantRetryable: true, wantRecord: true, wantCurrent: liveV},
		staged("PutSecretValue answers all lost, but it landed", live,
			map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1, "PutSecretValue": fastRetry.Attempts, "GetSecretValue": 1},
			emulator.Fault{Action: "PutSecretValue", Phase: emulator.After, Code: "InternalError", Times: 1},
			emulator.Fault{Action: "PutSecretValue", Code: "InternalError"}),

		// final failures
		{name: "the record first: PutSecretValue denied after it", seed: live,
			faults: denied("PutSecretValue"), wantCalls: staging,
			wantCode: "UnauthorizedOperation", wantRecord: true, wantCurrent: liveV},
		{name: "the record first: missing secret, PutSecretValue denied after it", seed: stagedSeed{},
			faults: denied("PutSecretValue"), wantCalls: map[string]int{"CreateSecret": 1, "GetSecretValue": 1, "PutSecretValue": 1},
			wantCode: "UnauthorizedOperation", wantRecord: true, wantCurrent: liveV},
		{name: "UpdateDescription denied: no pending version", seed: live,
			faults: denied("UpdateDescription"), wantCalls: map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1},
			wantCode: "UnauthorizedOperation", wantCurrent: liveV},
		{name: "ListSecretVersionIds denied: nothing changes", seed: live,
			faults: denied("ListSecretVersionIds"), wantCalls: map[string]int{"ListSecretVersionIds": 1},
			wantCode: "UnauthorizedOperation", wantCurrent: liveV},
		{name: "ten versions, none pending: no room, nothing changes", seed: stagedSeed{exists: true, current: liveV, others: 9},
			wantCalls: map[string]int{"ListSecretVersionIds": 1},
			wantCode:  "LimitExceeded", wantCurrent: liveV},
		{name: "nine versions, current missing: no room for both, nothing changes", seed: stagedSeed{exists: true, others: 9},
			wantCalls: map[string]int{"ListSecretVersionIds": 1},
			wantCode:  "LimitExceeded"},
	}
	for _, tc := range tests {
		parallel(t, tc.name, func(t *testing.T, f *fixture) {
			ctx := context.Background()
			key, live, other := newKey(t), newKey(t), newKey(t)
			subst := map[string]string{keyV: key, liveV: live, otherV: other, "": ""}
			f.seedStaged(tc.seed, subst)
			h := f.holding(t)
			f.arm(tc.faults)
			rec := stageRecord(key)
			err := f.err(f.sink.Stage(ctx, zone, h, rec, secret.New(key), secret.New(live)))
			f.allCalls(t, tc.wantCalls)
			if tc.wantCode != "" {
				checkError(t, err, tc.wantCode, tc.wantRetryable)
			} else if err != nil {
				t.Fatalf("Stage: %v", err)
			}
			got := f.storedRecord()
			switch {
			case tc.wantRecord && !sameRecord(got, rec):
				t.Errorf("record %s, want %+v", describeRecord(got), rec)
			case !tc.wantRecord && got != nil:
				t.Errorf("record %s, want none", describeRecord(got))
			}
			pending, ok := f.versionValue(pendingID)
			switch {
			case tc.wantPending && (!ok || pending != key):
				t.Errorf("pending version holds the key: %v", ok && pending == key)
			case !tc.wantPending && ok && pending == key:
				t.Error("the pending version holds the key")
			}
			if current, _ := f.versionValue(versionID); current != subst[tc.wantCurrent] {
				t.Errorf("current version changed (holds the live key: %v, the staged key: %v)", current == live, current == key)
			}
			f.noLeak(t, key, live, other)
		})
	}
}

// TestStageTwice: a second Stage of the same key writes no value and
// leaves one pending version.
func TestStageTwice(t *testing.T) {
	for _, exists := range []bool{true, false} {
		parallel(t, fmt.Sprintf("exists=%v", exists), func(t *testing.T, f *fixture) {
			ctx := context.Background()
			key, live := newKey(t), newKey(t)
			f.seedStaged(stagedSeed{exists: exists, current: live}, nil)
			rec := stageRecord(key)
			for i := range 2 {
				h := f.holding(t)
				f.arm(nil)
				if err := f.err(f.sink.Stage(ctx, zone, h, rec, secret.New(key), secret.New(live))); err != nil {
					t.Fatalf("Stage %d: %v", i+1, err)
				}
			}
			f.allCalls(t, map[string]int{"ListSecretVersionIds": 1, "UpdateDescription": 1, "GetSecretValue": 1})
			s, _ := f.emu.Secret(region, name)
			if len(s.Versions) != 2 {
				t.Errorf("%d versions, want current and pending", len(s.Versions))
			}
			if v, _ := f.versionValue(pendingID); v != key {
				t.Error("the pending version does not hold the key")
			}
			f.noLeak(t, key, live)
		})
	}
}

func TestPending(t *testing.T) {
	tests := []struct {
		name      string
		seed      stagedSeed
		fault     *emulator.Fault
		wantFound bool
		wantCode  string
		wantCalls int // GetSecretValue
	}{
		{name: "found", seed: stagedSeed{exists: true, current: "live", pending: "<key>"}, wantFound: true, wantCalls: 1},
		{name: "no pending version", seed: stagedSeed{exists: true, current: "live"}, wantCalls: 1},
		{name: "no secret", seed: stagedSeed{}, wantCalls: 1},
		{name: "throttled once", seed: stagedSeed{exists: true, current: "live", pending: "<key>"},
			fault: &emulator.Fault{Action: "GetSecretValue", Code: "RequestLimitExceeded", Times: 1}, wantFound: true, wantCalls: 2},
		{name: "denied", seed: stagedSeed{exists: true, current: "live", pending: "<key>"},
			fault: &emulator.Fault{Action: "GetSecretValue", Code: "UnauthorizedOperation"}, wantCode: "UnauthorizedOperation", wantCalls: 1},
	}
	for _, tc := range tests {
		parallel(t, tc.name, func(t *testing.T, f *fixture) {
			key := newKey(t)
			f.seedStaged(tc.seed, map[string]string{"<key>": key})
			got, found, err := f.pendingCall().Call(t, tc.fault, tc.wantCalls, tc.wantCode)
			if f.err(err); tc.wantCode != "" {
				return
			}
			if err != nil || found != tc.wantFound || (found && got.Reveal() != key) || (!found && !got.IsZero()) {
				t.Errorf("Pending = found %v, the key %v, %v; want found %v", found, got.Reveal() == key, err, tc.wantFound)
			}
			f.noLeak(t, key)
		})
	}
}

// pendingCall calls Pending on f's sink for the zone.
func (f *fixture) pendingCall() testkit.PendingCall {
	return testkit.PendingCall{Emu: f.emu, Stager: f.sink, Zone: zone, AllCalls: f.allCalls,
		CheckError: func(t *testing.T, err error, code string) { checkError(t, err, code, false) }}
}

// with returns a copy of calls with action's count set to n.
var with = testkit.With

// denied is CAM refusing action, for good.
func denied(action string) []emulator.Fault {
	return []emulator.Fault{{Action: action, Code: "UnauthorizedOperation"}}
}

// TestPromote: the current version gets the key, the pending version goes,
// the record says Done, with the calls of each path.
func TestPromote(t *testing.T) {
	const (
		keyV   = "<key>"
		oldV   = "<old>"
		otherV = "<other>"
	)
	// staged is a secret whose pending version holds the key, its current
	// one the old key; promoted, the calls that promote it.
	staged := stagedSeed{exists: true, current: oldV, pending: keyV}
	promoted := map[string]int{"GetSecretValue": 1, "UpdateSecret": 1, "DeleteSecretVersion": 1, "UpdateDescription": 1}
	type promoteCase struct {
		name   string
		seed   stagedSeed
		faults []emulator.Fault

		wantCalls     map[string]int
		wantOutcome   sink.Outcome
		wantCode      string
		wantRetryable bool
		wantPending   bool // a pending version is left
	}
	// ok is a case that ends with the key promoted; once, one whose fault
	// (Times 1) on the staged secret costs its action one more call.
	ok := func(name string, seed stagedSeed, calls map[string]int, faults ...emulator.Fault) promoteCase {
		return promoteCase{name: name, seed: seed, faults: faults, wantCalls: calls, wantOutcome: sink.OK}
	}
	once := func(name string, flt emulator.Fault) promoteCase {
		return ok(name, staged, with(promoted, flt.Action, 2), flt)
	}
	tests := []promoteCase{
		ok("staged key promoted", staged, promoted),
		{name: "already promoted: unchanged, the record still written", seed: stagedSeed{exists: true, current: keyV},
			wantCalls:   map[string]int{"GetSecretValue": 1, "DeleteSecretVersion": 1, "UpdateDescription": 1},
			wantOutcome: sink.Unchanged},
		ok("current holds the key, pending left over", stagedSeed{exists: true, current: keyV, pending: keyV},
			map[string]int{"GetSecretValue": 1, "DeleteSecretVersion": 1, "UpdateDescription": 1}),
		ok("pending version lost", stagedSeed{exists: true, current: oldV}, promoted),
		ok("pending version holds another key", stagedSeed{exists: true, current: oldV, pending: otherV}, promoted),
		ok("current version missing: put", stagedSeed{exists: true, pending: keyV, others: 1},
			map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "PutSecretValue": 1, "DeleteSecretVersion": 1, "UpdateDescription": 1}),
		ok("secret lost: created holding the key", stagedSeed{},
			map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "CreateSecret": 1, "DeleteSecretVersion": 1, "UpdateDescription": 1}),

		// transient faults
		once("GetSecretValue throttled once", emulator.Fault{Action: "GetSecretValue", Code: "RequestLimitExceeded", Times: 1}),
		once("UpdateSecret failing once", emulator.Fault{Action: "UpdateSecret", Code: "InternalError", Times: 1}),
		once("UpdateSecret answer lost", emulator.Fault{Action: "UpdateSecret", Phase: emulator.After, Drop: true, Times: 1}),
		ok("UpdateSecret answers all lost, but it landed", staged,
			with(with(promoted, "GetSecretValue", 2), "UpdateSecret", fastRetry.Attempts),
			emulator.Fault{Action: "UpdateSecret", Phase: emulator.After, Code: "InternalError"}),
		once("DeleteSecretVersion failing once", emulator.Fault{Action: "DeleteSecretVersion", Code: "InternalError", Times: 1}),
		once("DeleteSecretVersion answer lost: the retry finds it gone",
			emulator.Fault{Action: "DeleteSecretVersion", Phase: emulator.After, Code: "InternalError", Times: 1}),
		once("UpdateDescription answer lost", emulator.Fault{Action: "UpdateDescription", Phase: emulator.After, Code: "InternalError", Times: 1}),

		// final failures
		{name: "UpdateSecret denied: the pending version stays", seed: staged,
			faults: denied("UpdateSecret"), wantCalls: map[string]int{"GetSecretValue": 1, "UpdateSecret": 1},
			wantCode: "UnauthorizedOperation", wantPending: true},
		{name: "DeleteSecretVersion denied", seed: staged,
			faults: denied("DeleteSecretVersion"), wantCalls: map[string]int{"GetSecretValue": 1, "UpdateSecret": 1, "DeleteSecretVersion": 1},
			wantCode: "UnauthorizedOperation", wantPending: true},
		{name: "UpdateDescription denied", seed: staged,
			faults: denied("UpdateDescription"), wantCalls: promoted,
			wantCode: "UnauthorizedOperation"},
		{name: "GetSecretValue failing for good", seed: staged,
			faults:    []emulator.Fault{{Action: "GetSecretValue", Code: "InternalError"}},
			wantCalls: map[string]int{"GetSecretValue": fastRetry.Attempts},
			wantCode:  "InternalError", wantRetryable: true, wantPending: true},
	}
	for _, tc := range tests {
		parallel(t, tc.name, func(t *testing.T, f *fixture) {
			ctx := context.Background()
			key, old, other := newKey(t), newKey(t), newKey(t)
			subst := map[string]string{keyV: key, oldV: old, otherV: other, "": ""}
			f.seedStaged(tc.seed, subst)
			for _, flt := range tc.faults {
				f.emu.Inject(flt)
			}
			rec := stageRecord(key)
			rec.State = sink.Done
			outcome, err := f.sink.Promote(ctx, zone, secret.New(key), rec)
			f.err(err)
			f.allCalls(t, tc.wantCalls)
			_, pendingLeft := f.versionValue(pendingID)
			if pendingLeft != tc.wantPending {
				t.Errorf("a pending version left: %v, want %v", pendingLeft, tc.wantPending)
			}
			f.noLeak(t, key, old, other)
			if tc.wantCode != "" {
				checkError(t, err, tc.wantCode, tc.wantRetryable)
				if outcome != sink.Failed {
					t.Errorf("outcome %s, want failed", outcome)
				}
				return
			}
			if err != nil || outcome != tc.wantOutcome {
				t.Fatalf("Promote = %s, %v; want %s", outcome, err, tc.wantOutcome)
			}
			if v, _ := f.value(); v != key {
				t.Error("the current version does not hold the key")
			}
			if got := f.storedRecord(); !sameRecord(got, rec) {
				t.Errorf("record %s, want %+v", describeRecord(got), rec)
			}
		})
	}
}

// TestStagedRotation: Stage, Pending, Promote, Promote again: the second
// Promote is Unchanged; Pending then finds nothing.
func TestStagedRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key, live := newKey(t), newKey(t)
	f.seedStaged(stagedSeed{exists: true, current: live}, nil)
	h, err := f.sink.Inspect(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	rec := stageRecord(key)
	if err := f.err(f.sink.Stage(ctx, zone, h, rec, secret.New(key), secret.New(live))); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if got, found, err := f.sink.Pending(ctx, zone); err != nil || !found || !got.Equal(secret.New(key)) {
		t.Fatalf("Pending: found %v, %v", found, f.err(err))
	}
	if v, _ := f.value(); v != live {
		t.Error("Stage changed the current version")
	}
	rec.State = sink.Done
	for i, want := range []sink.Outcome{sink.OK, sink.Unchanged} {
		f.emu.ResetCounters()
		outcome, err := f.sink.Promote(ctx, zone, secret.New(key), rec)
		if f.err(err) != nil || outcome != want {
			t.Fatalf("Promote %d = %s, %v; want %s", i+1, outcome, err, want)
		}
	}
	f.allCalls(t, map[string]int{"GetSecretValue": 1, "DeleteSecretVersion": 1, "UpdateDescription": 1})
	if _, found, err := f.sink.Pending(ctx, zone); err != nil || found {
		t.Errorf("Pending after Promote: found %v, %v", found, f.err(err))
	}
	if v, _ := f.value(); v != key {
		t.Error("the current version does not hold the key")
	}
	f.noLeak(t, key, live)
}
