// Package rotate is the rotation engine. A rotation of one zone is a few
// named, idempotent steps over a small per-zone state (rotation.go), in the
// manner of the AWS Secrets Manager rotation template:
//
//  1. inspect: every store (a sink that can be read back and keeps a
//     record, such as SSM) says what it holds and proves that a delivery can
//     succeed: the read consumers make works, the secret is usable, there is
//     room for the key. A failure stops the zone with its key unchanged.
//  2. record: the rotation is recorded beside the key, once, before anything
//     changes: its id and the fingerprint of the key about to die. A retry
//     that finds its own record enters at step 3 or 4 instead, never
//     refreshing twice.
//  3. refresh: TEO replaces the key; the old one dies at once.
//  4. deliver: every sink receives the new key, in parallel, with retries.
//  5. confirm: TEO says which key is live; when it is not the one delivered
//     (a concurrent rotation, a console change) the live one is delivered
//     instead.
//
// sync runs steps 4 and 5 with the live key; check compares without writing.
//
// # Why the guarantees hold with so few calls
//
// A steady rotation with the SSM sink makes six calls: GetSecretValue and
// DescribeSecret (inspect), UpdateDescription (record), Refresh,
// UpdateSecret (deliver) and one Describe (confirm) — one call of each
// action, so a large run moves at the rate limit of one action, not half.
//
//   - Never a key refreshed that cannot be delivered: inspect proves every
//     store's read and write path before the refresh (a secret that does not
//     exist yet is created holding the live key and read back at step 2), a
//     zone is refreshed only with DELIVERY_WINDOW left before the deadline,
//     and a run stops refreshing once a sink, or the confirming Describe,
//     has failed for good in it. The first zone of a run is rotated alone
//     (the canary), so a webhook receiver that is down, or a role that may
//     not Describe, costs at most one refreshed zone per run.
//   - Never two refreshes for one rotation id: the record is written before
//     the refresh. On a retry, a live key whose fingerprint is no longer the
//     record's From proves the refresh happened: deliver, do not refresh.
//     From is what the stores held; when none holds a key (a first
//     rotation, or only a webhook) it comes from a Describe before the
//     refresh. A Refresh whose answer was lost (a timeout, a dropped
//     connection, an internal error) is judged the same way: Describe, and
//     only a key that is certainly unchanged is refreshed again; an answer
//     that refuses the request (AuthFailure, OperationDenied, …) means
//     nothing changed.
//   - Every sink converges on the live key, even when rotations race: each
//     rotation confirms with Describe after its own writes and delivers the
//     live key again when it differs. The last write to a sink is therefore
//     followed by a Describe of the rotation that made it, so it cannot
//     leave a dead key behind. That is why a write is not read back.
//   - The one thing given up: a store that already held a stale key when a
//     rotation began, and then a crash before the refresh or a Refresh whose
//     answer was lost without the work being done, make the stale From look
//     like proof of a refresh. The live key is delivered (the store heals,
//     nobody is locked out) and the zone reports rotated although its key
//     did not change; the next rotation changes it.
package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/ratelimit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// TEO is the part of the TEO API the engine needs.
type TEO interface {
	// Describe returns the zone's live key.
	Describe(ctx context.Context, zone string) (secret.Key, error)
	// Refresh replaces the zone's key, exactly once per call.
	Refresh(ctx context.Context, zone string) (secret.Key, error)
	// Modify makes key the zone's live key (staged mode), once per call.
	Modify(ctx context.Context, zone string, key secret.Key) error
}

// Request is one action over a set of zones.
type Request struct {
	Action     Action
	Zones      []string // requested; empty means every allowed zone
	RequestID  string
	RotationID string // identifies a rotation across platform retries; "" = RequestID
	DryRun     bool   // rotate: inspect only, refresh nothing
	// MinInterval refuses the whole rotate, before any write, when a
	// requested zone was rotated less than this long ago (HTTP triggers:
	// MIN_ROTATION_INTERVAL); 0 = no limit.
	MinInterval time.Duration
}

// Defaults of the Engine's timing fields.
const (
	DefaultWindow  = 5 * time.Second
	DefaultMargin  = time.Second
	DefaultWorkers = 8
	// DefaultConfirmRounds bounds delivery restarts: a third change of the
	// live key under one delivery means another writer is rotating too.
	DefaultConfirmRounds = 3
)

// defaultRefreshRetry paces the attempts of a refresh that failed without
// replacing the key (told by Describe).
func defaultRefreshRetry() retry.Policy {
	return retry.Policy{Attempts: 3, Initial: 500 * time.Millisecond, Max: 2 * time.Second}
}

// Engine runs requests. Build one per invocation (its TEO client carries
// the invocation's credentials); share Memory across invocations.
type Engine struct {
	Allowed []string // ZONE_IDS: nothing outside it is ever touched
	TEO     TEO
	Sinks   []sink.Sink
	Memory  *Memory // per-process rotation records; nil = none kept

	// Window is the time a zone needs left before the deadline to be
	// refreshed: one attempt of each step after the refresh.
	Window time.Duration // DELIVERY_WINDOW; default DefaultWindow
	// Margin is kept free before the deadline to answer the platform and to
	// send failure notices.
	Margin time.Duration // default DefaultMargin
	// Workers is how many zones are in flight at once after the canary.
	Workers int // default DefaultWorkers
	// ConfirmRounds bounds how often delivery restarts because the live key
	// changed under it.
	ConfirmRounds int // default DefaultConfirmRounds
	// RefreshRetry paces attempts of a refresh that failed without replacing
	// the key (told by Describe).
	RefreshRetry retry.Policy // default defaultRefreshRetry()
	// MaxKeyAge makes check call a zone in sync but last rotated longer ago
	// stale (MAX_KEY_AGE); 0 = off.
	MaxKeyAge time.Duration
	// Staged selects ROTATION_MODE=staged (see staged.go): the function makes
	// the key, stores it as pending, makes it live with Modify, promotes it.
	Staged bool
	Logger *slog.Logger
}

func (e *Engine) window() time.Duration { return cmp.Or(e.Window, DefaultWindow) }
func (e *Engine) margin() time.Duration { return cmp.Or(e.Margin, DefaultMargin) }
func (e *Engine) workers() int          { return cmp.Or(e.Workers, DefaultWorkers) }
func (e *Engine) confirmRounds() int    { return cmp.Or(e.ConfirmRounds, DefaultConfirmRounds) }
func (e *Engine) refreshRetry() retry.Policy {
	if e.RefreshRetry.Attempts == 0 {
		return defaultRefreshRetry()
	}
	return e.RefreshRetry
}

// Run executes req and reports on every requested zone.
func (e *Engine) Run(ctx context.Context, req Request) Report {
	req.RotationID = sink.NormalizeRotationID(cmp.Or(req.RotationID, req.RequestID))
	rep := Report{Action: req.Action, RequestID: req.RequestID, DryRun: req.DryRun, Zones: []ZoneResult{}}
	if req.Action == Rotate {
		rep.RotationID = req.RotationID
	}
	r := e.start(ctx, req)
	defer r.cancel()
	if req.Action == Rotate {
		rep.Error = r.tooShort()
	}

	plan := e.plan(req.Zones)
	if req.Action == Rotate && req.MinInterval > 0 && !req.DryRun {
		if refused, ok := r.tooSoon(plan, &rep); ok {
			return refused
		}
	}
	results := make([]ZoneResult, len(plan))
	var todo []int
	for i, p := range plan {
		if p.refused != nil {
			results[i] = *p.refused
		} else {
			todo = append(todo, i)
		}
	}
	if req.Action == Rotate && !req.DryRun && len(todo) > 1 {
		// The canary: a sink that fails for good is found with one zone
		// refreshed, and the others are then not refreshed at all.
		results[todo[0]] = r.zone(plan[todo[0]].zone)
		todo = todo[1:]
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(e.workers(), len(todo)) {
		wg.Go(func() {
			for i := range jobs {
				results[i] = r.zone(plan[i].zone)
			}
		})
	}
	for _, i := range todo {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	rep.Zones = results
	rep.OK = len(rep.Zones) > 0
	for _, z := range rep.Zones {
		rep.OK = rep.OK && z.Outcome.Good()
	}
	return rep
}

// planned is one requested zone: to run, or refused with its result.
type planned struct {
	zone    string
	refused *ZoneResult
}

// plan lists the requested zones in request order, duplicates dropped,
// with a result already made for each zone outside the allow-list.
func (e *Engine) plan(requested []string) []planned {
	if len(requested) == 0 {
		requested = e.Allowed
	}
	var out []planned
	seen := map[string]bool{}
	for _, z := range requested {
		if seen[z] {
			continue
		}
		seen[z] = true
		p := planned{zone: z}
		if !slices.Contains(e.Allowed, z) {
			p.refused = &ZoneResult{ZoneID: z, Outcome: Failed, Sinks: []SinkResult{},
				Error: "key unchanged: zone is not in ZONE_IDS, so it is never touched"}
		}
		out = append(out, p)
	}
	return out
}

// run is the state one request shares across its zones.
type run struct {
	e   *Engine
	req Request
	log *slog.Logger
	// ctx ends Margin before the invocation's deadline: the zones' work stops
	// there, leaving the margin to answer.
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time // the invocation's; zero when it has none
	started  time.Time

	mu     sync.Mutex
	broken *broken // the first step that failed for good in this run
	// inspected is what the stores said per zone when the interval check
	// ran first; each zone's rotation takes its own once.
	inspected map[string][]inspected
}

// broken is a step that failed after a refresh: a sink's delivery or TEO's
// confirming Describe. No further zone of the run is refreshed, so that one
// failing dependency costs one refreshed zone, not every zone.
type broken struct {
	what string
	err  error
}

func (e *Engine) start(ctx context.Context, req Request) *run {
	r := &run{e: e, req: req, started: time.Now(), log: slog.New(slog.DiscardHandler)}
	if e.Logger != nil {
		r.log = e.Logger.With("requestId", req.RequestID)
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		r.deadline = d
		r.cancel()
		r.ctx, r.cancel = context.WithDeadline(ctx, d.Add(-e.margin()))
	}
	return r
}

// left is the working time before the margin; a very large value when the
// invocation has no deadline.
func (r *run) left() time.Duration {
	if r.deadline.IsZero() {
		return 1<<63 - 1
	}
	return time.Until(r.deadline.Add(-r.e.margin()))
}

// tooShort explains, once per request, an invocation that was never long
// enough to refresh a single zone.
func (r *run) tooShort() string {
	if r.deadline.IsZero() {
		return ""
	}
	total := r.deadline.Sub(r.started)
	if total-r.e.margin() >= r.e.window() {
		return ""
	}
	msg := fmt.Sprintf("the invocation had %s, less than DELIVERY_WINDOW (%s) plus %s to answer: no zone can be refreshed; raise the function timeout to at least %s or lower DELIVERY_WINDOW",
		total.Round(100*time.Millisecond), r.e.window(), r.e.margin(), (r.e.window() + r.e.margin() + time.Second - 1).Truncate(time.Second))
	r.log.Error("function timeout too short", "action", string(r.req.Action), "error", msg)
	return msg
}

// refreshBy is the latest moment a refresh may be sent: DELIVERY_WINDOW
// before the end of the working time. Zero when there is no deadline.
func (r *run) refreshBy() time.Time {
	if r.deadline.IsZero() {
		return time.Time{}
	}
	return r.deadline.Add(-r.e.margin() - r.e.window())
}

// mayChangeKey stops a zone before its key changes: failed when a step
// failed for good earlier in this run (a sink that is down takes no more
// keys), skipped when too little time is left to deliver a new key. The
// broken step is told first, so the outcome does not depend on how long the
// zone that found it took. It returns res and true when the key may change.
func (r *run) mayChangeKey(res ZoneResult) (ZoneResult, bool) {
	if b := r.brokenStep(); b != nil {
		return fail(res, false, fmt.Errorf("%s is failing in this run, so no more keys are changed: %w", b.what, b.err)), false
	}
	if why := r.timeToRefresh(); why != "" {
		return skipped(res.ZoneID, why), false
	}
	return res, true
}

// timeToRefresh says why a zone must not be refreshed now for lack of time,
// or "" when it may.
func (r *run) timeToRefresh() string {
	if left := r.left(); left < r.e.window() {
		return fmt.Sprintf("%s left before the deadline, DELIVERY_WINDOW is %s: raise the function timeout or rotate fewer zones per run",
			max(left, 0).Round(time.Millisecond), r.e.window())
	}
	return ""
}

// markBroken remembers the first step that failed for good, unless the
// run's own time running out (or a rate-limit slot beyond it) is the cause.
func (r *run) markBroken(what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken == nil && r.ctx.Err() == nil && !errors.Is(err, ratelimit.ErrNoTime) {
		r.broken = &broken{what, err}
	}
}

func (r *run) brokenStep() *broken {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.broken
}

// zone runs the request's action on one zone and logs the result.
func (r *run) zone(zone string) ZoneResult {
	start := time.Now()
	var res ZoneResult
	switch {
	case r.ctx.Err() != nil:
		res = skipped(zone, "the invocation ran out of time before this zone's turn")
	case r.req.Action == Rotate:
		// With a step already broken, the zone is read to tell whether it
		// only has a delivery to finish (a retried rotation): that is worth
		// doing whatever time is left, and the others fail for the broken
		// step, not for the time the zone that found it took.
		if why := r.timeToRefresh(); why != "" && r.brokenStep() == nil {
			res = skipped(zone, why)
		} else {
			res = r.rotate(zone)
		}
	case r.req.Action == Sync:
		res = r.sync(zone)
	case r.req.Action == Check:
		res = r.check(zone)
	default:
		res = ZoneResult{Outcome: Failed, Error: fmt.Sprintf("key unchanged: unknown action %q", r.req.Action)}
	}
	res.ZoneID = zone
	if res.Sinks == nil {
		res.Sinks = []SinkResult{}
	}
	res.DurationMs = time.Since(start).Milliseconds()
	level := slog.LevelInfo
	if !res.Outcome.Good() {
		level = slog.LevelError
	}
	r.log.LogAttrs(r.ctx, level, "zone done", slog.String("zoneId", zone),
		slog.String("action", string(r.req.Action)), slog.String("outcome", string(res.Outcome)),
		slog.String("fingerprint", res.Fingerprint), slog.Int64("durationMs", res.DurationMs),
		slog.String("apiAction", res.APIAction), slog.String("code", res.Code), slog.String("error", res.Error))
	if res.Outcome == Failed && r.req.Action != Check {
		r.notify(res)
	}
	return res
}

func skipped(zone, why string) ZoneResult {
	return ZoneResult{ZoneID: zone, Outcome: Skipped, Sinks: []SinkResult{}, Error: "key unchanged: skipped: " + why}
}

// rotatedIncomplete starts the error of a zone whose key changed but whose
// delivery did not finish (stagedFailure rewords it for staged mode).
const rotatedIncomplete = "key rotated, delivery incomplete: run sync: "

// fail fills res as failed because of err; keyChanged says whether the
// zone's key was replaced (consumers may hold a dead key).
func fail(res ZoneResult, keyChanged bool, err error) ZoneResult {
	res.Outcome = Failed
	res.KeyChanged = res.KeyChanged || keyChanged
	res.APIAction, res.Code = failedCall(err)
	prefix := "key unchanged: "
	if res.KeyChanged {
		prefix = rotatedIncomplete
	}
	res.Error = prefix + err.Error()
	return res
}

// unchanged is the result of a zone stopped by err before its key changed:
// skipped when the run's time ran out (or a rate-limit slot would come too
// late), failed otherwise.
func (r *run) unchanged(res ZoneResult, err error) ZoneResult {
	if r.ctx.Err() != nil || errors.Is(err, ratelimit.ErrNoTime) {
		s := skipped(res.ZoneID, "the invocation ran out of time before the refresh")
		s.Sinks, s.Fingerprint = res.Sinks, res.Fingerprint
		return s
	}
	return fail(res, false, err)
}

// noticeContext bounds one failure notice; it runs inside the margin.
func (r *run) noticeContext() (context.Context, context.CancelFunc) {
	// Detached from the zone's context: a zone that failed because the
	// deadline ran out is still announced.
	ctx := context.WithoutCancel(r.ctx)
	end := time.Now().Add(r.e.margin() / 2)
	if last := r.deadline.Add(-r.e.margin() / 4); !r.deadline.IsZero() && last.Before(end) {
		end = last
	}
	return context.WithDeadline(ctx, end)
}

// notify announces a failed zone through every sink that can.
func (r *run) notify(res ZoneResult) {
	remedy := "check the error; the key is unchanged, so the next rotation can simply run again"
	if res.KeyChanged {
		remedy = "run sync for " + res.ZoneID + " (CLI: sync --zones " + res.ZoneID + "; HTTP: POST …/sync)"
	}
	f := sink.Failure{ZoneID: res.ZoneID, Action: string(r.req.Action), RotationID: r.req.RotationID, KeyChanged: res.KeyChanged,
		APIAction: res.APIAction, Code: res.Code, Reason: res.Error, Remedy: remedy, Fingerprint: res.Fingerprint}
	broadcast(r, res.ZoneID, "failure notice", func(ctx context.Context, n sink.Notifier) error { return n.NotifyFailure(ctx, f) })
}

// broadcast sends one notice through every sink that implements N, within
// the notice budget; a sink that fails it is logged, never fatal: the zone's
// outcome is already decided.
func broadcast[N any](r *run, zone, what string, send func(context.Context, N) error) {
	ctx, cancel := r.noticeContext()
	defer cancel()
	for _, s := range r.e.Sinks {
		if n, ok := s.(N); ok {
			if err := send(ctx, n); err != nil {
				r.log.LogAttrs(ctx, slog.LevelError, what+" not delivered",
					slog.String("zoneId", zone), slog.String("sink", s.Name()), slog.String("error", err.Error()))
			}
		}
	}
}
