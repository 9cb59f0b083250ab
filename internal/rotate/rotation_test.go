package rotate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// TestCallCounts pins the calls of one rotation: a steady one makes one call
// of each step and a single Describe; a rotation with no key held anywhere
// (a store still to create, a store without a key, only a webhook) reads the
// live key once more before the refresh, and a store to create gets it.
func TestCallCounts(t *testing.T) {
	tests := []struct {
		name         string
		store        func(s *storeSink, live string) // nil: no store
		hook         bool
		wantDescribe int
		wantBegin    bool // Begin called (one store)
		wantExists   bool // as Begin was told
		wantLive     bool // Begin got the live key
	}{
		{name: "steady, one store", store: func(s *storeSink, live string) { s.seed("zone-a", live) },
			wantDescribe: 1, wantBegin: true, wantExists: true},
		{name: "steady, store and webhook", store: func(s *storeSink, live string) { s.seed("zone-a", live) }, hook: true,
			wantDescribe: 1, wantBegin: true, wantExists: true},
		{name: "store does not exist yet", store: func(*storeSink, string) {},
			wantDescribe: 2, wantBegin: true, wantLive: true},
		{name: "store does not exist yet, with webhook", store: func(*storeSink, string) {}, hook: true,
			wantDescribe: 2, wantBegin: true, wantLive: true},
		{name: "store exists without a key", store: func(s *storeSink, _ string) { s.seed("zone-a", "") },
			wantDescribe: 2, wantBegin: true, wantExists: true, wantLive: true},
		{name: "webhook only", hook: true, wantDescribe: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			before := teo.key("zone-a")
			var sinks []sink.Sink
			var store *storeSink
			var hooks []*hookSink
			if tc.store != nil {
				store = newStore()
				tc.store(store, before)
				sinks = append(sinks, store)
			}
			if tc.hook {
				h := &hookSink{}
				hooks = append(hooks, h)
				sinks = append(sinks, h)
			}
			e, logs := newEngine(teo, []string{"zone-a"}, sinks...)
			rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-1", RotationID: "rot-1"})
			z := rep.Zones[0]
			live := teo.key("zone-a")
			if !rep.OK || z.Outcome != Rotated || !z.KeyChanged || z.Fingerprint != fp(live) || z.PreviousFingerprint != fp(before) {
				t.Fatalf("%+v", z)
			}
			if got := teo.refreshes("zone-a"); got != 1 {
				t.Errorf("Refresh %d times, want 1", got)
			}
			if got := teo.describes("zone-a"); got != tc.wantDescribe {
				t.Errorf("Describe %d times, want %d", got, tc.wantDescribe)
			}
			var deliveries [][]sink.Delivery
			if store != nil {
				if got := store.count("inspect"); got != 1 {
					t.Errorf("Inspect %d times, want 1", got)
				}
				b := store.begun()
				if len(b) != 1 {
					t.Fatalf("Begin %d times, want 1", len(b))
				}
				if b[0].holding.Exists != tc.wantExists || b[0].rec.RotationID != "rot-1" || b[0].rec.State != sink.Pending ||
					b[0].rec.From != fp(before) || b[0].rec.To != "" {
					t.Errorf("Begin got holding %+v, record %+v", b[0].holding, b[0].rec)
				}
				if tc.wantLive && b[0].live.Reveal() != before {
					t.Error("Begin did not get the live key of a store to create")
				}
				if !tc.wantLive && !b[0].live.IsZero() {
					t.Error("Begin got a live key although the store holds one")
				}
				if store.held("zone-a") != live {
					t.Error("the store does not hold the live key")
				}
				deliveries = append(deliveries, store.delivered())
			}
			for _, h := range hooks {
				deliveries = append(deliveries, h.delivered())
			}
			for i, d := range deliveries {
				if len(d) != 1 || !d[0].Fresh || d[0].Key.Reveal() != live || d[0].Previous != fp(before) ||
					d[0].RotationID != "rot-1" || d[0].Action != "rotate" || d[0].ZoneID != "zone-a" {
					t.Errorf("sink %d: deliveries %+v, want one fresh delivery of the live key", i, d)
				}
			}
			if len(z.Sinks) != len(sinks) {
				t.Errorf("sinks %+v", z.Sinks)
			}
			for _, s := range z.Sinks {
				if s.Outcome != sink.OK {
					t.Errorf("sink %+v", s)
				}
			}
			noLeak(t, teo, rep, logs, hooks)
		})
	}
}

func TestRefresh(t *testing.T) {
	final := &apiErr{action: opRefresh, code: "OperationDenied"}
	transient := &apiErr{action: opRefresh, code: "InternalError", retryable: true}
	tests := []struct {
		name         string
		refreshErr   func(zone string, n int) (error, bool)
		describeErr  func(zone string, n int) error
		want         Outcome
		wantRefresh  int
		wantDescribe int
		wantChanged  bool
		wantCode     string
		wantAPI      string
		wantErrorHas string
	}{
		{name: "refreshed", want: Rotated, wantRefresh: 1, wantDescribe: 1, wantChanged: true},
		{name: "answer lost, Describe shows the new key",
			refreshErr: func(_ string, n int) (error, bool) {
				if n == 1 {
					return &apiErr{action: opRefresh, code: "ClientError.NetworkError", retryable: true}, true
				}
				return nil, false
			},
			want: Rotated, wantRefresh: 1, wantDescribe: 2, wantChanged: true},
		{name: "transient failure, key unchanged: refreshed again",
			refreshErr: func(_ string, n int) (error, bool) {
				if n == 1 {
					return transient, false
				}
				return nil, false
			},
			want: Rotated, wantRefresh: 2, wantDescribe: 2, wantChanged: true},
		{name: "transient failure persists",
			refreshErr: func(string, int) (error, bool) { return transient, false },
			want:       Failed, wantRefresh: 3, wantDescribe: 3, wantCode: "InternalError", wantAPI: opRefresh, wantErrorHas: "key unchanged: "},
		{name: "final failure, key unchanged",
			refreshErr: func(string, int) (error, bool) { return final, false },
			want:       Failed, wantRefresh: 1, wantDescribe: 1, wantCode: "OperationDenied", wantAPI: opRefresh, wantErrorHas: "key unchanged: "},
		{name: "answer lost and Describe fails too",
			refreshErr: func(string, int) (error, bool) { return transient, true },
			describeErr: func(_ string, n int) error {
				return &apiErr{action: opDescribe, code: "InternalError", retryable: true}
			},
			want: Failed, wantRefresh: 1, wantDescribe: 1, wantChanged: true, wantCode: "InternalError", wantAPI: opRefresh,
			wantErrorHas: "key may have rotated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			teo.refreshErr, teo.describeErr = tc.refreshErr, tc.describeErr
			before := teo.key("zone-a")
			store, hook := newStore().seed("zone-a", before), &hookSink{}
			e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
			rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-1"})
			z := rep.Zones[0]
			if z.Outcome != tc.want || z.KeyChanged != tc.wantChanged || z.Code != tc.wantCode || z.APIAction != tc.wantAPI {
				t.Fatalf("got %s changed=%v %s %s (%s); want %s changed=%v %s %s", z.Outcome, z.KeyChanged, z.APIAction, z.Code, z.Error,
					tc.want, tc.wantChanged, tc.wantAPI, tc.wantCode)
			}
			if !strings.Contains(z.Error, tc.wantErrorHas) {
				t.Errorf("error %q lacks %q", z.Error, tc.wantErrorHas)
			}
			if got := teo.refreshes("zone-a"); got != tc.wantRefresh {
				t.Errorf("%d refreshes, want %d", got, tc.wantRefresh)
			}
			if got := teo.describes("zone-a"); got != tc.wantDescribe {
				t.Errorf("%d Describes, want %d", got, tc.wantDescribe)
			}
			live := teo.key("zone-a")
			if tc.want == Rotated {
				if store.held("zone-a") != live || z.Fingerprint != fp(live) || z.PreviousFingerprint != fp(before) {
					t.Errorf("the store does not hold the live key, or fingerprints %s <- %s are wrong", z.Fingerprint, z.PreviousFingerprint)
				}
				if len(hook.failures()) != 0 {
					t.Error("a failure notice for a rotated zone")
				}
			} else {
				if len(store.delivered()) != 0 || len(hook.delivered()) != 0 {
					t.Error("delivered although no key is known")
				}
				n := hook.failures()
				if len(n) != 1 || n[0].KeyChanged != tc.wantChanged || n[0].Code != tc.wantCode || n[0].APIAction != tc.wantAPI {
					t.Errorf("notices %+v", n)
				}
			}
			if b := store.begun(); len(b) != 1 || b[0].rec.State != sink.Pending || b[0].rec.From != fp(before) || b[0].rec.RotationID != "req-1" {
				t.Errorf("no pending record before the refresh: %+v", b)
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook})
		})
	}
}

// TestRetrySameRotation: a retry that finds its own rotation's record, in a
// store or in memory, never begins again and refreshes only when the live
// key is still the one the record was to replace.
func TestRetrySameRotation(t *testing.T) {
	tests := []struct {
		name      string
		memory    bool       // the record is in Engine.Memory (webhook only); else in the store
		state     sink.State // of the record
		refreshed bool       // the record's From is an older key than the live one
		wantFresh bool
	}{
		{name: "store: refreshed, not delivered", state: sink.Pending, refreshed: true},
		{name: "store: recorded, never refreshed", state: sink.Pending, wantFresh: true},
		{name: "store: done", state: sink.Done, refreshed: true},
		{name: "memory: refreshed, not delivered", memory: true, state: sink.Pending, refreshed: true},
		{name: "memory: recorded, never refreshed", memory: true, state: sink.Pending, wantFresh: true},
		{name: "memory: done", memory: true, state: sink.Done, refreshed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			live := teo.key("zone-a")
			from := live
			if tc.refreshed {
				from = teo.otherKey() // the key the refresh replaced
			}
			rec := sink.Record{RotationID: "rot-1", State: tc.state, From: fp(from), At: time.Now().UTC()}
			if tc.state == sink.Done {
				rec.To = fp(live)
			}
			hook := &hookSink{}
			var store *storeSink
			sinks := []sink.Sink{hook}
			e, logs := newEngine(teo, []string{"zone-a"})
			e.Memory = NewMemory()
			if tc.memory {
				e.Memory.save("zone-a", rec)
			} else {
				held := from // what the store held when the rotation began
				if tc.state == sink.Done {
					held = live
				}
				store = newStore().seed("zone-a", held)
				store.setRecord("zone-a", rec)
				sinks = append([]sink.Sink{store}, sinks...)
			}
			e.Sinks = sinks
			rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-2", RotationID: "rot-1"})
			z := rep.Zones[0]
			now := teo.key("zone-a")
			if !rep.OK || z.Outcome != Rotated || !z.KeyChanged || z.Fingerprint != fp(now) || z.PreviousFingerprint != fp(from) {
				t.Fatalf("%+v", z)
			}
			if wantAt := rec.At.Format(time.RFC3339); z.Redelivered != tc.refreshed || (z.RotatedAt == wantAt) != tc.refreshed {
				t.Errorf("redelivered %v rotatedAt %q, want %v and %q only when the record's refresh had happened", z.Redelivered, z.RotatedAt, tc.refreshed, wantAt)
			}
			wantRefresh := 0
			if !tc.refreshed {
				wantRefresh = 1
			}
			if got := teo.refreshes("zone-a"); got != wantRefresh {
				t.Errorf("%d refreshes, want %d", got, wantRefresh)
			}
			if got := teo.describes("zone-a"); got != 2 {
				t.Errorf("%d Describes, want 2 (the retry's judgement and the confirmation)", got)
			}
			var deliveries [][]sink.Delivery
			if store != nil {
				if n := store.count("begin"); n != 0 {
					t.Errorf("Begin %d times on a retry", n)
				}
				if store.held("zone-a") != now {
					t.Error("the store does not hold the live key")
				}
				if got, _ := store.record("zone-a"); got != rec {
					t.Errorf("record %+v changed to %+v", rec, got)
				}
				deliveries = append(deliveries, store.delivered())
			}
			deliveries = append(deliveries, hook.delivered())
			for i, d := range deliveries {
				if len(d) != 1 || d[0].Fresh != tc.wantFresh || d[0].Key.Reveal() != now || d[0].Previous != fp(from) {
					t.Errorf("sink %d: deliveries %+v, want one of the live key with Fresh %v", i, d, tc.wantFresh)
				}
			}
			if m, ok := e.Memory.load("zone-a"); !ok || m.State != sink.Done || m.RotationID != "rot-1" || m.To != fp(now) || m.From != fp(from) {
				t.Errorf("memory record %+v", m)
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook})
		})
	}
}

// TestJournal: records of other rotations, or none, lead to a fresh
// rotation recorded before the refresh.
func TestJournal(t *testing.T) {
	tests := []struct {
		name   string
		record func(live, stale string) *sink.Record
		memory func(live string) *sink.Record
	}{
		{name: "no record"},
		{name: "another rotation pending, key replaced",
			record: func(_, stale string) *sink.Record {
				return &sink.Record{RotationID: "rot-0", State: sink.Pending, From: fp(stale)}
			}},
		{name: "another rotation pending, key the one it was to replace",
			record: func(live, _ string) *sink.Record {
				return &sink.Record{RotationID: "rot-0", State: sink.Pending, From: fp(live)}
			}},
		{name: "another rotation done",
			record: func(live, _ string) *sink.Record {
				return &sink.Record{RotationID: "rot-0", State: sink.Done, To: fp(live)}
			}},
		{name: "another rotation in memory",
			memory: func(live string) *sink.Record {
				return &sink.Record{RotationID: "rot-0", State: sink.Pending, From: fp(live)}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			before := teo.key("zone-a")
			stale := teo.otherKey()
			store := newStore().seed("zone-a", stale)
			if tc.record != nil {
				store.setRecord("zone-a", *tc.record(before, stale))
			}
			e, logs := newEngine(teo, []string{"zone-a"}, store)
			e.Memory = NewMemory()
			if tc.memory != nil {
				e.Memory.save("zone-a", *tc.memory(before))
			}
			rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-2", RotationID: "rot-1"})
			z := rep.Zones[0]
			if z.Outcome != Rotated || !z.KeyChanged {
				t.Fatalf("got %s changed=%v: %s", z.Outcome, z.KeyChanged, z.Error)
			}
			if got := teo.refreshes("zone-a"); got != 1 {
				t.Errorf("%d refreshes, want 1", got)
			}
			live := teo.key("zone-a")
			if store.held("zone-a") != live || z.Fingerprint != fp(live) {
				t.Error("the store does not hold the live key")
			}
			// From is what the store held: the stale key.
			if b := store.begun(); len(b) != 1 || b[0].rec.RotationID != "rot-1" || b[0].rec.State != sink.Pending || b[0].rec.From != fp(stale) {
				t.Errorf("begins %+v", b)
			}
			if got, _ := store.record("zone-a"); got.RotationID != "rot-1" || got.State != sink.Pending {
				t.Errorf("final record %+v", got)
			}
			if m, _ := e.Memory.load("zone-a"); m.RotationID != "rot-1" || m.State != sink.Done || m.To != fp(live) {
				t.Errorf("memory record %+v", m)
			}
			if rep.RotationID != "rot-1" {
				t.Errorf("report rotation id %q", rep.RotationID)
			}
			noLeak(t, teo, rep, logs, nil)
		})
	}

	// The documented cost: a store held a stale key, its rotation was
	// recorded, and the run stopped before the refresh (here: the
	// invocation ended right after zone-b's record, as a crash or the
	// platform's timeout would end it). The retry takes the stale From for
	// proof of a refresh: it delivers the live key (the store heals) and
	// reports rotated without refreshing.
	t.Run("stale store, stopped before the refresh", func(t *testing.T) {
		teo := newFakeTEO("zone-a", "zone-b")
		stale := teo.otherKey()
		store := newStore().seed("zone-a", teo.key("zone-a")).seed("zone-b", stale)
		ctx, stop := context.WithCancel(context.Background())
		store.wait = func(_ context.Context, op, zone string) error {
			if op == "begin" && zone == "zone-b" {
				stop()
			}
			return nil
		}
		e, _ := newEngine(teo, []string{"zone-a", "zone-b"}, store)
		req := Request{Action: Rotate, RotationID: "rot-1"}
		rep := e.Run(ctx, req)
		if a, b := rep.Zones[0], rep.Zones[1]; a.Outcome != Rotated || b.Outcome != Skipped || b.KeyChanged || teo.refreshes("zone-b") != 0 {
			t.Fatalf("first run: %+v", rep.Zones)
		}
		store.wait = nil
		rep = e.Run(context.Background(), req)
		for _, z := range rep.Zones {
			if z.Outcome != Rotated || !z.KeyChanged || store.held(z.ZoneID) != teo.key(z.ZoneID) {
				t.Errorf("retry: %+v", z)
			}
		}
		if teo.refreshes("zone-a") != 1 || teo.refreshes("zone-b") != 0 {
			t.Errorf("refreshes: zone-a %d, zone-b %d", teo.refreshes("zone-a"), teo.refreshes("zone-b"))
		}
		if store.count("begin") != 2 {
			t.Errorf("%d Begin calls, want one per zone", store.count("begin"))
		}
	})
}

// TestRefusedRefreshLiveKeyDiffers: Refresh answers a refusal (OperationDenied)
// and Describe then shows a live key other than the one the store held. The
// two causes cannot be told apart — a store that was stale, or a refresh
// done although refused — so the live key is delivered (nobody is locked
// out) and the zone is failed with the refusal's code, never called rotated.
func TestRefusedRefreshLiveKeyDiffers(t *testing.T) {
	refused := &apiErr{action: opRefresh, code: "OperationDenied"}
	for _, tc := range []struct {
		name       string
		staleStore bool
		replaced   bool // the fake replaces the key although it answers the refusal
	}{
		{name: "stale store, nothing refreshed", staleStore: true},
		{name: "refreshed although refused", replaced: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			held := teo.key("zone-a")
			if tc.staleStore {
				held = teo.otherKey()
			}
			store, hook := newStore().seed("zone-a", held), &hookSink{}
			teo.refreshErr = func(string, int) (error, bool) { return refused, tc.replaced }
			e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
			rep := e.Run(context.Background(), Request{Action: Rotate, RotationID: "rot-1"})
			z := rep.Zones[0]
			if z.Outcome != Failed || !z.KeyChanged || z.Code != "OperationDenied" || !strings.Contains(z.Error, "the live key was delivered") {
				t.Errorf("got %s changed=%v code=%q: %s; want failed, may have changed, OperationDenied", z.Outcome, z.KeyChanged, z.Code, z.Error)
			}
			if live := teo.key("zone-a"); store.held("zone-a") != live {
				t.Error("the store does not hold the live key")
			}
			if teo.refreshes("zone-a") != 1 {
				t.Errorf("%d refreshes", teo.refreshes("zone-a"))
			}
			if n := hook.failures(); len(n) != 1 || n[0].Code != "OperationDenied" {
				t.Errorf("notices %+v", n)
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook})
		})
	}
}

func TestJournalFailures(t *testing.T) {
	inspectErr := &apiErr{action: "DescribeSecret", code: "UnauthorizedOperation"}
	beginErr := &apiErr{action: "UpdateDescription", code: "UnauthorizedOperation"}
	for _, tc := range []struct {
		name                string
		inspect, begin      error
		wantAPI             string
		wantErrorHas        string
		wantBegin, wantSink int
	}{
		{name: "store not ready", inspect: inspectErr, wantAPI: "DescribeSecret", wantErrorHas: "store not ready, so the key was not refreshed"},
		{name: "record unwritable", begin: beginErr, wantAPI: "UpdateDescription", wantErrorHas: "recording the rotation before refreshing: store",
			wantBegin: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			store, hook := newStore().seed("zone-a", teo.key("zone-a")), &hookSink{}
			store.inspectErr, store.beginErr = tc.inspect, tc.begin
			e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
			rep := e.Run(context.Background(), Request{Action: Rotate})
			z := rep.Zones[0]
			if z.Outcome != Failed || z.KeyChanged || z.APIAction != tc.wantAPI || z.Code != "UnauthorizedOperation" ||
				!strings.HasPrefix(z.Error, "key unchanged") || !strings.Contains(z.Error, tc.wantErrorHas) {
				t.Errorf("%+v", z)
			}
			if len(z.Sinks) != 1 || z.Sinks[0].Name != "store" || z.Sinks[0].Outcome != sink.Failed {
				t.Errorf("sinks %+v", z.Sinks)
			}
			if teo.refreshes("zone-a") != 0 {
				t.Error("refreshed without a record")
			}
			if store.count("begin") != tc.wantBegin || store.count("deliver") != 0 || len(hook.delivered()) != 0 {
				t.Error("wrote after a failure")
			}
			if n := hook.failures(); len(n) != 1 || n[0].KeyChanged {
				t.Errorf("notices %+v", n)
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook})
		})
	}
}

// TestMemoryJournal: with no durable journal, a retry of the same rotation
// on this instance does not refresh again.
func TestMemoryJournal(t *testing.T) {
	teo := newFakeTEO("zone-a")
	hook := &hookSink{}
	e, _ := newEngine(teo, []string{"zone-a"}, hook)
	e.Memory = NewMemory()
	for i := range 2 {
		rep := e.Run(context.Background(), Request{Action: Rotate, RotationID: "timer:nightly:2025-01-01T02:00:00Z"})
		if z := rep.Zones[0]; z.Outcome != Rotated {
			t.Fatalf("run %d: %+v", i+1, z)
		}
	}
	if got := teo.refreshes("zone-a"); got != 1 {
		t.Errorf("%d refreshes for one rotation retried", got)
	}
	d := hook.delivered()
	if len(d) != 2 || d[0].Key.Reveal() != teo.key("zone-a") || d[1].Key.Reveal() != teo.key("zone-a") || !d[0].Fresh || d[1].Fresh {
		t.Errorf("%d deliveries", len(d))
	}
	// A new rotation id refreshes.
	e.Run(context.Background(), Request{Action: Rotate, RotationID: "timer:nightly:2025-01-02T02:00:00Z"})
	if got := teo.refreshes("zone-a"); got != 2 {
		t.Errorf("%d refreshes after a second rotation", got)
	}
	// Another Engine (another instance) has no memory of it.
	e2, _ := newEngine(teo, []string{"zone-a"}, hook)
	e2.Memory = NewMemory()
	e2.Run(context.Background(), Request{Action: Rotate, RotationID: "timer:nightly:2025-01-02T02:00:00Z"})
	if got := teo.refreshes("zone-a"); got != 3 {
		t.Errorf("%d refreshes on a fresh memory", got)
	}

	// A first run whose refresh answer was lost (and Describe failed)
	// leaves a pending record in memory; its retry delivers and does not
	// refresh again.
	t.Run("refresh answer lost", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		teo.refreshErr = func(string, int) (error, bool) {
			return &apiErr{action: opRefresh, code: "ClientError.NetworkError", retryable: true}, true
		}
		teo.describeErr = func(_ string, n int) error {
			if n == 2 { // 1: the live key before the refresh; 2: judging the failed refresh
				return &apiErr{action: opDescribe, code: "InternalError"}
			}
			return nil
		}
		hook := &hookSink{}
		e, _ := newEngine(teo, []string{"zone-a"}, hook)
		e.Memory = NewMemory()
		req := Request{Action: Rotate, RotationID: "rot-1"}
		if z := e.Run(context.Background(), req).Zones[0]; z.Outcome != Failed || !z.KeyChanged {
			t.Fatalf("first run: %+v", z)
		}
		z := e.Run(context.Background(), req).Zones[0]
		if z.Outcome != Rotated || teo.refreshes("zone-a") != 1 {
			t.Fatalf("retry: %+v after %d refreshes", z, teo.refreshes("zone-a"))
		}
		if d := hook.delivered(); len(d) != 1 || d[0].Fresh || d[0].Key.Reveal() != teo.key("zone-a") {
			t.Errorf("deliveries %+v", d)
		}
	})
}

func TestKeyChangesDuringDelivery(t *testing.T) {
	t.Run("once: the live key is delivered", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		// Describe 1 confirms after the delivery: someone else rotates
		// just before it.
		var changed string
		teo.onDescribe = func(f *fakeTEO, zone string, n int) {
			if n == 1 {
				changed = f.replaceLocked(zone)
			}
		}
		store, hook := newStore().seed("zone-a", teo.key("zone-a")), &hookSink{}
		e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
		rep := e.Run(context.Background(), Request{Action: Rotate})
		z := rep.Zones[0]
		if z.Outcome != Rotated || !z.KeyChanged {
			t.Fatalf("%+v", z)
		}
		if store.held("zone-a") != changed || teo.key("zone-a") != changed || z.Fingerprint != fp(changed) {
			t.Error("the store does not hold the live key")
		}
		d := hook.delivered()
		if len(d) != 2 || !d[0].Fresh || d[1].Key.Reveal() != changed || d[1].Fresh {
			t.Errorf("%d webhook deliveries, the last not of the live key, or marked fresh", len(d))
		}
		if sd := store.delivered(); len(sd) != 2 || sd[1].Fresh {
			t.Errorf("store deliveries %+v", sd)
		}
		if teo.refreshes("zone-a") != 1 || teo.describes("zone-a") != 2 {
			t.Errorf("%d refreshes, %d Describes", teo.refreshes("zone-a"), teo.describes("zone-a"))
		}
		if !strings.Contains(logs.String(), "live key changed during delivery") {
			t.Error("the change was not logged")
		}
		noLeak(t, teo, rep, logs, []*hookSink{hook})
	})
	t.Run("keeps changing: failed after ConfirmRounds", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		teo.onDescribe = func(f *fakeTEO, zone string, n int) { f.replaceLocked(zone) }
		store, hook := newStore().seed("zone-a", teo.key("zone-a")), &hookSink{}
		e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
		e.ConfirmRounds = 3
		e.Memory = NewMemory()
		rep := e.Run(context.Background(), Request{Action: Rotate})
		z := rep.Zones[0]
		if z.Outcome != Failed || !z.KeyChanged || !strings.Contains(z.Error, "kept changing") ||
			!strings.HasPrefix(z.Error, "key rotated, delivery incomplete: run sync") {
			t.Fatalf("%+v", z)
		}
		if d := store.delivered(); len(d) != 3 {
			t.Errorf("%d deliveries, want 3 rounds", len(d))
		}
		if z.Fingerprint != fp(teo.key("zone-a")) {
			t.Error("the report does not give the live key's fingerprint")
		}
		if n := hook.failures(); len(n) != 1 || !n[0].KeyChanged {
			t.Errorf("notices %+v", n)
		}
		if rec, _ := e.Memory.load("zone-a"); rec.State != sink.Pending {
			t.Errorf("the rotation was marked %s", rec.State)
		}
		noLeak(t, teo, rep, logs, []*hookSink{hook})
	})
}

func TestDryRun(t *testing.T) {
	teo := newFakeTEO("zone-a", "zone-b")
	store, hook := newStore().seed("zone-a", teo.key("zone-a")), &hookSink{}
	e, logs := newEngine(teo, []string{"zone-a", "zone-b"}, store, hook)
	e.Memory = NewMemory()
	wrote := func() bool {
		return store.count("begin")+store.count("deliver") != 0 || len(hook.delivered()) != 0
	}
	rep := e.Run(context.Background(), Request{Action: Rotate, DryRun: true, RequestID: "req-dry"})
	if !rep.OK || !rep.DryRun || rep.Error != "" {
		t.Fatalf("report %+v", rep)
	}
	for _, z := range rep.Zones {
		if z.Outcome != Planned || z.Fingerprint != fp(teo.key(z.ZoneID)) || z.KeyChanged {
			t.Errorf("%+v", z)
		}
	}
	if teo.totalRefreshes() != 0 || wrote() {
		t.Error("dry run wrote")
	}
	if n := store.count("inspect"); n != 2 {
		t.Errorf("%d Inspect calls, want one per zone", n)
	}
	if _, ok := e.Memory.load("zone-a"); ok {
		t.Error("dry run recorded in memory")
	}
	noLeak(t, teo, rep, logs, []*hookSink{hook})

	// A dry run that shares its rotation id with a rotation already begun
	// still writes nothing (it would otherwise "finish" that rotation).
	store.setRecord("zone-a", sink.Record{RotationID: "manual-1", State: sink.Pending, From: fp("the old key"), At: time.Now()})
	rep = e.Run(context.Background(), Request{Action: Rotate, DryRun: true, RotationID: "manual-1", Zones: []string{"zone-a"}})
	if z := rep.Zones[0]; z.Outcome != Planned {
		t.Errorf("dry run with a known rotation id: %+v", z)
	}
	if teo.totalRefreshes() != 0 || wrote() {
		t.Error("dry run with a known rotation id wrote")
	}

	// Inspect still runs: a store that is not ready fails the dry run.
	store.mu.Lock()
	store.inspectErr = &apiErr{action: "DescribeSecret", code: "ResourceUnavailable.ResourceDisabled"}
	store.mu.Unlock()
	rep = e.Run(context.Background(), Request{Action: Rotate, DryRun: true, Zones: []string{"zone-a"}})
	if z := rep.Zones[0]; z.Outcome != Failed || z.Code != "ResourceUnavailable.ResourceDisabled" || z.KeyChanged {
		t.Errorf("%+v", z)
	}
	// So does Describe.
	store.mu.Lock()
	store.inspectErr = nil
	store.mu.Unlock()
	teo.describeErr = func(string, int) error { return &apiErr{action: opDescribe, code: "AuthFailure.UnauthorizedOperation"} }
	rep = e.Run(context.Background(), Request{Action: Rotate, DryRun: true, Zones: []string{"zone-b"}})
	if z := rep.Zones[0]; z.Outcome != Failed || z.APIAction != opDescribe || z.KeyChanged {
		t.Errorf("%+v", z)
	}
}

// TestReusedRotationID: a rotation id names one rotation. Run again with
// the same id ("weekly"), the engine finds its own record and only
// finishes the delivery; the report says so (redelivered, rotatedAt of the
// original rotation) rather than passing it off as a new rotation.
func TestReusedRotationID(t *testing.T) {
	teo := newFakeTEO("zone-a")
	store := newStore().seed("zone-a", teo.key("zone-a"))
	e, logs := newEngine(teo, []string{"zone-a"}, store)
	e.Memory = NewMemory()
	before := time.Now().UTC().Add(-time.Second)
	first := e.Run(context.Background(), Request{Action: Rotate, RotationID: "weekly"})
	z := first.Zones[0]
	if z.Outcome != Rotated || z.Redelivered || z.RotatedAt != "" {
		t.Fatalf("first rotation: %+v", z)
	}
	rec, ok := store.record("zone-a")
	if !ok || rec.RotationID != "weekly" || rec.At.Before(before) {
		t.Fatalf("record %+v", rec)
	}
	for _, memory := range []bool{true, false} { // this instance, then another one
		if !memory {
			e.Memory = NewMemory()
		}
		again := e.Run(context.Background(), Request{Action: Rotate, RotationID: "weekly"})
		a := again.Zones[0]
		if !again.OK || a.Outcome != Rotated || !a.Redelivered || a.Fingerprint != z.Fingerprint || a.PreviousFingerprint != z.PreviousFingerprint {
			t.Errorf("memory %v: re-used id: %+v, want redelivered with the first rotation's fingerprints", memory, a)
		}
		at, err := time.Parse(time.RFC3339, a.RotatedAt)
		if err != nil || at.Before(before.Truncate(time.Second)) || at.After(time.Now()) {
			t.Errorf("memory %v: rotatedAt %q, want the first rotation's time in RFC 3339", memory, a.RotatedAt)
		}
		noLeak(t, teo, again, logs, nil)
	}
	if n := teo.refreshes("zone-a"); n != 1 {
		t.Errorf("%d refreshes for one rotation id, want 1", n)
	}
	// A new id rotates, and is no redelivery.
	if z := e.Run(context.Background(), Request{Action: Rotate, RotationID: "weekly-2"}).Zones[0]; z.Redelivered || z.RotatedAt != "" || teo.refreshes("zone-a") != 2 {
		t.Errorf("new id: %+v", z)
	}
}
