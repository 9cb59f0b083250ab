package rotate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/ratelimit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// rotation is the state of one zone's rotation as its steps fill it in.
type rotation struct {
	*run
	zone   string
	stores []inspected
	own    *sink.Record // this rotation's record, found when it is a retry
	from   string       // fingerprint of the key about to die
	live   secret.Key   // the live key, when read before the refresh
	// refused is a Refresh refused by TEO although the live key then was
	// not the one the stores held: delivered, but not reported a rotation.
	refused error
	res     ZoneResult
}

// inspected is one store and what it held.
type inspected struct {
	store   sink.Store
	holding sink.Holding
}

// rotate runs the steps of a rotation of zone.
func (r *run) rotate(zone string) ZoneResult {
	z := &rotation{run: r, zone: zone, res: ZoneResult{ZoneID: zone}}
	if err := z.inspect(); err != nil {
		return r.unchanged(z.res, err)
	}
	if r.req.DryRun {
		return z.plan()
	}
	if r.e.Staged {
		return z.staged()
	}
	if r.brokenStep() != nil && z.own == nil {
		// A new rotation while a step is failing: nothing to record.
		stop, _ := z.mayChangeKey(z.res)
		return stop
	}
	resumed, err := z.record()
	if err != nil {
		return r.unchanged(z.res, err)
	}
	if resumed {
		// This rotation already refreshed the zone (the platform retried it,
		// here or on another instance): finish delivering, never refresh again.
		// The report says so, and when the refresh happened: a re-used
		// rotation id names that one rotation, not a new one.
		z.res.KeyChanged = true
		z.res.Redelivered = true
		if !z.own.At.IsZero() {
			z.res.RotatedAt = z.own.At.UTC().Format(time.RFC3339)
		}
		return r.deliver(zone, z.live, false, z.res, Rotated)
	}
	key, res, done := z.refresh()
	if done {
		return res
	}
	return z.refusedOutcome(r.deliver(zone, key, z.refused == nil, z.res, Rotated))
}

// inspect is step 1: every store says what it holds, all at once (or
// said so already, when the run checked MIN_ROTATION_INTERVAL first).
func (z *rotation) inspect() error {
	stores, ok := z.takeInspected(z.zone)
	if !ok {
		var failed *SinkResult
		var err error
		if stores, failed, err = z.inspectStores(z.zone); err != nil {
			z.res.Sinks = append(z.res.Sinks, *failed)
			return fmt.Errorf("%s not ready, so the key was not refreshed: %w", failed.Name, err)
		}
	}
	z.stores = stores
	for _, st := range z.stores {
		if z.from == "" && !st.holding.Key.IsZero() {
			z.from = st.holding.Key.Fingerprint()
		}
		if rec := st.holding.Record; rec != nil && rec.RotationID == z.req.RotationID && z.own == nil {
			z.own = rec
		}
	}
	if z.own == nil && z.e.Memory != nil {
		if rec, ok := z.e.Memory.load(z.zone); ok && rec.RotationID == z.req.RotationID {
			z.own = &rec
		}
	}
	return nil
}

// inspectStores asks every store what it holds for zone, all at once. On a
// failure it names the first store that failed.
func (r *run) inspectStores(zone string) ([]inspected, *SinkResult, error) {
	var stores []inspected
	for _, s := range r.e.Sinks {
		if st, ok := s.(sink.Store); ok {
			stores = append(stores, inspected{store: st})
		}
	}
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i].holding, errs[i] = stores[i].store.Inspect(r.ctx, zone) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			name := stores[i].store.Name()
			return nil, &SinkResult{Name: name, Outcome: sink.Failed, Error: err.Error()}, err
		}
	}
	return stores, nil, nil
}

// ensureFrom reads the live key before the key changes when it is needed:
// a store to create holds the live key, and with no key held anywhere the
// fingerprint to judge a change by (From) comes from TEO.
func (z *rotation) ensureFrom() error {
	needLive := z.from == ""
	for _, st := range z.stores {
		needLive = needLive || !st.holding.Exists
	}
	if !needLive {
		return nil
	}
	if err := z.describe(); err != nil {
		return err
	}
	if z.from == "" {
		z.from = z.live.Fingerprint()
	}
	return nil
}

// describe reads the live key before the refresh.
func (z *rotation) describe() error {
	live, err := z.e.TEO.Describe(z.ctx, z.zone)
	if err != nil {
		return err
	}
	z.live = live
	z.res.Fingerprint = live.Fingerprint()
	return nil
}

// plan ends a dry run: everything so far only read; Describe proves TEO
// access and names the key that would be replaced.
func (z *rotation) plan() ZoneResult {
	if err := z.describe(); err != nil {
		return z.unchanged(z.res, err)
	}
	z.res.Outcome = Planned
	return z.res
}

// record is step 2. A retry that finds its own record learns from Describe
// whether its refresh happened (resumed: deliver the live key) or not
// (refresh now, the record is already there). Otherwise the rotation is
// recorded in every store, and in memory.
func (z *rotation) record() (resumed bool, err error) {
	if z.own != nil {
		if err := z.describe(); err != nil {
			return false, err
		}
		z.res.PreviousFingerprint = z.own.From
		if z.own.State == sink.Done || z.live.Fingerprint() != z.own.From {
			return true, nil
		}
		z.from = z.own.From
		return false, nil
	}
	if err := z.ensureFrom(); err != nil {
		return false, err
	}
	rec := sink.Record{RotationID: z.req.RotationID, State: sink.Pending, From: z.from, At: time.Now().UTC()}
	for _, st := range z.stores {
		if err := st.store.Begin(z.ctx, z.zone, st.holding, rec, z.live); err != nil {
			z.res.Sinks = append(z.res.Sinks, SinkResult{Name: st.store.Name(), Outcome: sink.Failed, Error: err.Error()})
			return false, fmt.Errorf("recording the rotation before refreshing: %s: %w", st.store.Name(), err)
		}
	}
	if z.e.Memory != nil {
		z.e.Memory.save(z.zone, rec)
	}
	return false, nil
}

// refresh is step 3. It returns the new key, or the zone's final result
// (done) when it must stop: a sink already failed in this run, no time is
// left to deliver, or the refresh failed.
func (z *rotation) refresh() (key secret.Key, res ZoneResult, done bool) {
	z.res.PreviousFingerprint = z.from
	if stop, ok := z.mayChangeKey(z.res); !ok {
		return key, stop, true
	}
	key, changed, err := z.changeKey(func(ctx context.Context) (secret.Key, error) { return z.e.TEO.Refresh(ctx, z.zone) })
	if err == nil {
		z.res.KeyChanged = true
		z.res.Fingerprint = key.Fingerprint()
		return key, z.res, false
	}
	if changed {
		res = fail(z.res, true, err)
		res.Error = "key may have rotated (the refresh answer was lost and Describe failed), delivery incomplete: run sync: " + err.Error()
		return key, res, true
	}
	return key, z.unchanged(z.res, err), true
}

// changeKey sends op — Refresh, or Modify in staged mode — no later than
// DELIVERY_WINDOW before the deadline, and returns the key then live. An
// op whose answer was lost may have changed the key all the same: Describe
// tells, and op is sent again only when the key is certainly unchanged.
// changed says the key may have changed although err is set. A refusal
// (AuthFailure, OperationDenied, …) followed by a live key that is not
// From sets z.refused: the key is delivered but not called a rotation.
func (z *rotation) changeKey(op func(ctx context.Context) (secret.Key, error)) (key secret.Key, changed bool, err error) {
	by := z.refreshBy()
	err = z.e.refreshRetry().Do(z.ctx, func(ctx context.Context, attempt int) error {
		opCtx := ctx
		if !by.IsZero() {
			// A rate-limit wait must not push the change past the window.
			// Only the change: the Describe that judges a lost answer
			// must still be sent after it.
			opCtx = ratelimit.WithSendBy(ctx, by)
		}
		k, oerr := op(opCtx)
		if oerr == nil {
			key = k
			return nil
		}
		if errors.Is(oerr, ratelimit.ErrNoTime) {
			return retry.Final(oerr) // never sent
		}
		live, derr := z.e.TEO.Describe(ctx, z.zone)
		refusal := !retry.IsRetryable(oerr)
		switch {
		case derr != nil && refusal:
			return retry.Final(oerr)
		case derr != nil:
			changed = true
			return retry.Final(fmt.Errorf("%w (and confirming with Describe failed: %v)", oerr, derr))
		case live.Fingerprint() != z.from:
			// Changed although the answer was lost, or by someone else
			// meanwhile: either way this is the key to deliver. After a
			// refusal it may also be a store that was stale.
			key = live
			if refusal {
				z.refused = oerr
			}
			return nil
		}
		return oerr
	})
	return key, changed, err
}

// refusedOutcome reports a zone whose key change was refused although the
// live key was then not From (see changeKey): delivered, but failed with
// the refusal's code, never rotated.
func (z *rotation) refusedOutcome(res ZoneResult) ZoneResult {
	if z.refused == nil || res.Outcome != Rotated {
		return res
	}
	res.Outcome = Failed
	res.APIAction, res.Code = failedCall(z.refused)
	res.Error = "key may have rotated: the change was refused, yet the live key is not the one the sinks held; " +
		"the live key was delivered to every sink: " + z.refused.Error()
	return res
}

// deliver is steps 4 and 5: key goes to every sink, then TEO confirms it is
// the live key; when it is not, the live one is delivered instead, for a
// bounded number of rounds. fresh says key was just made by a refresh.
func (r *run) deliver(zone string, key secret.Key, fresh bool, res ZoneResult, success Outcome) ZoneResult {
	d := sink.Delivery{ZoneID: zone, Action: string(r.req.Action), RotationID: r.req.RotationID, Previous: res.PreviousFingerprint}
	wrote := false // any sink written in any round: sync did something
	var done sink.Record
	for round := 1; ; round++ {
		d.Key, d.Fresh = key, fresh
		done = r.doneRecord(res.PreviousFingerprint, key)
		results, err := r.send(d, done)
		for _, sr := range results {
			wrote = wrote || sr.Outcome != sink.Unchanged
		}
		res.Sinks = results
		res.Fingerprint = key.Fingerprint()
		live, derr := r.e.TEO.Describe(r.ctx, zone)
		if derr != nil {
			r.markBroken("confirming the live key with TEO", derr)
			if err == nil {
				err = fmt.Errorf("delivered, but confirming the live key failed: %w", derr)
			}
			return fail(res, res.KeyChanged, err)
		}
		if live.Equal(key) {
			if err != nil {
				return fail(res, res.KeyChanged, err)
			}
			break
		}
		// The key changed under us: whatever was just delivered is dead.
		r.log.LogAttrs(r.ctx, slog.LevelWarn, "live key changed during delivery; delivering the live key",
			slog.String("zoneId", zone), slog.String("delivered", key.Fingerprint()), slog.String("live", live.Fingerprint()))
		res.KeyChanged = true
		key, fresh = live, false
		if round >= r.e.confirmRounds() {
			res.Fingerprint = live.Fingerprint()
			return fail(res, true, fmt.Errorf("the live key kept changing during delivery (%d rounds): another rotation is running", round))
		}
	}
	res.Outcome = success
	if success == Synced && !wrote {
		res.Outcome = InSync
	}
	if done.RotationID != "" && r.e.Memory != nil {
		r.e.Memory.save(zone, done)
	}
	return res
}

// doneRecord is the record of a rotation delivered everywhere; the zero
// Record for sync and check, which leave the record as it is.
func (r *run) doneRecord(from string, key secret.Key) sink.Record {
	if r.req.Action != Rotate {
		return sink.Record{}
	}
	return sink.Record{RotationID: r.req.RotationID, State: sink.Done, From: from, To: key.Fingerprint(), At: r.started.UTC()}
}

// send delivers d to every sink at once; in staged mode a Stager promotes
// the key instead (current takes it, the pending version goes) and records
// done. err is the first failure, in sink order; every failure marks its
// sink broken for the rest of the run.
func (r *run) send(d sink.Delivery, done sink.Record) ([]SinkResult, error) {
	results := make([]SinkResult, len(r.e.Sinks))
	errs := make([]error, len(r.e.Sinks))
	var wg sync.WaitGroup
	for i, s := range r.e.Sinks {
		wg.Go(func() {
			var o sink.Outcome
			var err error
			if st, ok := s.(sink.Stager); ok && r.e.Staged {
				o, err = st.Promote(r.ctx, d.ZoneID, d.Key, done)
			} else {
				o, err = s.Deliver(r.ctx, d)
			}
			results[i] = SinkResult{Name: s.Name(), Outcome: o}
			if err != nil {
				results[i].Outcome = sink.Failed
				results[i].Error = err.Error()
				errs[i] = fmt.Errorf("%s: %w", s.Name(), err)
				r.markBroken(s.Name(), err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return results, err
		}
	}
	return results, nil
}
