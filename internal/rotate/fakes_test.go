package rotate

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/logbuf"
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

// locked returns read's result computed under mu: the fakes' getters read
// what the engine's goroutines write, each under its fake's mutex.
func locked[T any](mu *sync.Mutex, read func() T) T {
	mu.Lock()
	defer mu.Unlock()
	return read()
}

// event is one call a fake received, in the order of a shared trace.
type event struct{ op, zone string }

// trace records the calls of several fakes in one order.
type trace struct {
	mu sync.Mutex
	ev []event
}

func (tr *trace) add(op, zone string) {
	if tr == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.ev = append(tr.ev, event{op, zone})
}

func (tr *trace) events() []event {
	return locked(&tr.mu, func() []event { return slices.Clone(tr.ev) })
}

// waitFunc runs at the start of a fake's call, without the fake's lock: it
// may block (on channels, honouring ctx) and fail the call.
type waitFunc func(ctx context.Context, op, zone string) error

// untilDone is a waitFunc that holds the named call until ctx is done.
func untilDone(op string) waitFunc {
	return func(ctx context.Context, o, _ string) error {
		if o != op {
			return nil
		}
		<-ctx.Done()
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
}

// fakeTEO holds one key per zone.
type fakeTEO struct {
	trace *trace
	wait  waitFunc

	mu   sync.Mutex
	keys map[string]string
	all  []string // every key it ever held or made, for the leak check

	refreshCalls  map[string]int
	describeCalls map[string]int
	seen          map[string]bool // zones passed to any call
	calls         int

	// refreshErr, if set, decides the n-th Refresh of zone: lost means the
	// key is replaced although the error is returned (the answer lost).
	refreshErr func(zone string, n int) (err error, lost bool)
	// describeErr, if set, fails the n-th Describe of zone.
	describeErr func(zone string, n int) error
	// onDescribe runs under the lock before the n-th Describe of zone
	// answers; it may replace the key (with f.replaceLocked).
	onDescribe func(f *fakeTEO, zone string, n int)
}

func newFakeTEO(zones ...string) *fakeTEO {
	f := &fakeTEO{keys: map[string]string{}, refreshCalls: map[string]int{}, describeCalls: map[string]int{},
		seen: map[string]bool{}}
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

// otherKey makes a key that TEO does not hold (a stale copy), remembered
// for the leak check.
func (f *fakeTEO) otherKey() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := randomKey()
	f.all = append(f.all, k)
	return k
}

func (f *fakeTEO) enter(ctx context.Context, op, zone string) (n int, err error) {
	f.trace.add(op, zone)
	f.mu.Lock()
	f.seen[zone] = true
	f.calls++
	switch op {
	case "refresh":
		f.refreshCalls[zone]++
		n = f.refreshCalls[zone]
	case "describe":
		f.describeCalls[zone]++
		n = f.describeCalls[zone]
	}
	f.mu.Unlock()
	if f.wait != nil {
		if err := f.wait(ctx, op, zone); err != nil {
			return n, err
		}
	}
	return n, ctx.Err()
}

// answerKey serves a call that returns a key: enter, then answer(n) under
// f.mu, n counting the calls of op on zone so far, this one included.
func (f *fakeTEO) answerKey(ctx context.Context, op, zone string, answer func(n int) (secret.Key, error)) (secret.Key, error) {
	n, err := f.enter(ctx, op, zone)
	if err != nil {
		return secret.Key{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return answer(n)
}

func (f *fakeTEO) Describe(ctx context.Context, zone string) (secret.Key, error) {
	return f.answerKey(ctx, "describe", zone, func(n int) (secret.Key, error) {
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
	})
}

func (f *fakeTEO) Refresh(ctx context.Context, zone string) (secret.Key, error) {
	return f.answerKey(ctx, "refresh", zone, func(n int) (secret.Key, error) {
		if f.refreshErr != nil {
			if err, lost := f.refreshErr(zone, n); err != nil {
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
	})
}

// Modify sets a caller-chosen key (staged mode).
func (f *fakeTEO) Modify(ctx context.Context, zone string, key secret.Key) error {
	if _, err := f.enter(ctx, "modify", zone); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.keys[zone]; !ok {
		return &apiErr{action: "ModifyMultiPathGatewaySecretKey", code: "ResourceNotFound.ZoneNotFound"}
	}
	f.keys[zone] = key.Reveal()
	f.all = append(f.all, key.Reveal())
	return nil
}

func (f *fakeTEO) key(zone string) string {
	return locked(&f.mu, func() string { return f.keys[zone] })
}

func (f *fakeTEO) setKey(zone, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[zone] = key
	f.all = append(f.all, key)
}

func (f *fakeTEO) refreshes(zone string) int {
	return locked(&f.mu, func() int { return f.refreshCalls[zone] })
}

func (f *fakeTEO) describes(zone string) int {
	return locked(&f.mu, func() int { return f.describeCalls[zone] })
}

func (f *fakeTEO) totalRefreshes() int {
	return locked(&f.mu, func() int {
		n := 0
		for _, c := range f.refreshCalls {
			n += c
		}
		return n
	})
}

func (f *fakeTEO) totalCalls() int {
	return locked(&f.mu, func() int { return f.calls })
}

func (f *fakeTEO) asked(zone string) bool {
	return locked(&f.mu, func() bool { return f.seen[zone] })
}

func (f *fakeTEO) keysEverHeld() []string {
	return locked(&f.mu, func() []string { return slices.Clone(f.all) })
}

// beginCall is one call of Begin as the store received it.
type beginCall struct {
	zone    string
	holding sink.Holding
	rec     sink.Record
	live    secret.Key
}

// storeSink is an in-memory secret store implementing sink.Store.
type storeSink struct {
	name  string
	trace *trace
	wait  waitFunc

	mu         sync.Mutex
	exists     map[string]bool
	keys       map[string]string
	records    map[string]sink.Record
	calls      map[string]int // per method: inspect, begin, deliver
	deliveries []sink.Delivery
	begins     []beginCall
	writes     int
	inspecting int // Inspect calls in flight
	maxInspect int // the most ever in flight at once

	inspectErr error
	beginErr   error
	// deliverErr, if set, fails the n-th Deliver (1-based).
	deliverErr func(n int) error
}

func newStore() *storeSink {
	return &storeSink{name: "store", exists: map[string]bool{}, keys: map[string]string{},
		records: map[string]sink.Record{}, calls: map[string]int{}}
}

// seed makes the store for zone exist, holding key ("" for none).
func (s *storeSink) seed(zone, key string) *storeSink {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exists[zone] = true
	if key != "" {
		s.keys[zone] = key
	}
	return s
}

func (s *storeSink) setRecord(zone string, rec sink.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[zone] = rec
}

func (s *storeSink) Name() string { return s.name }

func (s *storeSink) Inspect(ctx context.Context, zone string) (sink.Holding, error) {
	s.trace.add("inspect", zone)
	s.mu.Lock()
	s.calls["inspect"]++
	s.inspecting++
	s.maxInspect = max(s.maxInspect, s.inspecting)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inspecting--
		s.mu.Unlock()
	}()
	if s.wait != nil {
		if err := s.wait(ctx, "inspect", zone); err != nil {
			return sink.Holding{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inspectErr != nil {
		return sink.Holding{}, s.inspectErr
	}
	h := sink.Holding{Exists: s.exists[zone], Key: secret.New(s.keys[zone])}
	if rec, ok := s.records[zone]; ok {
		h.Record = &rec
	}
	return h, nil
}

func (s *storeSink) Begin(ctx context.Context, zone string, h sink.Holding, rec sink.Record, live secret.Key) error {
	s.trace.add("begin", zone)
	s.mu.Lock()
	s.calls["begin"]++
	s.begins = append(s.begins, beginCall{zone, h, rec, live})
	s.mu.Unlock()
	if s.wait != nil {
		if err := s.wait(ctx, "begin", zone); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.beginErr != nil {
		return s.beginErr
	}
	if !h.Exists {
		if live.IsZero() {
			return errors.New("no live key to create the secret with")
		}
		s.exists[zone] = true
		s.keys[zone] = live.Reveal()
	}
	s.records[zone] = rec
	return nil
}

func (s *storeSink) Deliver(ctx context.Context, d sink.Delivery) (sink.Outcome, error) {
	s.trace.add("deliver", d.ZoneID)
	s.mu.Lock()
	s.calls["deliver"]++
	s.deliveries = append(s.deliveries, d)
	n := len(s.deliveries)
	s.mu.Unlock()
	if s.wait != nil {
		if err := s.wait(ctx, "deliver", d.ZoneID); err != nil {
			return sink.Failed, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deliverErr != nil {
		if err := s.deliverErr(n); err != nil {
			return sink.Failed, err
		}
	}
	if k, ok := s.keys[d.ZoneID]; ok && !d.Fresh && k == d.Key.Reveal() {
		return sink.Unchanged, nil
	}
	s.exists[d.ZoneID] = true
	s.keys[d.ZoneID] = d.Key.Reveal()
	s.writes++
	return sink.OK, nil
}

func (s *storeSink) held(zone string) string {
	return locked(&s.mu, func() string { return s.keys[zone] })
}

func (s *storeSink) record(zone string) (sink.Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[zone]
	return r, ok
}

// count returns how often method (inspect, begin, deliver) was called.
func (s *storeSink) count(method string) int {
	return locked(&s.mu, func() int { return s.calls[method] })
}

func (s *storeSink) totalCalls() int {
	return locked(&s.mu, func() int { return s.calls["inspect"] + s.calls["begin"] + s.calls["deliver"] })
}

func (s *storeSink) delivered() []sink.Delivery {
	return locked(&s.mu, func() []sink.Delivery { return slices.Clone(s.deliveries) })
}

func (s *storeSink) begun() []beginCall {
	return locked(&s.mu, func() []beginCall { return slices.Clone(s.begins) })
}

func (s *storeSink) written() int {
	return locked(&s.mu, func() int { return s.writes })
}

// notice is one failure notice with the state of its context at call time.
type notice struct {
	f           sink.Failure
	ctxErr      error
	deadline    time.Time
	hasDeadline bool
	at          time.Time
}

// hookSink cannot be read back and announces failures, like a webhook.
type hookSink struct {
	name  string // "hook" when empty
	trace *trace

	mu         sync.Mutex
	deliveries []sink.Delivery
	notices    []notice
	deliverErr error
}

func (h *hookSink) Name() string { return cmp.Or(h.name, "hook") }

func (h *hookSink) Deliver(_ context.Context, d sink.Delivery) (sink.Outcome, error) {
	h.trace.add("webhook", d.ZoneID)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliveries = append(h.deliveries, d)
	if h.deliverErr != nil {
		return sink.Failed, h.deliverErr
	}
	return sink.OK, nil
}

func (h *hookSink) NotifyFailure(ctx context.Context, f sink.Failure) error {
	h.trace.add("notice", f.ZoneID)
	n := notice{f: f, ctxErr: ctx.Err(), at: time.Now()}
	n.deadline, n.hasDeadline = ctx.Deadline()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notices = append(h.notices, n)
	return nil
}

func (h *hookSink) delivered() []sink.Delivery {
	return locked(&h.mu, func() []sink.Delivery { return slices.Clone(h.deliveries) })
}

func (h *hookSink) failures() []sink.Failure {
	return locked(&h.mu, func() []sink.Failure {
		out := make([]sink.Failure, len(h.notices))
		for i, n := range h.notices {
			out[i] = n.f
		}
		return out
	})
}

func (h *hookSink) noticesSent() []notice {
	return locked(&h.mu, func() []notice { return slices.Clone(h.notices) })
}

var (
	_ sink.Store = (*storeSink)(nil)
	_ interface {
		sink.Sink
		sink.Notifier
	} = (*hookSink)(nil)
	_ TEO = (*fakeTEO)(nil)
)

func newEngine(teo *fakeTEO, allowed []string, sinks ...sink.Sink) (*Engine, *logbuf.Buffer) {
	logs := &logbuf.Buffer{}
	return &Engine{
		Allowed: allowed, TEO: teo, Sinks: sinks,
		Margin:       time.Millisecond,
		RefreshRetry: retry.Policy{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond},
		Logger:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, logs
}

// noLeak fails if any key the fake ever held shows in the report, its
// error, the logs, the failure notices of the given hooks or extra.
func noLeak(t *testing.T, teo *fakeTEO, rep Report, logs *logbuf.Buffer, hooks []*hookSink, extra ...string) {
	t.Helper()
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	outs := append([]string{string(b), fmt.Sprintf("%+v", rep), logs.String()}, extra...)
	if e := rep.Err(); e != nil {
		outs = append(outs, e.Error())
	}
	for _, h := range hooks {
		for _, f := range h.failures() {
			outs = append(outs, fmt.Sprintf("%+v", f))
		}
	}
	for _, k := range teo.keysEverHeld() {
		for i, o := range outs {
			if k != "" && strings.Contains(o, k) {
				t.Errorf("output %d holds a key: %s", i, o)
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

func fp(key string) string { return secret.Fingerprint(key) }
