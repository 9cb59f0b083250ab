package rotate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

const (
	opRefresh  = "RefreshMultiPathGatewaySecretKey"
	opDescribe = "DescribeMultiPathGatewaySecretKey"
)

// apiErr is a cloud API failure as the engine sees one: it names its action
// and code, and says whether another attempt may succeed.
type apiErr struct {
	action, code string
	retryable    bool
}

func (e *apiErr) Error() string     { return e.action + ": " + e.code }
func (e *apiErr) Operation() string { return e.action }
func (e *apiErr) ErrorCode() string { return e.code }
func (e *apiErr) Retryable() bool   { return e.retryable }

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// fakeTEO holds one key per zone. Its hooks run under its lock.
type fakeTEO struct {
	mu   sync.Mutex
	cond *sync.Cond
	keys map[string]string
	all  []string // every key it ever held, for the leak check

	refreshCalls  map[string]int
	describeCalls map[string]int
	describesDone map[string]int
	seen          map[string]bool // zones passed to any call
	inFlight      int
	maxInFlight   int
	started       int

	// refreshErr, if set, decides the n-th Refresh of zone: lost means the
	// key is replaced although the error is returned (the answer lost).
	refreshErr func(zone string, n int) (err error, lost bool)
	// describeErr, if set, fails the n-th Describe of zone.
	describeErr func(zone string, n int) error
	// onDescribe runs before the n-th Describe of zone answers; it may
	// replace the key (with f.replaceLocked).
	onDescribe func(f *fakeTEO, zone string, n int)
	// proceed, if set, holds a Describe until it reports true (checked
	// whenever a call starts or ends).
	proceed func(f *fakeTEO, zone string) bool
	// gated holds every Describe until the test hands it a token.
	gated  bool
	tokens int
}

func newFakeTEO(zones ...string) *fakeTEO {
	f := &fakeTEO{keys: map[string]string{}, refreshCalls: map[string]int{}, describeCalls: map[string]int{},
		describesDone: map[string]int{}, seen: map[string]bool{}}
	f.cond = sync.NewCond(&f.mu)
	for _, z := range zones {
		f.replaceLocked(z)
	}
	return f
}

func (f *fakeTEO) replaceLocked(zone string) string {
	k := randomKey()
	f.keys[zone] = k
	f.all = append(f.all, k)
	return k
}

func (f *fakeTEO) enterLocked(zone string) {
	f.seen[zone] = true
	f.inFlight++
	f.started++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.cond.Broadcast()
}

func (f *fakeTEO) leaveLocked() {
	f.inFlight--
	f.cond.Broadcast()
}

func (f *fakeTEO) Describe(ctx context.Context, zone string) (secret.Key, error) {
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	})
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enterLocked(zone)
	defer f.leaveLocked()
	f.describeCalls[zone]++
	n := f.describeCalls[zone]
	for f.proceed != nil && !f.proceed(f, zone) && ctx.Err() == nil {
		f.cond.Wait()
	}
	for f.gated && f.tokens == 0 && ctx.Err() == nil {
		f.cond.Wait()
	}
	if f.gated && f.tokens > 0 {
		f.tokens--
	}
	defer func() { f.describesDone[zone]++ }()
	if f.describeErr != nil {
		if err := f.describeErr(zone, n); err != nil {
			return secret.Key{}, err
		}
	}
	if f.onDescribe != nil {
		f.onDescribe(f, zone, n)
	}
	k, ok := f.keys[zone]
	if !ok {
		return secret.Key{}, &apiErr{action: opDescribe, code: "ResourceNotFound.ZoneNotFound"}
	}
	return secret.New(k), nil
}

func (f *fakeTEO) Refresh(ctx context.Context, zone string) (secret.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enterLocked(zone)
	defer f.leaveLocked()
	f.refreshCalls[zone]++
	if f.refreshErr != nil {
		if err, lost := f.refreshErr(zone, f.refreshCalls[zone]); err != nil {
			if lost {
				f.replaceLocked(zone)
			}
			return secret.Key{}, err
		}
	}
	if _, ok := f.keys[zone]; !ok {
		return secret.Key{}, &apiErr{action: opRefresh, code: "ResourceNotFound.ZoneNotFound"}
	}
	return secret.New(f.replaceLocked(zone)), nil
}

func (f *fakeTEO) key(zone string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[zone]
}

func (f *fakeTEO) setKey(zone, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[zone] = key
	f.all = append(f.all, key)
}

func (f *fakeTEO) refreshes(zone string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshCalls[zone]
}

func (f *fakeTEO) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started
}

func (f *fakeTEO) keysEverHeld() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.all)
}

// storeSink is an in-memory secret store: a Reader and a Journal.
type storeSink struct {
	name   string
	budget time.Duration

	mu         sync.Mutex
	keys       map[string]string
	records    map[string]sink.Record
	deliveries []sink.Delivery
	writes     int
	saves      []sink.Record

	preflightErr error
	readErr      error
	loadErr      error
	saveErr      error
	// deliverErr, if set, fails the n-th Deliver (1-based).
	deliverErr func(n int) error
}

func newStore() *storeSink {
	return &storeSink{name: "store", keys: map[string]string{}, records: map[string]sink.Record{}}
}

func (s *storeSink) Name() string                            { return s.name }
func (s *storeSink) Budget() time.Duration                   { return s.budget }
func (s *storeSink) Preflight(context.Context, string) error { return s.preflightErr }

func (s *storeSink) Deliver(_ context.Context, d sink.Delivery) (sink.Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
	if s.deliverErr != nil {
		if err := s.deliverErr(len(s.deliveries)); err != nil {
			return sink.Failed, err
		}
	}
	if k, ok := s.keys[d.ZoneID]; ok && k == d.Key.Reveal() {
		return sink.Unchanged, nil
	}
	s.keys[d.ZoneID] = d.Key.Reveal()
	s.writes++
	return sink.OK, nil
}

func (s *storeSink) Read(_ context.Context, zone string) (secret.Key, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr != nil {
		return secret.Key{}, false, s.readErr
	}
	k, ok := s.keys[zone]
	return secret.New(k), ok, nil
}

func (s *storeSink) LoadRecord(_ context.Context, zone string) (sink.Record, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadErr != nil {
		return sink.Record{}, false, s.loadErr
	}
	r, ok := s.records[zone]
	return r, ok, nil
}

func (s *storeSink) SaveRecord(_ context.Context, zone string, rec sink.Record, current secret.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveErr != nil {
		return s.saveErr
	}
	s.records[zone] = rec
	s.saves = append(s.saves, rec)
	if _, ok := s.keys[zone]; !ok && !current.IsZero() {
		s.keys[zone] = current.Reveal()
	}
	return nil
}

func (s *storeSink) held(zone string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[zone]
}

func (s *storeSink) counts() (deliveries, writes, saves int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.deliveries), s.writes, len(s.saves)
}

// hookSink cannot be read back and announces failures, like a webhook.
type hookSink struct {
	mu         sync.Mutex
	deliveries []sink.Delivery
	failures   []sink.Failure
	deliverErr error
}

func (h *hookSink) Name() string          { return "hook" }
func (h *hookSink) Budget() time.Duration { return time.Second }

func (h *hookSink) Deliver(_ context.Context, d sink.Delivery) (sink.Outcome, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliveries = append(h.deliveries, d)
	if h.deliverErr != nil {
		return sink.Failed, h.deliverErr
	}
	return sink.OK, nil
}

func (h *hookSink) NotifyFailure(_ context.Context, f sink.Failure) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, f)
	return nil
}

func (h *hookSink) delivered() []sink.Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.deliveries)
}

func (h *hookSink) notices() []sink.Failure {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.failures)
}

var _ interface {
	sink.Reader
	sink.Journal
} = (*storeSink)(nil)
var _ interface {
	sink.Sink
	sink.Notifier
} = (*hookSink)(nil)

// lockedBuffer collects log lines from concurrent zones.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newEngine(teo *fakeTEO, allowed []string, sinks ...sink.Sink) (*Engine, *lockedBuffer) {
	logs := &lockedBuffer{}
	return &Engine{
		Allowed: allowed, TEO: teo, Sinks: sinks,
		CallBudget:   time.Second,
		Margin:       time.Millisecond,
		RefreshRetry: retry.Policy{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond},
		Logger:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, logs
}

// noLeak fails if any key the fake ever held shows in the report or logs.
func noLeak(t *testing.T, teo *fakeTEO, rep Report, logs *lockedBuffer, extra ...string) {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	outs := append([]string{string(b), logs.String()}, extra...)
	if e := rep.Err(); e != nil {
		outs = append(outs, e.Error())
	}
	for _, k := range teo.keysEverHeld() {
		for i, o := range outs {
			if strings.Contains(o, k) {
				t.Errorf("output %d holds a key", i)
			}
		}
	}
}

func zoneIDs(rs []ZoneResult) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ZoneID
	}
	return out
}

func TestAllowListAndOrder(t *testing.T) {
	teo := newFakeTEO("zone-a", "zone-b", "zone-c", "zone-outside")
	store := newStore()
	e, logs := newEngine(teo, []string{"zone-a", "zone-b", "zone-c"}, store)
	rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-1",
		Zones: []string{"zone-c", "zone-outside", "zone-a", "zone-c", "zone-a", "zone-y"}})
	// Each zone once, in request order, refused zones in their place.
	if got, want := zoneIDs(rep.Zones), []string{"zone-c", "zone-outside", "zone-a", "zone-y"}; !slices.Equal(got, want) {
		t.Fatalf("zones %v, want %v", got, want)
	}
	var allowed, refused []ZoneResult
	for _, z := range rep.Zones {
		if slices.Contains(e.Allowed, z.ZoneID) {
			allowed = append(allowed, z)
		} else {
			refused = append(refused, z)
		}
	}
	if got, want := zoneIDs(allowed), []string{"zone-c", "zone-a"}; !slices.Equal(got, want) {
		t.Fatalf("allowed zones %v, want %v", got, want)
	}
	if got, want := zoneIDs(refused), []string{"zone-outside", "zone-y"}; !slices.Equal(got, want) {
		t.Fatalf("refused zones %v, want %v", got, want)
	}
	for _, z := range allowed {
		if z.Outcome != Rotated || teo.refreshes(z.ZoneID) != 1 {
			t.Errorf("%s: %s after %d refreshes: %s", z.ZoneID, z.Outcome, teo.refreshes(z.ZoneID), z.Error)
		}
	}
	for _, z := range refused {
		if z.Outcome != Failed || z.KeyChanged || !strings.Contains(z.Error, "not in ZONE_IDS") || !strings.HasPrefix(z.Error, "key unchanged") {
			t.Errorf("refused zone %+v", z)
		}
		if z.Sinks == nil {
			t.Errorf("%s: nil sinks (reported as null)", z.ZoneID)
		}
	}
	if teo.seen["zone-outside"] || teo.seen["zone-y"] || teo.seen["zone-b"] {
		t.Errorf("TEO was asked about %v", teo.seen)
	}
	if rep.OK {
		t.Error("a report with refused zones is ok")
	}
	if store.held("zone-outside") != "" {
		t.Error("a refused zone reached a sink")
	}

	// Results keep request order even when zones finish out of order.
	teo = newFakeTEO("zone-a", "zone-b", "zone-c")
	teo.proceed = func(f *fakeTEO, zone string) bool {
		return zone != "zone-c" || (f.describesDone["zone-a"] > 0 && f.describesDone["zone-b"] > 0)
	}
	e, _ = newEngine(teo, []string{"zone-a", "zone-b", "zone-c"}, newStore())
	rep = e.Run(context.Background(), Request{Action: Check, Zones: []string{"zone-c", "zone-a", "zone-b"}})
	if got, want := zoneIDs(rep.Zones), []string{"zone-c", "zone-a", "zone-b"}; !slices.Equal(got, want) {
		t.Errorf("zones %v, want %v", got, want)
	}
	// No zones requested: every allowed zone, in configured order.
	rep = e.Run(context.Background(), Request{Action: Check})
	if got := zoneIDs(rep.Zones); !slices.Equal(got, e.Allowed) {
		t.Errorf("zones %v, want %v", got, e.Allowed)
	}
	noLeak(t, teo, rep, logs)
}

func TestConcurrencyBound(t *testing.T) {
	zones := []string{"zone-1", "zone-2", "zone-3", "zone-4", "zone-5", "zone-6", "zone-7"}
	for _, bound := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(bound), func(t *testing.T) {
			teo := newFakeTEO(zones...)
			teo.gated = true // every Describe waits for a token from the test
			e, _ := newEngine(teo, zones, newStore())
			e.Concurrency = bound
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := make(chan Report, 1)
			go func() { done <- e.Run(ctx, Request{Action: Check}) }()
			// Let one call finish at a time, and only once the bound is
			// reached: an engine that ignores its bound has every zone's
			// call waiting here at once.
			for released := range len(zones) {
				teo.mu.Lock()
				for teo.inFlight < min(bound, len(zones)-released) && ctx.Err() == nil {
					teo.cond.Wait()
				}
				teo.mu.Unlock()
				for range 100 {
					runtime.Gosched() // room for calls beyond the bound to show up
				}
				teo.mu.Lock()
				teo.tokens++
				teo.cond.Broadcast()
				teo.mu.Unlock()
			}
			rep := <-done
			if len(rep.Zones) != len(zones) {
				t.Fatalf("report %+v", rep)
			}
			for _, z := range rep.Zones {
				if z.Outcome != Drifted { // the store is empty
					t.Errorf("%s: %s (%s)", z.ZoneID, z.Outcome, z.Error)
				}
			}
			teo.mu.Lock()
			defer teo.mu.Unlock()
			if teo.maxInFlight != bound {
				t.Errorf("at most %d TEO calls in flight, want %d", teo.maxInFlight, bound)
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
			noLeak(t, teo, rep, logs)
		}
		if n := teo.totalCalls(); n != 0 {
			t.Errorf("%d TEO calls", n)
		}
		if d, _, s := store.counts(); d+s != 0 || len(hook.delivered()) != 0 || len(hook.notices()) != 0 {
			t.Error("a sink was used")
		}
	})
	t.Run("shorter than the delivery budget", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		store := newStore()
		store.budget = time.Hour
		e, _ := newEngine(teo, []string{"zone-a"}, store)
		if got := e.DeliveryBudget(); got != time.Hour+2*time.Second {
			t.Errorf("DeliveryBudget = %v", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rep := e.Run(ctx, Request{Action: Rotate})
		z := rep.Zones[0]
		if z.Outcome != Skipped || !strings.Contains(z.Error, "delivery needs up to") || !strings.Contains(z.Error, "before the deadline") || z.KeyChanged {
			t.Errorf("got %s: %s", z.Outcome, z.Error)
		}
		if teo.refreshes("zone-a") != 0 {
			t.Error("refreshed without the time to deliver")
		}
		if d, _, s := store.counts(); d != 0 || s != 0 {
			t.Errorf("%d deliveries, %d records saved", d, s)
		}
		// Sync and check do not refresh: the budget does not hold them back.
		if rep := e.Run(ctx, Request{Action: Sync}); rep.Zones[0].Outcome != Synced {
			t.Errorf("sync: %+v", rep.Zones[0])
		}
	})
}

func TestDryRun(t *testing.T) {
	teo := newFakeTEO("zone-a", "zone-b")
	store, hook := newStore(), &hookSink{}
	e, logs := newEngine(teo, []string{"zone-a", "zone-b"}, store, hook)
	rep := e.Run(context.Background(), Request{Action: Rotate, DryRun: true, RequestID: "req-dry"})
	if !rep.OK || !rep.DryRun {
		t.Fatalf("report %+v", rep)
	}
	for _, z := range rep.Zones {
		if z.Outcome != Planned || z.Fingerprint != secret.Fingerprint(teo.key(z.ZoneID)) || z.KeyChanged {
			t.Errorf("%+v", z)
		}
		if teo.refreshes(z.ZoneID) != 0 {
			t.Errorf("%s refreshed", z.ZoneID)
		}
	}
	if d, _, s := store.counts(); d != 0 || s != 0 || len(hook.delivered()) != 0 {
		t.Errorf("dry run wrote: %d deliveries, %d records, %d webhooks", d, s, len(hook.delivered()))
	}
	noLeak(t, teo, rep, logs)

	// A dry run that shares its rotation id with a rotation already done
	// still writes nothing (it would otherwise "finish" that rotation).
	store.records["zone-a"] = sink.Record{RotationID: "manual-1", State: sink.Done, From: "sha256:0123456789abcdef", At: time.Now()}
	rep = e.Run(context.Background(), Request{Action: Rotate, DryRun: true, RotationID: "manual-1", Zones: []string{"zone-a"}})
	if z := rep.Zones[0]; z.Outcome != Planned {
		t.Errorf("dry run with a known rotation id: %+v", z)
	}
	if d, _, s := store.counts(); d != 0 || s != 0 || len(hook.delivered()) != 0 {
		t.Errorf("dry run with a known rotation id wrote: %d deliveries, %d records, %d webhooks", d, s, len(hook.delivered()))
	}

	// Preflight still runs: a sink that is not ready fails the dry run.
	store.preflightErr = &apiErr{action: "DescribeSecret", code: "ResourceUnavailable.ResourceDisabled"}
	rep = e.Run(context.Background(), Request{Action: Rotate, DryRun: true, Zones: []string{"zone-a"}})
	if z := rep.Zones[0]; z.Outcome != Failed || z.Code != "ResourceUnavailable.ResourceDisabled" {
		t.Errorf("%+v", z)
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
		wantChanged  bool
		wantCode     string
		wantAPI      string
		wantErrorHas string
	}{
		{name: "refreshed", want: Rotated, wantRefresh: 1, wantChanged: true},
		{name: "answer lost, Describe shows the new key",
			refreshErr: func(_ string, n int) (error, bool) {
				if n == 1 {
					return &apiErr{action: opRefresh, code: "ClientError.NetworkError", retryable: true}, true
				}
				return nil, false
			},
			want: Rotated, wantRefresh: 1, wantChanged: true},
		{name: "answer lost with a final code, Describe shows the new key",
			refreshErr: func(_ string, n int) (error, bool) { return final, n == 1 },
			want:       Rotated, wantRefresh: 1, wantChanged: true},
		{name: "transient failure, key unchanged: refreshed again",
			refreshErr: func(_ string, n int) (error, bool) {
				if n == 1 {
					return transient, false
				}
				return nil, false
			},
			want: Rotated, wantRefresh: 2, wantChanged: true},
		{name: "transient failure persists",
			refreshErr: func(string, int) (error, bool) { return transient, false },
			want:       Failed, wantRefresh: 3, wantCode: "InternalError", wantAPI: opRefresh, wantErrorHas: "key unchanged: "},
		{name: "final failure, key unchanged",
			refreshErr: func(string, int) (error, bool) { return final, false },
			want:       Failed, wantRefresh: 1, wantCode: "OperationDenied", wantAPI: opRefresh, wantErrorHas: "key unchanged: "},
		{name: "answer lost and Describe fails too",
			refreshErr: func(string, int) (error, bool) { return transient, true },
			describeErr: func(_ string, n int) error {
				if n >= 2 {
					return &apiErr{action: opDescribe, code: "InternalError", retryable: true}
				}
				return nil
			},
			want: Failed, wantRefresh: 1, wantChanged: true, wantCode: "InternalError", wantAPI: opRefresh,
			wantErrorHas: "key may have rotated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			teo.refreshErr, teo.describeErr = tc.refreshErr, tc.describeErr
			before := teo.key("zone-a")
			store, hook := newStore(), &hookSink{}
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
			live := teo.key("zone-a")
			if tc.want == Rotated {
				if store.held("zone-a") != live || z.Fingerprint != secret.Fingerprint(live) || z.PreviousFingerprint != secret.Fingerprint(before) {
					t.Errorf("the store does not hold the live key, or fingerprints %s <- %s are wrong", z.Fingerprint, z.PreviousFingerprint)
				}
				if rec := store.records["zone-a"]; rec.State != sink.Done || rec.To != secret.Fingerprint(live) || rec.From != secret.Fingerprint(before) || rec.RotationID != "req-1" {
					t.Errorf("record %+v", rec)
				}
				if len(hook.notices()) != 0 {
					t.Error("a failure notice for a rotated zone")
				}
			} else {
				if d, _, _ := store.counts(); d != 0 {
					t.Error("delivered although no key is known")
				}
				n := hook.notices()
				if len(n) != 1 || n[0].KeyChanged != tc.wantChanged || n[0].Code != tc.wantCode || n[0].APIAction != tc.wantAPI {
					t.Errorf("notices %+v", n)
				}
			}
			if rec := store.saves; len(rec) == 0 || rec[0].State != sink.Pending || rec[0].From != secret.Fingerprint(before) {
				t.Errorf("no pending record before the refresh: %+v", rec)
			}
			noLeak(t, teo, rep, logs)
		})
	}
}

func TestJournal(t *testing.T) {
	tests := []struct {
		name        string
		record      func(live string) *sink.Record
		wantRefresh int
	}{
		{name: "no record", wantRefresh: 1},
		{name: "this rotation pending, key still the one it was to replace",
			record: func(live string) *sink.Record {
				return &sink.Record{RotationID: "rot-1", State: sink.Pending, From: secret.Fingerprint(live)}
			}, wantRefresh: 1},
		{name: "this rotation pending, key already replaced",
			record: func(string) *sink.Record {
				return &sink.Record{RotationID: "rot-1", State: sink.Pending, From: secret.Fingerprint("the old key")}
			}, wantRefresh: 0},
		{name: "this rotation done",
			record: func(live string) *sink.Record {
				return &sink.Record{RotationID: "rot-1", State: sink.Done, From: secret.Fingerprint("the old key"), To: secret.Fingerprint(live)}
			}, wantRefresh: 0},
		{name: "this rotation done, From equal to live",
			record: func(live string) *sink.Record {
				return &sink.Record{RotationID: "rot-1", State: sink.Done, From: secret.Fingerprint(live)}
			}, wantRefresh: 0},
		{name: "another rotation pending, key replaced",
			record: func(string) *sink.Record {
				return &sink.Record{RotationID: "rot-0", State: sink.Pending, From: secret.Fingerprint("the old key")}
			}, wantRefresh: 1},
		{name: "another rotation done",
			record: func(live string) *sink.Record {
				return &sink.Record{RotationID: "rot-0", State: sink.Done, To: secret.Fingerprint(live)}
			}, wantRefresh: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			before := teo.key("zone-a")
			store := newStore()
			store.keys["zone-a"] = "a stale key"
			var rec *sink.Record
			if tc.record != nil {
				rec = tc.record(before)
				store.records["zone-a"] = *rec
			}
			e, logs := newEngine(teo, []string{"zone-a"}, store)
			rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-2", RotationID: "rot-1"})
			z := rep.Zones[0]
			if z.Outcome != Rotated || !z.KeyChanged {
				t.Fatalf("got %s changed=%v: %s", z.Outcome, z.KeyChanged, z.Error)
			}
			if got := teo.refreshes("zone-a"); got != tc.wantRefresh {
				t.Errorf("%d refreshes, want %d", got, tc.wantRefresh)
			}
			live := teo.key("zone-a")
			if store.held("zone-a") != live || z.Fingerprint != secret.Fingerprint(live) {
				t.Error("the store does not hold the live key")
			}
			if tc.wantRefresh == 0 {
				if z.PreviousFingerprint != rec.From {
					t.Errorf("previous %q, want the record's %q", z.PreviousFingerprint, rec.From)
				}
				for _, s := range store.saves {
					if s.State == sink.Pending {
						t.Error("a pending record was written although no refresh happens")
					}
				}
			}
			if got := store.records["zone-a"]; got.RotationID != "rot-1" || got.State != sink.Done || got.To != secret.Fingerprint(live) {
				t.Errorf("final record %+v", got)
			}
			if rep.RotationID != "rot-1" {
				t.Errorf("report rotation id %q", rep.RotationID)
			}
			noLeak(t, teo, rep, logs)
		})
	}
}

func TestJournalFailures(t *testing.T) {
	loadErr := &apiErr{action: "DescribeSecret", code: "UnauthorizedOperation"}
	saveErr := &apiErr{action: "UpdateDescription", code: "UnauthorizedOperation"}
	for _, tc := range []struct {
		name         string
		load, save   error
		wantAPI      string
		wantErrorHas string
	}{
		{name: "record unreadable", load: loadErr, wantAPI: "DescribeSecret", wantErrorHas: "reading the rotation record"},
		{name: "record unwritable", save: saveErr, wantAPI: "UpdateDescription", wantErrorHas: "recording the rotation before refreshing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			store := newStore()
			store.loadErr, store.saveErr = tc.load, tc.save
			e, _ := newEngine(teo, []string{"zone-a"}, store)
			z := e.Run(context.Background(), Request{Action: Rotate}).Zones[0]
			if z.Outcome != Failed || z.KeyChanged || z.APIAction != tc.wantAPI || z.Code != "UnauthorizedOperation" ||
				!strings.HasPrefix(z.Error, "key unchanged") || !strings.Contains(z.Error, tc.wantErrorHas) {
				t.Errorf("%+v", z)
			}
			if teo.refreshes("zone-a") != 0 {
				t.Error("refreshed without a record")
			}
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
	if len(d) != 2 || d[0].Key.Reveal() != teo.key("zone-a") || d[1].Key.Reveal() != teo.key("zone-a") {
		t.Errorf("%d deliveries", len(d))
	}
	// A new rotation id refreshes.
	e.Run(context.Background(), Request{Action: Rotate, RotationID: "timer:nightly:2025-01-02T02:00:00Z"})
	if got := teo.refreshes("zone-a"); got != 2 {
		t.Errorf("%d refreshes after a second rotation", got)
	}
}

func TestKeyChangesDuringDelivery(t *testing.T) {
	t.Run("once: the live key is delivered", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		// Describe 1 reads the key to replace; describe 2 confirms after
		// the delivery: someone else rotates just before it.
		var changed string
		teo.onDescribe = func(f *fakeTEO, zone string, n int) {
			if n == 2 {
				changed = f.replaceLocked(zone)
			}
		}
		store, hook := newStore(), &hookSink{}
		e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
		rep := e.Run(context.Background(), Request{Action: Rotate})
		z := rep.Zones[0]
		if z.Outcome != Rotated || !z.KeyChanged {
			t.Fatalf("%+v", z)
		}
		if store.held("zone-a") != changed || teo.key("zone-a") != changed || z.Fingerprint != secret.Fingerprint(changed) {
			t.Error("the store does not hold the live key")
		}
		d := hook.delivered()
		if len(d) != 2 || d[1].Key.Reveal() != changed {
			t.Errorf("%d webhook deliveries, the last not of the live key", len(d))
		}
		if teo.refreshes("zone-a") != 1 {
			t.Error("refreshed again")
		}
		if !strings.Contains(logs.String(), "live key changed during delivery") {
			t.Error("the change was not logged")
		}
		noLeak(t, teo, rep, logs)
	})
	t.Run("keeps changing: failed after ConfirmRounds", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		teo.onDescribe = func(f *fakeTEO, zone string, n int) {
			if n >= 2 {
				f.replaceLocked(zone)
			}
		}
		store, hook := newStore(), &hookSink{}
		e, logs := newEngine(teo, []string{"zone-a"}, store, hook)
		e.ConfirmRounds = 3
		rep := e.Run(context.Background(), Request{Action: Rotate})
		z := rep.Zones[0]
		if z.Outcome != Failed || !z.KeyChanged || !strings.Contains(z.Error, "kept changing") ||
			!strings.HasPrefix(z.Error, "key rotated, delivery incomplete: run sync") {
			t.Fatalf("%+v", z)
		}
		if d, _, _ := store.counts(); d != 3 {
			t.Errorf("%d deliveries, want 3 rounds", d)
		}
		if z.Fingerprint != secret.Fingerprint(teo.key("zone-a")) {
			t.Error("the report does not give the live key's fingerprint")
		}
		if n := hook.notices(); len(n) != 1 || !n[0].KeyChanged {
			t.Errorf("notices %+v", n)
		}
		if rec := store.records["zone-a"]; rec.State == sink.Done {
			t.Error("the rotation was marked done")
		}
		noLeak(t, teo, rep, logs)
	})
}

func TestSync(t *testing.T) {
	t.Run("reader sinks only", func(t *testing.T) {
		teo := newFakeTEO("zone-a", "zone-b")
		store := newStore()
		store.keys["zone-a"] = "stale"
		e, logs := newEngine(teo, []string{"zone-a", "zone-b"}, store)
		rep := e.Run(context.Background(), Request{Action: Sync})
		if !rep.OK || rep.RotationID != "" {
			t.Fatalf("%+v", rep)
		}
		for _, z := range rep.Zones {
			if z.Outcome != Synced || z.KeyChanged || store.held(z.ZoneID) != teo.key(z.ZoneID) || z.Fingerprint != secret.Fingerprint(teo.key(z.ZoneID)) {
				t.Errorf("%+v", z)
			}
			if len(z.Sinks) != 1 || z.Sinks[0].Outcome != sink.OK {
				t.Errorf("sinks %+v", z.Sinks)
			}
		}
		_, writes, _ := store.counts()
		rep = e.Run(context.Background(), Request{Action: Sync})
		for _, z := range rep.Zones {
			if z.Outcome != InSync || z.Sinks[0].Outcome != sink.Unchanged {
				t.Errorf("second sync: %+v", z)
			}
		}
		if _, w, saves := store.counts(); w != writes || saves != 0 {
			t.Errorf("second sync wrote (%d writes, %d records)", w-writes, saves)
		}
		if teo.refreshes("zone-a")+teo.refreshes("zone-b") != 0 {
			t.Error("sync refreshed")
		}
		noLeak(t, teo, rep, logs)
	})
	t.Run("a sink that cannot be read is always re-sent", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		store, hook := newStore(), &hookSink{}
		e, _ := newEngine(teo, []string{"zone-a"}, store, hook)
		for i := range 2 {
			z := e.Run(context.Background(), Request{Action: Sync}).Zones[0]
			if z.Outcome != Synced {
				t.Errorf("sync %d: %+v", i+1, z)
			}
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
		if d, _, _ := store.counts(); d != 0 {
			t.Error("delivered an empty key")
		}
	})
	t.Run("delivery failure", func(t *testing.T) {
		teo := newFakeTEO("zone-a")
		store, hook := newStore(), &hookSink{}
		store.deliverErr = func(int) error { return &apiErr{action: "UpdateSecret", code: "UnauthorizedOperation"} }
		e, _ := newEngine(teo, []string{"zone-a"}, store, hook)
		z := e.Run(context.Background(), Request{Action: Sync}).Zones[0]
		if z.Outcome != Failed || z.KeyChanged || z.Code != "UnauthorizedOperation" || z.APIAction != "UpdateSecret" {
			t.Errorf("%+v", z)
		}
		if n := hook.notices(); len(n) != 1 || n[0].Action != "sync" || n[0].KeyChanged {
			t.Errorf("notices %+v", n)
		}
	})
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		held      string // "" none, "live", or another key
		readErr   error
		want      Outcome
		wantStore sink.Outcome
		wantError string
	}{
		{name: "in sync", held: "live", want: InSync, wantStore: sink.OK},
		{name: "other key", held: "stale", want: Drifted, wantStore: sink.Drift, wantError: "holds sha256:"},
		{name: "no key", want: Drifted, wantStore: sink.Drift, wantError: "holds no key"},
		{name: "unreadable", readErr: &apiErr{action: "GetSecretValue", code: "UnauthorizedOperation"}, want: Failed, wantStore: sink.Failed,
			wantError: "UnauthorizedOperation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			store, hook := newStore(), &hookSink{}
			switch tc.held {
			case "":
			case "live":
				store.keys["zone-a"] = teo.key("zone-a")
			default:
				store.keys["zone-a"] = tc.held
			}
			store.readErr = tc.readErr
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
			if tc.readErr != nil && (z.Code != "UnauthorizedOperation" || z.APIAction != "GetSecretValue") {
				t.Errorf("%+v", z)
			}
			if d, w, s := store.counts(); d+w+s != 0 || len(hook.delivered()) != 0 || teo.refreshes("zone-a") != 0 {
				t.Error("check wrote")
			}
			if len(hook.notices()) != 0 {
				t.Error("check sent a failure notice")
			}
			if z.Fingerprint != secret.Fingerprint(teo.key("zone-a")) {
				t.Errorf("fingerprint %q", z.Fingerprint)
			}
			noLeak(t, teo, rep, logs, z.Sinks[0].Error)
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
		{name: "preflight fails",
			setup: func(s *storeSink, _ *fakeTEO) {
				s.preflightErr = &apiErr{action: "DescribeSecret", code: "ResourceUnavailable.ResourcePendingDeleted"}
			},
			wantAPI: "DescribeSecret", wantCode: "ResourceUnavailable.ResourcePendingDeleted", wantRemedy: "key is unchanged"},
		{name: "confirming Describe fails",
			setup: func(_ *storeSink, teo *fakeTEO) {
				teo.describeErr = func(_ string, n int) error {
					if n >= 2 {
						return &apiErr{action: opDescribe, code: "RequestLimitExceeded", retryable: true}
					}
					return nil
				}
			},
			wantChanged: true, wantAPI: opDescribe, wantCode: "RequestLimitExceeded", wantRemedy: "sync"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			teo := newFakeTEO("zone-a")
			store, hook := newStore(), &hookSink{}
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
			n := hook.notices()
			if len(n) != 1 {
				t.Fatalf("%d notices", len(n))
			}
			f := n[0]
			want := sink.Failure{ZoneID: "zone-a", Action: "rotate", RotationID: "rot-n", KeyChanged: tc.wantChanged,
				APIAction: tc.wantAPI, Code: tc.wantCode, Reason: z.Error, Remedy: f.Remedy, Fingerprint: z.Fingerprint}
			if f != want {
				t.Errorf("notice %+v, want %+v", f, want)
			}
			if !strings.Contains(f.Remedy, tc.wantRemedy) {
				t.Errorf("remedy %q lacks %q", f.Remedy, tc.wantRemedy)
			}
			noLeak(t, teo, rep, logs, fmt.Sprintf("%+v", f))
		})
	}
}

func TestReportErr(t *testing.T) {
	tests := []struct {
		name string
		rep  Report
		want []string // substrings; nil = no error
		not  []string
	}{
		{name: "ok", rep: Report{Action: Rotate, OK: true, Zones: []ZoneResult{{ZoneID: "zone-a", Outcome: Rotated}}}},
		{name: "mixed",
			rep: Report{Action: Rotate, Zones: []ZoneResult{
				{ZoneID: "zone-a", Outcome: Rotated},
				{ZoneID: "zone-b", Outcome: Failed, KeyChanged: true, APIAction: "UpdateSecret", Code: "InternalError"},
				{ZoneID: "zone-c", Outcome: Failed, APIAction: opDescribe, Code: "ResourceNotFound.ZoneNotFound"},
				{ZoneID: "zone-d", Outcome: Skipped},
				{ZoneID: "zone-e", Outcome: InSync},
			}},
			want: []string{"rotate not ok: ", "zone-b failed (UpdateSecret InternalError key rotated, run sync)",
				"zone-c failed (" + opDescribe + " ResourceNotFound.ZoneNotFound)", "zone-d skipped"},
			not: []string{"zone-a", "zone-e", "zone-c failed (" + opDescribe + " ResourceNotFound.ZoneNotFound key rotated"}},
		{name: "drift", rep: Report{Action: Check, Zones: []ZoneResult{{ZoneID: "zone-a", Outcome: Drifted}}},
			want: []string{"check not ok: zone-a drift"}},
		{name: "no zones", rep: Report{Action: Sync}, want: []string{"sync not ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rep.Err()
			if tc.want == nil {
				if err != nil {
					t.Errorf("Err = %v", err)
				}
				return
			}
			var re *ReportError
			if !errors.As(err, &re) || re.Action != tc.rep.Action {
				t.Fatalf("Err = %v (%T)", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("%q holds %q", err, n)
				}
			}
		})
	}
}

func TestOutcomeGood(t *testing.T) {
	for o, want := range map[Outcome]bool{Rotated: true, Synced: true, InSync: true, Planned: true,
		Drifted: false, Skipped: false, Failed: false, "": false} {
		if o.Good() != want {
			t.Errorf("%q.Good() = %v", o, !want)
		}
	}
}

func TestParseAction(t *testing.T) {
	tests := []struct {
		in      string
		want    Action
		wantErr bool
	}{
		{"", Rotate, false},
		{"rotate", Rotate, false},
		{"sync", Sync, false},
		{"check", Check, false},
		{"Rotate", "", true},
		{"ROTATE", "", true},
		{" rotate", "", true},
		{"delete", "", true},
		{strings.Repeat("x", 100), "", true},
	}
	for _, tc := range tests {
		got, err := ParseAction(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseAction(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && (!strings.Contains(err.Error(), "want rotate, sync or check") || len(err.Error()) > 100) {
			t.Errorf("ParseAction(%q) error %q", tc.in, err)
		}
	}
}

func TestUnknownAction(t *testing.T) {
	teo := newFakeTEO("zone-a")
	e, _ := newEngine(teo, []string{"zone-a"}, newStore())
	rep := e.Run(context.Background(), Request{Action: "delete"})
	if z := rep.Zones[0]; rep.OK || z.Outcome != Failed || z.Sinks == nil || teo.totalCalls() != 0 {
		t.Errorf("%+v", z)
	}
}

func TestRotationIDs(t *testing.T) {
	teo := newFakeTEO("zone-a")
	hook := &hookSink{}
	e, _ := newEngine(teo, []string{"zone-a"}, hook)
	long := strings.Repeat("r", 300)
	rep := e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-1", RotationID: long})
	if rep.RotationID != sink.NormalizeRotationID(long) || !strings.HasPrefix(rep.RotationID, "h:") {
		t.Errorf("rotation id %q", rep.RotationID)
	}
	if d := hook.delivered(); len(d) != 1 || d[0].RotationID != rep.RotationID || d[0].Action != "rotate" {
		t.Errorf("deliveries %+v", d)
	}
	rep = e.Run(context.Background(), Request{Action: Rotate, RequestID: "req-2"})
	if rep.RotationID != "req-2" || rep.RequestID != "req-2" {
		t.Errorf("without a rotation id: %q", rep.RotationID)
	}
}
