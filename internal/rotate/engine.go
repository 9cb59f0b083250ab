// Package rotate is the rotation engine. For each zone of a request it
// follows the four explicit, idempotent steps of a rotation:
//
//  1. preflight: every sink that can be read answers and can take the key,
//     the zone's live key is read, and the rotation is recorded as pending
//     beside the key (so a retry of the same rotation never refreshes twice);
//  2. refresh: TEO replaces the key (the old one dies at once);
//  3. deliver: every sink receives the new key, with retries;
//  4. confirm: TEO is asked which key is live; when it is not the one
//     delivered (a concurrent rotation, a console change) the live one is
//     delivered instead, so that no sink is left holding a dead key. The
//     record is then marked done.
//
// sync runs steps 3 and 4 with the live key; check compares without writing.
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
}

// Request is one action over a set of zones.
type Request struct {
	Action     Action
	Zones      []string // requested; empty means every allowed zone
	RequestID  string
	RotationID string // identifies a rotation across platform retries; "" = RequestID
	DryRun     bool   // rotate: preflight only, refresh nothing
}

// Engine runs requests. Build one per invocation (its TEO client carries
// the invocation's credentials); share Memory across invocations.
type Engine struct {
	Allowed []string // ZONE_IDS: nothing outside it is ever touched
	TEO     TEO
	Sinks   []sink.Sink
	Memory  *Memory // per-process rotation records; nil = none kept

	Concurrency int // zones in flight at once; default 4
	// CallBudget is the longest one TEO call may take, retries included.
	CallBudget time.Duration // default 15s
	// Margin is kept free before the deadline to answer the platform.
	Margin time.Duration // default 1s
	// ConfirmRounds bounds how often delivery restarts because the live key
	// changed under it.
	ConfirmRounds int // default 3
	// RefreshRetry paces attempts of a refresh that failed without replacing
	// the key (told by Describe).
	RefreshRetry retry.Policy // default 3 attempts, 500ms..2s
	Logger       *slog.Logger
}

func (e *Engine) concurrency() int { return cmp.Or(e.Concurrency, 4) }
func (e *Engine) callBudget() time.Duration {
	return cmp.Or(e.CallBudget, 15*time.Second)
}
func (e *Engine) margin() time.Duration { return cmp.Or(e.Margin, time.Second) }
func (e *Engine) confirmRounds() int    { return cmp.Or(e.ConfirmRounds, 3) }
func (e *Engine) refreshRetry() retry.Policy {
	if e.RefreshRetry.Attempts == 0 {
		return retry.Policy{Attempts: 3, Initial: 500 * time.Millisecond, Max: 2 * time.Second}
	}
	return e.RefreshRetry
}

// logger is the engine's logger for req: every line names the request.
func (e *Engine) logger(req Request) *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger.With("requestId", req.RequestID)
}

// DeliveryBudget is the time a zone needs once its key is refreshed: the
// refresh answer, the slowest sink's delivery with its retries, and the
// confirming Describe. A zone is not refreshed with less time left.
func (e *Engine) DeliveryBudget() time.Duration {
	var slowest time.Duration
	for _, s := range e.Sinks {
		slowest = max(slowest, s.Budget())
	}
	return 2*e.callBudget() + slowest
}

// Run executes req and reports on every requested zone.
func (e *Engine) Run(ctx context.Context, req Request) Report {
	req.RotationID = sink.NormalizeRotationID(cmp.Or(req.RotationID, req.RequestID))
	rep := Report{Action: req.Action, RequestID: req.RequestID, DryRun: req.DryRun, Zones: []ZoneResult{}}
	if req.Action == Rotate {
		rep.RotationID = req.RotationID
	}
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-e.margin()))
		defer cancel()
	}

	plan := e.plan(req.Zones)
	results := make([]ZoneResult, len(plan))
	sem := make(chan struct{}, e.concurrency())
	var wg sync.WaitGroup
	for i, p := range plan {
		if p.refused != nil {
			results[i] = *p.refused
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				results[i] = e.zone(ctx, req, p.zone)
			case <-ctx.Done():
				results[i] = skipped(p.zone, "the invocation ran out of time before this zone's turn")
			}
		}()
	}
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

func skipped(zone, why string) ZoneResult {
	return ZoneResult{ZoneID: zone, Outcome: Skipped, Sinks: []SinkResult{}, Error: "key unchanged: skipped: " + why}
}

// zone runs the request's action on one zone and logs the result.
func (e *Engine) zone(ctx context.Context, req Request, zone string) ZoneResult {
	start := time.Now()
	var r ZoneResult
	if ctx.Err() != nil {
		r = skipped(zone, "the invocation ran out of time before this zone's turn")
	} else {
		switch req.Action {
		case Rotate:
			r = e.rotate(ctx, req, zone)
		case Sync:
			r = e.sync(ctx, req, zone)
		case Check:
			r = e.check(ctx, zone)
		default:
			r = ZoneResult{ZoneID: zone, Outcome: Failed, Error: fmt.Sprintf("key unchanged: unknown action %q", req.Action)}
		}
	}
	r.ZoneID = zone
	if r.Sinks == nil {
		r.Sinks = []SinkResult{}
	}
	r.DurationMs = time.Since(start).Milliseconds()
	level := slog.LevelInfo
	if !r.Outcome.Good() {
		level = slog.LevelError
	}
	e.logger(req).LogAttrs(ctx, level, "zone done", slog.String("zoneId", zone),
		slog.String("action", string(req.Action)), slog.String("outcome", string(r.Outcome)),
		slog.String("fingerprint", r.Fingerprint), slog.Int64("durationMs", r.DurationMs),
		slog.String("apiAction", r.APIAction), slog.String("code", r.Code), slog.String("error", r.Error))
	if r.Outcome == Failed && req.Action != Check {
		e.notify(ctx, req, r)
	}
	return r
}

// fail fills r as failed because of err; keyChanged says whether the zone's
// key was replaced (consumers may hold a dead key).
func fail(r ZoneResult, keyChanged bool, err error) ZoneResult {
	r.Outcome = Failed
	r.KeyChanged = r.KeyChanged || keyChanged
	r.APIAction, r.Code = failedCall(err)
	prefix := "key unchanged: "
	if r.KeyChanged {
		prefix = "key rotated, delivery incomplete: run sync: "
	}
	r.Error = prefix + err.Error()
	return r
}

func (e *Engine) rotate(ctx context.Context, req Request, zone string) ZoneResult {
	r := ZoneResult{ZoneID: zone}
	// 1. Preflight: can every readable sink take the key?
	for _, s := range e.Sinks {
		if rd, ok := s.(sink.Reader); ok {
			if err := rd.Preflight(ctx, zone); err != nil {
				r.Sinks = append(r.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Failed, Error: err.Error()})
				return fail(r, false, fmt.Errorf("%s not ready, so the key was not refreshed: %w", s.Name(), err))
			}
		}
	}
	live, err := e.TEO.Describe(ctx, zone)
	if err != nil {
		return fail(r, false, err)
	}
	r.Fingerprint = live.Fingerprint()
	if req.DryRun {
		// Everything above only read; a dry run stops before the first write.
		r.Outcome = Planned
		return r
	}
	rec, found, err := e.loadRecord(ctx, zone)
	if err != nil {
		return fail(r, false, err)
	}
	if found && rec.RotationID == req.RotationID && (rec.State == sink.Done || rec.From != live.Fingerprint()) {
		// This rotation already refreshed the zone (the platform retried
		// it, here or on another instance): finish delivering, never
		// refresh again.
		r.PreviousFingerprint = rec.From
		r.KeyChanged = true
		return e.deliverAndConfirm(ctx, req, zone, live, r, Rotated)
	}
	// 2. Refresh, only with time left to deliver.
	if deadline, ok := ctx.Deadline(); ok {
		if left, need := time.Until(deadline), e.DeliveryBudget(); left < need {
			return skipped(zone, fmt.Sprintf("%s left before the deadline, delivery needs up to %s; raise the function timeout or rotate fewer zones per run",
				left.Round(time.Second), need.Round(time.Second)))
		}
	}
	pending := sink.Record{RotationID: req.RotationID, State: sink.Pending, From: live.Fingerprint(), At: time.Now()}
	if err := e.saveRecord(ctx, zone, pending, live); err != nil {
		return fail(r, false, fmt.Errorf("recording the rotation before refreshing: %w", err))
	}
	r.PreviousFingerprint = live.Fingerprint()
	key, changed, err := e.refresh(ctx, zone, live)
	if err != nil {
		r = fail(r, changed, err)
		if changed {
			r.Error = "key may have rotated (the refresh answer was lost and Describe failed), delivery incomplete: run sync: " + err.Error()
		}
		return r
	}
	r.KeyChanged = true
	r.Fingerprint = key.Fingerprint()
	// 3 and 4.
	return e.deliverAndConfirm(ctx, req, zone, key, r, Rotated)
}

// refresh replaces the zone's key. A failed Refresh may still have replaced
// it (the answer lost on the way back): Describe tells, and only a key that
// is certainly unchanged is refreshed again. changed is true when the key
// may have changed although no key is returned.
func (e *Engine) refresh(ctx context.Context, zone string, old secret.Key) (key secret.Key, changed bool, err error) {
	err = e.refreshRetry().Do(ctx, func(ctx context.Context, attempt int) error {
		k, rerr := e.TEO.Refresh(ctx, zone)
		if rerr == nil {
			key = k
			return nil
		}
		live, derr := e.TEO.Describe(ctx, zone)
		switch {
		case derr != nil:
			changed = true
			return retry.Final(fmt.Errorf("%w (and confirming with Describe failed: %v)", rerr, derr))
		case !live.Equal(old):
			// Refreshed although the answer was lost, or replaced by
			// someone else meanwhile: either way this is the key to deliver.
			key = live
			return nil
		}
		return rerr
	})
	if err != nil {
		return secret.Key{}, changed, err
	}
	return key, true, nil
}

// deliverAndConfirm delivers key to every sink, then confirms with TEO that
// it is the live key, delivering the live one instead when it is not.
func (e *Engine) deliverAndConfirm(ctx context.Context, req Request, zone string, key secret.Key, r ZoneResult, success Outcome) ZoneResult {
	d := sink.Delivery{ZoneID: zone, Action: string(req.Action), RotationID: req.RotationID, Previous: r.PreviousFingerprint}
	wrote := false // any sink written in any round: sync did something
	for round := 1; ; round++ {
		d.Key = key
		results, err := e.deliver(ctx, d)
		for _, res := range results {
			wrote = wrote || res.Outcome != sink.Unchanged
		}
		r.Sinks = results
		r.Fingerprint = key.Fingerprint()
		live, derr := e.TEO.Describe(ctx, zone)
		if derr != nil {
			if err == nil {
				err = fmt.Errorf("delivered, but confirming the live key failed: %w", derr)
			}
			return fail(r, r.KeyChanged, err)
		}
		if live.Equal(key) {
			if errors.Is(err, sink.ErrConflict) && round < e.confirmRounds() {
				// A slower writer put an older key back after ours: the key
				// delivered is still the live one, so deliver it again.
				continue
			}
			if err != nil {
				return fail(r, r.KeyChanged, err)
			}
			break
		}
		// The key changed under us: whatever was just delivered is dead.
		e.logger(req).LogAttrs(ctx, slog.LevelWarn, "live key changed during delivery; delivering the live key",
			slog.String("zoneId", zone),
			slog.String("delivered", key.Fingerprint()), slog.String("live", live.Fingerprint()))
		r.KeyChanged = true
		key = live
		if round >= e.confirmRounds() {
			r.Fingerprint = live.Fingerprint()
			return fail(r, true, fmt.Errorf("the live key kept changing during delivery (%d rounds): another rotation is running", round))
		}
	}
	r.Outcome = success
	if success == Synced && !wrote {
		r.Outcome = InSync
	}
	if req.Action == Rotate {
		done := sink.Record{RotationID: req.RotationID, State: sink.Done, From: r.PreviousFingerprint, To: key.Fingerprint(), At: time.Now()}
		if err := e.saveRecord(ctx, zone, done, key); err != nil {
			// Every sink holds the key; a retry of this rotation will find
			// the pending record, see the key changed, and only re-deliver.
			e.logger(req).LogAttrs(ctx, slog.LevelWarn, "could not mark the rotation done",
				slog.String("zoneId", zone), slog.String("error", err.Error()))
		}
	}
	return r
}

// deliver sends d to every sink at once. err is the first failure, in sink
// order.
func (e *Engine) deliver(ctx context.Context, d sink.Delivery) ([]SinkResult, error) {
	results := make([]SinkResult, len(e.Sinks))
	errs := make([]error, len(e.Sinks))
	var wg sync.WaitGroup
	for i, s := range e.Sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := s.Deliver(ctx, d)
			results[i] = SinkResult{Name: s.Name(), Outcome: o}
			if err != nil {
				results[i].Outcome = sink.Failed
				results[i].Error = err.Error()
				errs[i] = fmt.Errorf("%s: %w", s.Name(), err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

func (e *Engine) sync(ctx context.Context, req Request, zone string) ZoneResult {
	r := ZoneResult{ZoneID: zone}
	live, err := e.TEO.Describe(ctx, zone)
	if err != nil {
		return fail(r, false, err)
	}
	if live.IsZero() {
		return fail(r, false, errors.New("the zone has no multi-path gateway key to deliver"))
	}
	return e.deliverAndConfirm(ctx, req, zone, live, r, Synced)
}

func (e *Engine) check(ctx context.Context, zone string) ZoneResult {
	r := ZoneResult{ZoneID: zone, Outcome: InSync}
	live, err := e.TEO.Describe(ctx, zone)
	if err != nil {
		return fail(r, false, err)
	}
	r.Fingerprint = live.Fingerprint()
	var firstErr error
	drift := false
	for _, s := range e.Sinks {
		rd, ok := s.(sink.Reader)
		if !ok {
			r.Sinks = append(r.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Skipped, Error: "cannot be read back"})
			continue
		}
		held, found, err := rd.Read(ctx, zone)
		switch {
		case err != nil:
			r.Sinks = append(r.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Failed, Error: err.Error()})
			firstErr = cmp.Or(firstErr, fmt.Errorf("%s: %w", s.Name(), err))
		case !found:
			drift = true
			r.Sinks = append(r.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Drift, Error: "holds no key"})
		case !held.Equal(live):
			drift = true
			r.Sinks = append(r.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Drift, Error: "holds " + held.Fingerprint()})
		default:
			r.Sinks = append(r.Sinks, SinkResult{Name: s.Name(), Outcome: sink.OK})
		}
	}
	switch {
	case drift:
		r.Outcome = Drifted
		r.Error = "a sink differs from the live key: run sync"
		if firstErr != nil {
			r.APIAction, r.Code = failedCall(firstErr)
		}
	case firstErr != nil:
		r = fail(r, false, firstErr)
	}
	return r
}

// loadRecord returns this zone's rotation record from the first durable
// journal that has one, else from memory.
func (e *Engine) loadRecord(ctx context.Context, zone string) (sink.Record, bool, error) {
	for _, s := range e.Sinks {
		if j, ok := s.(sink.Journal); ok {
			rec, found, err := j.LoadRecord(ctx, zone)
			if err != nil {
				return sink.Record{}, false, fmt.Errorf("%s: reading the rotation record: %w", s.Name(), err)
			}
			if found {
				return rec, true, nil
			}
		}
	}
	if e.Memory != nil {
		rec, found := e.Memory.load(zone)
		return rec, found, nil
	}
	return sink.Record{}, false, nil
}

// saveRecord writes rec to every durable journal and to memory.
func (e *Engine) saveRecord(ctx context.Context, zone string, rec sink.Record, current secret.Key) error {
	for _, s := range e.Sinks {
		if j, ok := s.(sink.Journal); ok {
			if err := j.SaveRecord(ctx, zone, rec, current); err != nil {
				return fmt.Errorf("%s: %w", s.Name(), err)
			}
		}
	}
	if e.Memory != nil {
		e.Memory.save(zone, rec)
	}
	return nil
}

// notify announces a failed zone through every sink that can.
func (e *Engine) notify(ctx context.Context, req Request, r ZoneResult) {
	remedy := "check the error; the key is unchanged, so the next rotation can simply run again"
	if r.KeyChanged {
		remedy = "run sync for " + r.ZoneID + " (CLI: sync --zones " + r.ZoneID + "; HTTP: POST …/sync)"
	}
	f := sink.Failure{ZoneID: r.ZoneID, Action: string(req.Action), RotationID: req.RotationID, KeyChanged: r.KeyChanged,
		APIAction: r.APIAction, Code: r.Code, Reason: r.Error, Remedy: remedy, Fingerprint: r.Fingerprint}
	for _, s := range e.Sinks {
		if n, ok := s.(sink.Notifier); ok {
			if err := n.NotifyFailure(ctx, f); err != nil {
				e.logger(req).LogAttrs(ctx, slog.LevelError, "failure notice not delivered",
					slog.String("zoneId", r.ZoneID), slog.String("sink", s.Name()), slog.String("error", err.Error()))
			}
		}
	}
}
