package rotate

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// stagerSink is a store that can hold a pending key (sink.Stager).
type stagerSink struct {
	*storeSink
	pmu     sync.Mutex
	pending map[string]string
	stages  int
	promote int
}

func (s *stagerSink) Stage(ctx context.Context, zone string, h sink.Holding, rec sink.Record, key, live secret.Key) error {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.stages++
	s.pending[zone] = key.Reveal()
	s.storeSink.setRecord(zone, rec)
	if !h.Exists {
		s.storeSink.seed(zone, live.Reveal())
	}
	return nil
}
func (s *stagerSink) Pending(ctx context.Context, zone string) (secret.Key, bool, error) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	k, ok := s.pending[zone]
	return secret.New(k), ok, nil
}
func (s *stagerSink) Promote(ctx context.Context, zone string, key secret.Key, done sink.Record) (sink.Outcome, error) {
	s.pmu.Lock()
	s.promote++
	delete(s.pending, zone)
	s.pmu.Unlock()
	s.storeSink.mu.Lock()
	s.storeSink.keys[zone] = key.Reveal()
	s.storeSink.mu.Unlock()
	if done.RotationID != "" {
		s.storeSink.setRecord(zone, done)
	}
	return sink.OK, nil
}

func (s *stagerSink) stagedCount() int {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return s.stages
}

func (f *fakeTEO) modifies() int {
	n := 0
	for _, e := range f.trace.events() {
		if e.op == "modify" {
			n++
		}
	}
	return n
}

// zone-2: own record, pending key stored but not live (case found);

// TestStagedResumeStopsForBrokenStep: in staged mode, once a sink failed
// for good in a run, a zone with its own record of the same rotation (a
// pending key stored but not live, or a record without a pending key) does
// not make a key live nor stage a new one: it fails for the broken step,
// its key unchanged.
func TestStagedResumeStopsForBrokenStep(t *testing.T) {
	teo := newFakeTEO("zone-1", "zone-2", "zone-3")
	teo.trace = &trace{}
	st := &stagerSink{storeSink: newStore(), pending: map[string]string{}}
	for _, z := range []string{"zone-1", "zone-2", "zone-3"} {
		st.seed(z, teo.key(z))
	}
	before := map[string]string{"zone-2": teo.key("zone-2"), "zone-3": teo.key("zone-3")}
	pending := randomKey()
	st.setRecord("zone-2", sink.Record{RotationID: "rot-1", State: sink.Pending, From: fp(teo.key("zone-2")), To: fp(pending)})
	st.pending["zone-2"] = pending
	st.setRecord("zone-3", sink.Record{RotationID: "rot-1", State: sink.Pending, From: fp(teo.key("zone-3")), To: fp(randomKey())})
	hook := &hookSink{deliverErr: &apiErr{action: "Deliver", code: "HTTP503"}} // breaks at the canary, zone-1
	e, logs := newEngine(teo, []string{"zone-1", "zone-2", "zone-3"}, st, hook)
	e.Staged = true

	rep := e.Run(context.Background(), Request{Action: Rotate, RotationID: "rot-1"})
	if z := rep.Zones[0]; z.Outcome != Failed || !z.KeyChanged {
		t.Errorf("canary: %+v", z)
	}
	for _, z := range rep.Zones[1:] {
		if z.Outcome != Failed || z.KeyChanged || !strings.HasPrefix(z.Error, "key unchanged: hook is failing in this run") {
			t.Errorf("%s: %s changed=%v %q", z.ZoneID, z.Outcome, z.KeyChanged, z.Error)
		}
		if teo.key(z.ZoneID) != before[z.ZoneID] {
			t.Errorf("%s: its key changed", z.ZoneID)
		}
	}
	if m, s := teo.modifies(), st.stagedCount(); m != 1 || s != 1 {
		t.Errorf("%d Modify and %d Stage calls, want the canary's one each", m, s)
	}
	noLeak(t, teo, rep, logs, []*hookSink{hook})
}

// TestStagedRetryAfterTheSet: a retried staged rotation whose key an
// earlier attempt already made live finishes with two Describes: its read
// of the live key, which is the test, and the one confirming the delivery
// (no third one to test again).
func TestStagedRetryAfterTheSet(t *testing.T) {
	teo := newFakeTEO("zone-1")
	teo.trace = &trace{}
	st := &stagerSink{storeSink: newStore(), pending: map[string]string{}}
	old := teo.key("zone-1")
	st.seed("zone-1", old)
	newKey := randomKey()
	teo.setKey("zone-1", newKey) // the earlier attempt's Modify
	st.setRecord("zone-1", sink.Record{RotationID: "rot-1", State: sink.Pending, From: fp(old), To: fp(newKey)})
	st.pending["zone-1"] = newKey
	e, logs := newEngine(teo, []string{"zone-1"}, st)
	e.Staged = true

	rep := e.Run(context.Background(), Request{Action: Rotate, RotationID: "rot-1"})
	if z := rep.Zones[0]; z.Outcome != Rotated || !z.Redelivered || st.held("zone-1") != newKey {
		t.Errorf("retry: %+v, store holds the live key: %v", z, st.held("zone-1") == newKey)
	}
	if n := teo.describes("zone-1"); n != 2 {
		t.Errorf("%d Describe calls, want 2", n)
	}
	if m := teo.modifies(); m != 0 {
		t.Errorf("%d Modify calls on a retry after the set", m)
	}
	noLeak(t, teo, rep, logs, nil)
}
