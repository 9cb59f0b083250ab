package rotate

import (
	"context"
	"strings"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

func TestSync(t *testing.T) {
	t.Run("store sinks only", func(t *testing.T) {
		teo := newFakeTEO("zone-a", "zone-b")
		store := newStore().seed("zone-a", teo.otherKey())
		e, logs := newEngine(teo, []string{"zone-a", "zone-b"}, store)
		rep := e.Run(context.Background(), Request{Action: Sync})
		if !rep.OK || rep.RotationID != "" || rep.Error != "" {
			t.Fatalf("%+v", rep)
		}
		for _, z := range rep.Zones {
			if z.Outcome != Synced || z.KeyChanged || store.held(z.ZoneID) != teo.key(z.ZoneID) || z.Fingerprint != fp(teo.key(z.ZoneID)) {
				t.Errorf("%+v", z)
			}
			if len(z.Sinks) != 1 || z.Sinks[0].Outcome != sink.OK {
				t.Errorf("sinks %+v", z.Sinks)
			}
		}
		for _, d := range store.delivered() {
			if d.Fresh || d.Action != "sync" {
				t.Errorf("sync delivery %+v", d)
			}
		}
		writes := store.written()
		rep = e.Run(context.Background(), Request{Action: Sync})
		for _, z := range rep.Zones {
			if z.Outcome != InSync || z.Sinks[0].Outcome != sink.Unchanged {
				t.Errorf("second sync: %+v", z)
			}
		}
		if w := store.written(); w != writes || store.count("begin") != 0 || store.count("inspect") != 0 {
			t.Errorf("second sync wrote %d, or began a record", w-writes)
		}
		if teo.totalRefreshes() != 0 {
			t.Error("sync refreshed")
		}
		if n := teo.describes("zone-a"); n != 4 {
			t.Errorf("%d Describes for two syncs, want 2 each (the live key, the confirmation)", n)
		}
		noLeak(t, teo, rep, logs, nil)
	})
	t.Run("a sink that cannot be read is always re-sent", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		store, hook := newStore().seed("zone-a", teo.key("zone-a")), &hookSink{}
		e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
		for i := range 2 {
			rep := e.Run(context.Background(), Request{Action: Sync})
			if z := rep.Zones[0]; z.Outcome != Synced {
				t.Errorf("sync %d: %+v", i+1, z)
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook})
		}
		if len(hook.delivered()) != 2 {
			t.Errorf("%d webhook deliveries", len(hook.delivered()))
		}
	})
	t.Run("a zone without a key", func(t *testing.T) {
		teo := newFakeTEO()
		teo.setKey("zone-a", "")
		store := newStore()
		e, _ := newEngine(teo, []string{"zone-a"}, store)
		z := e.Run(context.Background(), Request{Action: Sync}).Zones[0]
		if z.Outcome != Failed || !strings.Contains(z.Error, "no multi-path gateway key") {
			t.Errorf("%+v", z)
		}
		if store.count("deliver") != 0 {
			t.Error("delivered an empty key")
		}
	})
	t.Run("delivery failure", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		store, hook := newStore(), &hookSink{}
		store.deliverErr = func(int) error { return &apiErr{action: "UpdateSecret", code: "UnauthorizedOperation"} }
		e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
		rep := e.Run(context.Background(), Request{Action: Sync})
		z := rep.Zones[0]
		if z.Outcome != Failed || z.KeyChanged || z.Code != "UnauthorizedOperation" || z.APIAction != "UpdateSecret" {
			t.Errorf("%+v", z)
		}
		if n := hook.failures(); len(n) != 1 || n[0].Action != "sync" || n[0].KeyChanged || !strings.Contains(n[0].Remedy, "key is unchanged") {
			t.Errorf("notices %+v", n)
		}
		noLeak(t, teo, rep, logs, []*hookSink{hook})
	})
	t.Run("Describe fails", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		teo.describeErr = func(string, int) error { return &apiErr{action: opDescribe, code: "AuthFailure.SignatureFailure"} }
		store := newStore()
		e, _ := newEngine(teo, []string{"zone-a"}, store)
		z := e.Run(context.Background(), Request{Action: Sync}).Zones[0]
		if z.Outcome != Failed || z.Code != "AuthFailure.SignatureFailure" || store.totalCalls() != 0 {
			t.Errorf("%+v", z)
		}
	})
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		held      string // "" none, "live", "stale"
		exists    bool
		inspect   error
		want      Outcome
		wantStore sink.Outcome
		wantError string
	}{
		{name: "in sync", held: "live", exists: true, want: InSync, wantStore: sink.OK},
		{name: "other key", held: "stale", exists: true, want: Drifted, wantStore: sink.Drift, wantError: "holds sha256:"},
		{name: "no key", exists: true, want: Drifted, wantStore: sink.Drift, wantError: "holds no key"},
		{name: "no secret", want: Drifted, wantStore: sink.Drift, wantError: "holds no key"},
		{name: "unreadable", inspect: &apiErr{action: "GetSecretValue", code: "UnauthorizedOperation"}, want: Failed, wantStore: sink.Failed,
			wantError: "UnauthorizedOperation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			store, hook := newStore(), &hookSink{}
			switch tc.held {
			case "live":
				store.seed("zone-a", teo.key("zone-a"))
			case "stale":
				store.seed("zone-a", teo.otherKey())
			default:
				if tc.exists {
					store.seed("zone-a", "")
				}
			}
			store.inspectErr = tc.inspect
			e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
			rep := e.Run(context.Background(), Request{Action: Check})
			z := rep.Zones[0]
			if z.Outcome != tc.want || rep.OK != (tc.want == InSync) {
				t.Fatalf("%+v", z)
			}
			if len(z.Sinks) != 2 || z.Sinks[0].Name != "store" || z.Sinks[0].Outcome != tc.wantStore ||
				z.Sinks[1].Name != "hook" || z.Sinks[1].Outcome != sink.Skipped {
				t.Errorf("sinks %+v", z.Sinks)
			}
			if !strings.Contains(z.Sinks[0].Error, tc.wantError) {
				t.Errorf("store error %q lacks %q", z.Sinks[0].Error, tc.wantError)
			}
			if tc.want == Drifted && !strings.Contains(z.Error, "run sync") {
				t.Errorf("error %q", z.Error)
			}
			if tc.inspect != nil && (z.Code != "UnauthorizedOperation" || z.APIAction != "GetSecretValue") {
				t.Errorf("%+v", z)
			}
			if store.count("begin")+store.count("deliver") != 0 || len(hook.delivered()) != 0 || teo.totalRefreshes() != 0 {
				t.Error("check wrote")
			}
			if store.count("inspect") != 1 || teo.describes("zone-a") != 1 {
				t.Errorf("%d Inspect, %d Describe calls", store.count("inspect"), teo.describes("zone-a"))
			}
			if len(hook.failures()) != 0 {
				t.Error("check sent a failure notice")
			}
			if z.Fingerprint != fp(teo.key("zone-a")) {
				t.Errorf("fingerprint %q", z.Fingerprint)
			}
			noLeak(t, teo, rep, logs, []*hookSink{hook}, z.Sinks[0].Error)
		})
	}
	t.Run("Describe fails", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		teo.describeErr = func(string, int) error { return &apiErr{action: opDescribe, code: "AuthFailure.SignatureFailure"} }
		e, _ := newEngine(teo, []string{"zone-a"}, newStore())
		z := e.Run(context.Background(), Request{Action: Check}).Zones[0]
		if z.Outcome != Failed || z.Code != "AuthFailure.SignatureFailure" || z.APIAction != opDescribe {
			t.Errorf("%+v", z)
		}
	})
}
