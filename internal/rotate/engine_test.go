package rotate

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/ratelimit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

func TestAllowListAndOrder(t *testing.T) {
	teo := newFakeTEO("zone-a", "zone-b", "zone-c", "zone-outside")
	store := newStore()
	hook := &hookSink{}
	e, logs := newEngine(teo, []string{"zone-a", "zone-b", "zone-c"}, store, hook)
	rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-1",
		Zones: []string{"zone-c", "zone-outside", "zone-a", "zone-c", "zone-a", "zone-y"}})
	// Each zone once, in request order, refused zones in their place.
	if got, want := zoneIDs(rep.Zones), []string{"zone-c", "zone-outside", "zone-a", "zone-y"}; !slices.Equal(got, want) {
		t.Fatalf("zones %v, want %v", got, want)
	}
	for _, z := range rep.Zones {
		if slices.Contains(e.Allowed, z.ZoneID) {
			if z.Outcome != Rotated || teo.refreshes(z.ZoneID) != 1 {
				t.Errorf("%s: %s after %d refreshes: %s", z.ZoneID, z.Outcome, teo.refreshes(z.ZoneID), z.Error)
			}
			continue
		}
		if z.Outcome != Failed || z.KeyChanged || !strings.Contains(z.Error, "not in ZONE_IDS") || !strings.HasPrefix(z.Error, "key unchanged") {
			t.Errorf("refused zone %+v", z)
		}
		if z.Sinks == nil {
			t.Errorf("%s: nil sinks (reported as null)", z.ZoneID)
		}
	}
	for _, z := range []string{"zone-outside", "zone-y", "zone-b"} {
		if teo.asked(z) {
			t.Errorf("TEO was asked about %s", z)
		}
	}
	for _, d := range append(store.delivered(), hook.delivered()...) {
		if d.ZoneID != "zone-a" && d.ZoneID != "zone-c" {
			t.Errorf("%s reached a sink", d.ZoneID)
		}
	}
	for _, b := range store.begun() {
		if b.zone != "zone-a" && b.zone != "zone-c" {
			t.Errorf("%s was recorded", b.zone)
		}
	}
	if rep.OK {
		t.Error("a report with refused zones is ok")
	}
	noLeak(t, teo, rep, logs, []*hookSink{hook})

	// Results keep request order even when zones finish out of order:
	// zone-c's Describe waits until zone-a and zone-b have reached their
	// Inspect.
	teo = newFakeTEO("zone-a", "zone-b", "zone-c")
	var ab sync.WaitGroup
	ab.Add(2)
	abDone := make(chan struct{})
	go func() { ab.Wait(); close(abDone) }()
	teo.wait = func(ctx context.Context, op, zone string) error {
		if op == "describe" && zone == "zone-c" {
			select {
			case <-abDone:
			case <-ctx.Done():
			}
		}
		return nil
	}
	store = newStore()
	store.wait = func(_ context.Context, _, zone string) error {
		if zone != "zone-c" {
			ab.Done()
		}
		return nil
	}
	e, logs = newEngine(teo, []string{"zone-a", "zone-b", "zone-c"}, store)
	rep = e.Run(context.Background(), Request{Action: Check, Zones: []string{"zone-c", "zone-a", "zone-b"}})
	if got, want := zoneIDs(rep.Zones), []string{"zone-c", "zone-a", "zone-b"}; !slices.Equal(got, want) {
		t.Errorf("zones %v, want %v", got, want)
	}
	// No zones requested: every allowed zone, in configured order.
	store.wait = nil
	rep = e.Run(context.Background(), Request{Action: Check})
	if got := zoneIDs(rep.Zones); !slices.Equal(got, e.Allowed) {
		t.Errorf("zones %v, want %v", got, e.Allowed)
	}
	noLeak(t, teo, rep, logs, nil)
}

// TestWorkersBound: Workers bounds the zones in flight. Every Inspect waits
// for the test; the test lets one go only once the bound is reached, so an
// engine that ignores its bound has more Inspect calls in flight at once.
func TestWorkersBound(t *testing.T) {
	tests := []struct {
		action  Action
		workers int
		zones   int
		want    int
	}{
		{Check, 1, 5, 1},
		{Check, 3, 7, 3},
		{Sync, 2, 5, 0}, // sync reads no store: no Inspect at all
		{Rotate, 2, 6, 2},
		{Rotate, 4, 3, 2}, // the canary, then the two others
		{Check, 0, 10, DefaultWorkers},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s workers=%d zones=%d", tc.action, tc.workers, tc.zones), func(t *testing.T) {
			var zones []string
			for i := range tc.zones {
				zones = append(zones, fmt.Sprintf("zone-%02d", i+1))
			}
			teo := newFakeTEO(zones...)
			store := newStore()
			for _, z := range zones {
				store.seed(z, teo.key(z))
			}
			entered := make(chan struct{}, len(zones))
			release := make(chan struct{})
			stop := make(chan struct{})
			store.wait = func(ctx context.Context, op, _ string) error {
				if op != "inspect" {
					return nil
				}
				entered <- struct{}{}
				select {
				case <-release:
				case <-stop:
				}
				return nil
			}
			e, _ := newEngine(teo, zones, store)
			e.Workers = tc.workers
			done := make(chan Report, 1)
			go func() { done <- e.Run(context.Background(), Request{Action: tc.action}) }()
			defer close(stop)
			if tc.action != Sync {
				inFlight := 0
				guard := time.After(time.Minute) // only a guard against a hang
				for finished := 0; finished < len(zones); finished++ {
					want := min(max(tc.workers, 0), len(zones)-finished)
					if tc.workers == 0 {
						want = min(DefaultWorkers, len(zones)-finished)
					}
					if tc.action == Rotate && finished == 0 {
						want = 1 // the canary runs alone
					}
					for inFlight < want {
						select {
						case <-entered:
							inFlight++
						case <-guard:
							t.Fatalf("only %d Inspect calls in flight, want %d", inFlight, want)
						}
					}
					for range 100 {
						runtime.Gosched() // room for calls beyond the bound to show up
					}
					release <- struct{}{}
					inFlight--
				}
			}
			rep := <-done
			if !rep.OK || len(rep.Zones) != len(zones) {
				t.Fatalf("report %+v", rep)
			}
			store.mu.Lock()
			got := store.maxInspect
			store.mu.Unlock()
			if got != tc.want {
				t.Errorf("at most %d Inspect calls in flight, want %d", got, tc.want)
			}
		})
	}
}

func TestDeadlines(t *testing.T) {
	t.Run("already past", func(t *testing.T) {
		zones := []string{"zone-a", "zone-b", "zone-c"}
		teo := newFakeTEO(zones...)
		store, hook := newStore(), &hookSink{}
		e, logs := newEngine(teo, zones, store, hook)
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		for _, action := range []Action{Rotate, Sync, Check} {
			rep := e.Run(ctx, Request{Action: action})
			if rep.OK || len(rep.Zones) != 3 {
				t.Fatalf("%s: %+v", action, rep)
			}
			for _, z := range rep.Zones {
				if z.Outcome != Skipped || !strings.Contains(z.Error, "ran out of time") || !strings.HasPrefix(z.Error, "key unchanged") {
					t.Errorf("%s %s: %s (%s)", action, z.ZoneID, z.Outcome, z.Error)
				}
			}
			if action == Rotate && !strings.Contains(rep.Error, "DELIVERY_WINDOW") {
				t.Errorf("report error %q", rep.Error)
			}
			noLeak(t, teo, rep, logs, nil)
		}
		if n := teo.totalCalls(); n != 0 {
			t.Errorf("%d TEO calls", n)
		}
		if store.totalCalls() != 0 || len(hook.delivered()) != 0 || len(hook.failures()) != 0 {
			t.Error("a sink was used")
		}
	})
}

// TestDeliveryWindow: a zone is refreshed only with DELIVERY_WINDOW left
// before the deadline (less Margin); a run too short for any zone touches
// nothing and says so once, naming DELIVERY_WINDOW.
func TestDeliveryWindow(t *testing.T) {
	tests := []struct {
		name       string
		req        Request
		window     time.Duration // 0: the default
		timeout    time.Duration
		want       Outcome
		wantWindow string // in the zones' errors
	}{
		{name: "too short", req: Request{Action: Rotate}, timeout: 50 * time.Millisecond, want: Skipped, wantWindow: "5s"},
		{name: "too short, dry run", req: Request{Action: Rotate, DryRun: true}, timeout: 50 * time.Millisecond, want: Skipped, wantWindow: "5s"},
		{name: "shorter than a configured window", req: Request{Action: Rotate}, window: 2 * time.Hour, timeout: time.Hour,
			want: Skipped, wantWindow: "2h0m0s"},
		{name: "enough", req: Request{Action: Rotate}, timeout: 3 * time.Hour, want: Rotated},
		{name: "enough, dry run", req: Request{Action: Rotate, DryRun: true}, timeout: 3 * time.Hour, want: Planned},
		{name: "sync is not held back", req: Request{Action: Sync}, window: 2 * time.Hour, timeout: time.Hour, want: Synced},
		{name: "check is not held back", req: Request{Action: Check}, window: 2 * time.Hour, timeout: time.Hour, want: InSync},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			zones := []string{"zone-a", "zone-b", "zone-c"}
			teo := newFakeTEO(zones...)
			store, hook := newStore(), &hookSink{}
			for _, z := range zones {
				store.seed(z, teo.otherKey())
			}
			if tc.req.Action == Check {
				for _, z := range zones {
					store.seed(z, teo.key(z))
				}
			}
			e, logs := newEngine(teo, zones, store, hook)
			e.Window = tc.window
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			rep := e.Run(ctx, tc.req)
			if len(rep.Zones) != len(zones) || rep.OK != (tc.want != Skipped) {
				t.Fatalf("report %+v", rep)
			}
			for _, z := range rep.Zones {
				if z.Outcome != tc.want {
					t.Errorf("%s: %s (%s)", z.ZoneID, z.Outcome, z.Error)
				}
			}
			if tc.want != Skipped {
				if rep.Error != "" {
					t.Errorf("report error %q", rep.Error)
				}
				return
			}
			if !strings.Contains(rep.Error, "DELIVERY_WINDOW") || !strings.Contains(rep.Error, "function timeout") {
				t.Errorf("report error %q does not name DELIVERY_WINDOW", rep.Error)
			}
			for _, z := range rep.Zones {
				if !strings.HasPrefix(z.Error, "key unchanged: skipped: ") || z.KeyChanged || z.Sinks == nil {
					t.Errorf("%+v", z)
				}
				// The zone says why, unless the 50ms ran out before its turn.
				if !strings.Contains(z.Error, "DELIVERY_WINDOW is "+tc.wantWindow) && !strings.Contains(z.Error, "ran out of time") {
					t.Errorf("%s: error %q", z.ZoneID, z.Error)
				}
			}
			if n := teo.totalCalls(); n != 0 {
				t.Errorf("%d TEO calls", n)
			}
			if n := store.totalCalls(); n != 0 || len(hook.delivered()) != 0 || len(hook.failures()) != 0 {
				t.Errorf("%d store calls; a sink was used", n)
			}
			if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "zone-a skipped") {
				t.Errorf("Err = %v", err)
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook})
		})
	}
}

// TestCanary: the first zone of a rotation runs alone; a sink, or the
// confirming Describe, that fails for good there costs one refreshed zone,
// and the others are not refreshed, nor recorded.
func TestCanary(t *testing.T) {
	deliverErr := &apiErr{action: "Deliver", code: "HTTP503"}
	tests := []struct {
		name     string
		setup    func(teo *fakeTEO, store *storeSink, hook *hookSink)
		wantWhat string // named in the other zones' errors
	}{
		{name: "webhook failing", setup: func(_ *fakeTEO, _ *storeSink, h *hookSink) { h.deliverErr = deliverErr }, wantWhat: "hook"},
		{name: "store failing", setup: func(_ *fakeTEO, s *storeSink, _ *hookSink) { s.deliverErr = func(int) error { return deliverErr } },
			wantWhat: "store"},
		{name: "confirming Describe failing", setup: func(teo *fakeTEO, _ *storeSink, _ *hookSink) {
			teo.describeErr = func(string, int) error { return &apiErr{action: opDescribe, code: "UnauthorizedOperation"} }
		}, wantWhat: "confirming the live key with TEO"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var zones []string
			for i := range 8 {
				zones = append(zones, fmt.Sprintf("zone-%d", i+1))
			}
			teo := newFakeTEO(zones...)
			store, hook := newStore(), &hookSink{}
			for _, z := range zones {
				store.seed(z, teo.key(z))
			}
			tc.setup(teo, store, hook)
			e, logs := newEngine(teo, zones, store, hook)
			rep := e.Run(context.Background(), Request{Action: Rotate, RotationID: "rot-1"})
			if rep.OK || len(rep.Zones) != 8 {
				t.Fatalf("report %+v", rep)
			}
			if n := teo.totalRefreshes(); n != 1 || teo.refreshes("zone-1") != 1 {
				t.Errorf("%d refreshes, want 1 (the canary's)", n)
			}
			if z := rep.Zones[0]; z.Outcome != Failed || !z.KeyChanged || !strings.HasPrefix(z.Error, "key rotated, delivery incomplete") {
				t.Errorf("canary %+v", z)
			}
			for _, z := range rep.Zones[1:] {
				if z.Outcome != Failed || z.KeyChanged || !strings.HasPrefix(z.Error, "key unchanged") ||
					!strings.Contains(z.Error, tc.wantWhat+" is failing in this run") {
					t.Errorf("%s: %s changed=%v %q", z.ZoneID, z.Outcome, z.KeyChanged, z.Error)
				}
				if teo.key(z.ZoneID) != store.held(z.ZoneID) {
					t.Errorf("%s: the store lost the live key", z.ZoneID)
				}
			}
			if n := hook.failures(); len(n) != 8 {
				t.Errorf("%d notices, want one per failed zone", len(n))
			}
			// The others are read (a retried rotation would still finish
			// its delivery), then stop: nothing recorded, nothing written.
			if i, b := store.count("inspect"), store.count("begin"); i != 8 || b != 1 {
				t.Errorf("%d Inspect and %d Begin calls, want 8 and the canary's one", i, b)
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook})
		})
	}
}

// TestBrokenSinkStillFinishesRetriedDeliveries: a zone whose key an earlier
// attempt of the same rotation refreshed but did not deliver is delivered
// by the retry even after a sink failed for good in it: the healthy sinks
// get the live key, the zone is reported failed with its key rotated, and
// nothing is refreshed again.
func TestBrokenSinkStillFinishesRetriedDeliveries(t *testing.T) {
	teo := newFakeTEO("zone-1", "zone-2")
	store, hook := newStore(), &hookSink{}
	for _, z := range []string{"zone-1", "zone-2"} {
		store.seed(z, teo.key(z))
	}
	deliverErr := &apiErr{action: "Deliver", code: "InternalError"}
	store.deliverErr = func(n int) error {
		if n == 2 { // zone-2's delivery, after the canary's
			return deliverErr
		}
		return nil
	}
	e, logs := newEngine(teo, []string{"zone-1", "zone-2"}, store, hook)
	req := Request{Action: Rotate, RotationID: "rot-1"}
	if rep := e.Run(context.Background(), req); rep.Zones[1].Outcome != Failed || !rep.Zones[1].KeyChanged {
		t.Fatalf("first attempt: %+v", rep.Zones)
	}
	store.mu.Lock()
	store.deliverErr = nil
	store.mu.Unlock()
	hook.mu.Lock()
	hook.deliverErr = &apiErr{action: "Deliver", code: "HTTP503"} // breaks at the canary this time
	hook.mu.Unlock()

	rep := e.Run(context.Background(), req)
	z := rep.Zones[1]
	if z.Outcome != Failed || !z.KeyChanged || !strings.HasPrefix(z.Error, "key rotated, delivery incomplete") {
		t.Errorf("retry, zone-2: %+v", z)
	}
	if store.held("zone-2") != teo.key("zone-2") {
		t.Error("the store did not get zone-2's live key")
	}
	if teo.refreshes("zone-1") != 1 || teo.refreshes("zone-2") != 1 {
		t.Errorf("refreshes: zone-1 %d, zone-2 %d; want one each", teo.refreshes("zone-1"), teo.refreshes("zone-2"))
	}
	noLeak(t, teo, rep, logs, []*hookSink{hook})
}

// TestRateLimitNoTime: a call refused by the rate limiter because its slot
// would come too late (ratelimit.ErrNoTime) is lack of time, not a failure:
// a refresh so refused skips the zone without a Describe to judge it, and a
// delivery so refused does not stop the other zones' refreshes. The refresh
// is told to be sent DELIVERY_WINDOW before the end of the working time.
func TestRateLimitNoTime(t *testing.T) {
	noTime := fmt.Errorf("tcapi: %w", ratelimit.ErrNoTime)
	t.Run("refresh", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		var sendBy time.Time
		var hasSendBy bool
		teo.wait = func(ctx context.Context, op, _ string) error {
			if op == "refresh" {
				sendBy, hasSendBy = ratelimit.SendBy(ctx)
				return noTime
			}
			return nil
		}
		store, hook := newStore().seed("zone-a", teo.key("zone-a")), &hookSink{}
		e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
		deadline := time.Now().Add(3 * time.Hour)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		rep := e.Run(ctx, Request{Action: Rotate})
		z := rep.Zones[0]
		if z.Outcome != Skipped || z.KeyChanged || !strings.HasPrefix(z.Error, "key unchanged: skipped: ") {
			t.Fatalf("%+v", z)
		}
		if teo.refreshes("zone-a") != 1 || teo.describes("zone-a") != 0 {
			t.Errorf("%d refreshes, %d Describes", teo.refreshes("zone-a"), teo.describes("zone-a"))
		}
		if want := deadline.Add(-e.Margin - DefaultWindow); !hasSendBy || !sendBy.Equal(want) {
			t.Errorf("send-by %v (%v), want %v", sendBy, hasSendBy, want)
		}
		if len(hook.failures()) != 0 || store.count("deliver") != 0 {
			t.Error("a skipped zone was delivered or announced")
		}
		noLeak(t, teo, rep, logs, []*hookSink{hook})
	})
	t.Run("delivery", func(t *testing.T) {
		zones := []string{"zone-1", "zone-2", "zone-3"}
		teo := newFakeTEO(zones...)
		store := newStore()
		for _, z := range zones {
			store.seed(z, teo.key(z))
		}
		store.deliverErr = func(n int) error {
			if n == 1 { // the canary's
				return noTime
			}
			return nil
		}
		e, _ := newEngine(teo, zones, store)
		rep := e.Run(context.Background(), Request{Action: Rotate})
		if z := rep.Zones[0]; z.Outcome != Failed || !z.KeyChanged {
			t.Errorf("canary %+v", z)
		}
		for _, z := range rep.Zones[1:] {
			if z.Outcome != Rotated {
				t.Errorf("%s: %s (%s)", z.ZoneID, z.Outcome, z.Error)
			}
		}
	})
}

// TestCanaryRunsAlone: with every sink healthy, the first zone's rotation
// completes (confirming Describe included) before any other zone starts.
func TestCanaryRunsAlone(t *testing.T) {
	zones := []string{"zone-1", "zone-2", "zone-3", "zone-4"}
	tr := &trace{}
	teo := newFakeTEO(zones...)
	teo.trace = tr
	store, hook := newStore(), &hookSink{trace: tr}
	store.trace = tr
	for _, z := range zones {
		store.seed(z, teo.key(z))
	}
	e, _ := newEngine(teo, append([]string{"zone-0"}, zones...), store, hook)
	// A refused zone first: it is not the canary.
	rep := e.Run(context.Background(), Request{Action: Rotate, Zones: append([]string{"zone-x"}, zones...)})
	for _, z := range rep.Zones[1:] {
		if z.Outcome != Rotated {
			t.Fatalf("%+v", z)
		}
	}
	ev := tr.events()
	var canary, others []string
	firstOther := -1
	for i, x := range ev {
		if x.zone == "zone-1" {
			canary = append(canary, x.op)
			if firstOther >= 0 {
				t.Errorf("zone-1 %s after %s of %s", x.op, ev[firstOther].op, ev[firstOther].zone)
			}
		} else {
			others = append(others, x.zone)
			if firstOther < 0 {
				firstOther = i
			}
		}
	}
	// Both sinks are delivered at once: their order is free.
	if len(canary) != 6 || !slices.Equal(canary[:3], []string{"inspect", "begin", "refresh"}) || canary[5] != "describe" {
		t.Errorf("canary calls %v", canary)
	}
	var refreshes, inspects []string
	for _, x := range ev {
		switch x.op {
		case "refresh":
			refreshes = append(refreshes, x.zone)
		case "inspect":
			inspects = append(inspects, x.zone)
		}
	}
	if len(refreshes) != 4 || refreshes[0] != "zone-1" || len(inspects) != 4 || inspects[0] != "zone-1" {
		t.Errorf("refreshes %v, inspects %v", refreshes, inspects)
	}
	if len(others) != 3*6 {
		t.Errorf("%d calls for the other zones", len(others))
	}
}

func TestFailureNotice(t *testing.T) {
	deliverErr := &apiErr{action: "UpdateSecret", code: "InternalError", retryable: true}
	tests := []struct {
		name        string
		setup       func(store *storeSink, teo *fakeTEO)
		wantChanged bool
		wantAPI     string
		wantCode    string
		wantRemedy  string
	}{
		{name: "delivery fails after the refresh",
			setup:       func(s *storeSink, _ *fakeTEO) { s.deliverErr = func(int) error { return deliverErr } },
			wantChanged: true, wantAPI: "UpdateSecret", wantCode: "InternalError", wantRemedy: "sync --zones zone-a"},
		{name: "inspect fails",
			setup: func(s *storeSink, _ *fakeTEO) {
				s.inspectErr = &apiErr{action: "DescribeSecret", code: "ResourceUnavailable.ResourcePendingDeleted"}
			},
			wantAPI: "DescribeSecret", wantCode: "ResourceUnavailable.ResourcePendingDeleted", wantRemedy: "key is unchanged"},
		{name: "confirming Describe fails",
			setup: func(_ *storeSink, teo *fakeTEO) {
				teo.describeErr = func(string, int) error {
					return &apiErr{action: opDescribe, code: "RequestLimitExceeded", retryable: true}
				}
			},
			wantChanged: true, wantAPI: opDescribe, wantCode: "RequestLimitExceeded", wantRemedy: "sync"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			store, hook := newStore().seed("zone-a", teo.key("zone-a")), &hookSink{}
			tc.setup(store, teo)
			e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
			rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-n", RotationID: "rot-n"})
			z := rep.Zones[0]
			if z.Outcome != Failed || z.KeyChanged != tc.wantChanged || z.APIAction != tc.wantAPI || z.Code != tc.wantCode {
				t.Fatalf("%+v", z)
			}
			prefix := "key unchanged: "
			if tc.wantChanged {
				prefix = "key rotated, delivery incomplete: run sync: "
			}
			if !strings.HasPrefix(z.Error, prefix) {
				t.Errorf("error %q does not start with %q", z.Error, prefix)
			}
			n := hook.noticesSent()
			if len(n) != 1 {
				t.Fatalf("%d notices", len(n))
			}
			f := n[0].f
			want := sink.Failure{ZoneID: "zone-a", Action: "rotate", RotationID: "rot-n", KeyChanged: tc.wantChanged,
				APIAction: tc.wantAPI, Code: tc.wantCode, Reason: z.Error, Remedy: f.Remedy, Fingerprint: z.Fingerprint}
			if f != want {
				t.Errorf("notice %+v, want %+v", f, want)
			}
			if !strings.Contains(f.Remedy, tc.wantRemedy) {
				t.Errorf("remedy %q lacks %q", f.Remedy, tc.wantRemedy)
			}
			if n[0].ctxErr != nil || !n[0].hasDeadline {
				t.Errorf("notice context: err %v, deadline %v", n[0].ctxErr, n[0].hasDeadline)
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook})
		})
	}
}

// TestNoticeContext: a zone that failed because the run's time ran out is
// still announced, with a context that is not done and that ends within
// the margin, before the invocation's deadline.
func TestNoticeContext(t *testing.T) {
	t.Run("deadline passed", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		store, hook := newStore().seed("zone-a", teo.key("zone-a")), &hookSink{}
		store.wait = untilDone("deliver") // the store answers only when the run's time is up
		e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
		e.Window, e.Margin = 50*time.Millisecond, 400*time.Millisecond
		deadline := time.Now().Add(600 * time.Millisecond)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		rep := e.Run(ctx, Request{Action: Rotate})
		z := rep.Zones[0]
		if z.Outcome != Failed || !z.KeyChanged || z.Code != "DeadlineExceeded" {
			t.Fatalf("%+v", z)
		}
		n := hook.noticesSent()
		if len(n) != 1 {
			t.Fatalf("%d notices", len(n))
		}
		if n[0].ctxErr != nil {
			t.Errorf("the notice got a context already done: %v", n[0].ctxErr)
		}
		workEnd := deadline.Add(-e.Margin)
		if !n[0].hasDeadline || !n[0].deadline.After(workEnd) || n[0].deadline.After(deadline) {
			t.Errorf("notice deadline %v, want in (%v, %v]", n[0].deadline, workEnd, deadline)
		}
		if !n[0].at.After(workEnd) && !n[0].at.Equal(workEnd) {
			t.Errorf("notice sent before the run's time was up")
		}
		if !n[0].f.KeyChanged || !strings.Contains(n[0].f.Remedy, "sync") {
			t.Errorf("notice %+v", n[0].f)
		}
		noLeak(t, teo, rep, logs, []*hookSink{hook})
	})
	t.Run("cancelled", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		store, hook := newStore().seed("zone-a", teo.key("zone-a")), &hookSink{}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		store.wait = func(ctx context.Context, op, _ string) error {
			if op != "deliver" {
				return nil
			}
			cancel()
			return fmt.Errorf("deliver: %w", ctx.Err())
		}
		e, _ := newEngine(teo, []string{"zone-a"}, store, hook)
		e.Margin = time.Hour
		z := e.Run(ctx, Request{Action: Rotate}).Zones[0]
		if z.Outcome != Failed || !z.KeyChanged || z.Code != "Canceled" {
			t.Fatalf("%+v", z)
		}
		n := hook.noticesSent()
		if len(n) != 1 || n[0].ctxErr != nil || !n[0].hasDeadline || n[0].deadline.After(time.Now().Add(e.Margin)) {
			t.Errorf("notices %+v", n)
		}
	})
}

// TestOutOfTimeBeforeRefresh: a zone whose step before the refresh fails
// because the run's context ran out is skipped, not failed: its key is
// unchanged and nobody needs to act.
func TestOutOfTimeBeforeRefresh(t *testing.T) {
	tests := []struct {
		name     string
		exists   bool
		store    waitFunc
		teo      waitFunc
		wantSink bool // the store's failure is reported
	}{
		{name: "inspect", exists: true, store: untilDone("inspect"), wantSink: true},
		{name: "begin", exists: true, store: untilDone("begin"), wantSink: true},
		{name: "describe before the refresh", teo: untilDone("describe")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			teo.wait = tc.teo
			store, hook := newStore(), &hookSink{}
			if tc.exists {
				store.seed("zone-a", teo.key("zone-a"))
			}
			store.wait = tc.store
			e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
			e.Window = time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			rep := e.Run(ctx, Request{Action: Rotate})
			z := rep.Zones[0]
			if z.Outcome != Skipped || z.KeyChanged || !strings.HasPrefix(z.Error, "key unchanged: skipped: ") ||
				!strings.Contains(z.Error, "ran out of time before the refresh") {
				t.Fatalf("%+v", z)
			}
			if rep.Error != "" || rep.OK {
				t.Errorf("report %+v", rep)
			}
			if tc.wantSink && (len(z.Sinks) != 1 || z.Sinks[0].Outcome != sink.Failed) {
				t.Errorf("sinks %+v", z.Sinks)
			}
			if teo.refreshes("zone-a") != 0 || store.count("deliver") != 0 || len(hook.delivered()) != 0 {
				t.Error("refreshed or delivered")
			}
			if len(hook.failures()) != 0 {
				t.Error("a failure notice for a skipped zone")
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook})
		})
	}
}

func TestUnknownAction(t *testing.T) {
	teo := newFakeTEO("zone-a")
	store := newStore()
	e, _ := newEngine(teo, []string{"zone-a"}, store)
	rep := e.Run(context.Background(), Request{Action: "delete"})
	if z := rep.Zones[0]; rep.OK || z.Outcome != Failed || z.Sinks == nil || z.ZoneID != "zone-a" ||
		!strings.Contains(z.Error, `unknown action "delete"`) || teo.totalCalls() != 0 || store.totalCalls() != 0 {
		t.Errorf("%+v", z)
	}
	if rep.RotationID != "" {
		t.Errorf("rotation id %q for a non-rotation", rep.RotationID)
	}
}

func TestRotationIDs(t *testing.T) {
	teo := newFakeTEO("zone-a")
	hook := &hookSink{}
	store := newStore()
	e, _ := newEngine(teo, []string{"zone-a"}, store, hook)
	long := strings.Repeat("r", 300)
	rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-1", RotationID: long})
	if rep.RotationID != sink.NormalizeRotationID(long) || !strings.HasPrefix(rep.RotationID, "h:") {
		t.Errorf("rotation id %q", rep.RotationID)
	}
	if d := hook.delivered(); len(d) != 1 || d[0].RotationID != rep.RotationID || d[0].Action != "rotate" {
		t.Errorf("deliveries %+v", d)
	}
	if b := store.begun(); len(b) != 1 || b[0].rec.RotationID != rep.RotationID {
		t.Errorf("begins %+v", b)
	}
	rep = e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-2"})
	if rep.RotationID != "req-2" || rep.RequestID != "req-2" {
		t.Errorf("without a rotation id: %q", rep.RotationID)
	}
	if b := store.begun(); len(b) != 2 || b[1].rec.RotationID != "req-2" {
		t.Errorf("begins %+v", b)
	}
	if teo.refreshes("zone-a") != 2 {
		t.Errorf("%d refreshes for two rotations", teo.refreshes("zone-a"))
	}
}
