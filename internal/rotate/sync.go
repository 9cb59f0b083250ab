package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// sync delivers the live key to every sink whose copy differs (a webhook,
// which cannot be read back, always gets it again). It never refreshes.
func (r *run) sync(zone string) ZoneResult {
	res := ZoneResult{ZoneID: zone}
	live, err := r.e.TEO.Describe(r.ctx, zone)
	if err != nil {
		return fail(res, false, err)
	}
	if live.IsZero() {
		return fail(res, false, errors.New("the zone has no multi-path gateway key to deliver"))
	}
	return r.deliver(zone, live, false, res, Synced)
}

// check compares the live key with every store; it writes nothing.
func (r *run) check(zone string) ZoneResult {
	res := ZoneResult{ZoneID: zone, Outcome: InSync}
	live, err := r.e.TEO.Describe(r.ctx, zone)
	if err != nil {
		return fail(res, false, err)
	}
	res.Fingerprint = live.Fingerprint()
	var firstErr error
	var rec *sink.Record
	drift := false
	for _, s := range r.e.Sinks {
		st, ok := s.(sink.Store)
		if !ok {
			res.Sinks = append(res.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Skipped, Error: "cannot be read back"})
			continue
		}
		h, err := st.Inspect(r.ctx, zone)
		if rec == nil && err == nil {
			rec = h.Record
		}
		switch {
		case err != nil:
			res.Sinks = append(res.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Failed, Error: err.Error()})
			firstErr = cmp.Or(firstErr, fmt.Errorf("%s: %w", s.Name(), err))
		case h.Key.IsZero():
			drift = true
			res.Sinks = append(res.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Drift, Error: "holds no key"})
		case !h.Key.Equal(live):
			drift = true
			res.Sinks = append(res.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Drift, Error: "holds " + h.Key.Fingerprint()})
		default:
			res.Sinks = append(res.Sinks, SinkResult{Name: s.Name(), Outcome: sink.OK})
		}
	}
	if rec == nil && r.e.Memory != nil {
		if m, ok := r.e.Memory.load(zone); ok {
			rec = &m
		}
	}
	stale := r.keyAge(&res, rec, live.Fingerprint())
	switch {
	case drift:
		res.Outcome = Drifted
		res.Error = "a sink differs from the live key: run sync"
		if firstErr != nil {
			res.APIAction, res.Code = failedCall(firstErr)
		}
	case firstErr != nil:
		res = fail(res, false, firstErr)
	case stale:
		res.Outcome = Stale
		when := "at " + res.RotatedAt
		if res.RotatedAt == "" {
			when = "before its last rotation record"
		}
		res.Error = fmt.Sprintf("in sync, but the live key was last rotated %s, %s ago, longer than MAX_KEY_AGE (%s): rotate it",
			when, time.Duration(res.AgeSeconds)*time.Second, r.e.MaxKeyAge)
		r.notifyStale(res)
	}
	return res
}

// keyAge fills in when this function last rotated the zone's live key,
// from its record, and says whether that is longer ago than MaxKeyAge. A
// record whose rotation did not change the key (From is still the live
// one) dates nothing, but the key is at least that old.
func (r *run) keyAge(res *ZoneResult, rec *sink.Record, liveFingerprint string) (stale bool) {
	if rec == nil {
		return false
	}
	age := time.Since(rec.At)
	res.AgeSeconds = int64(age / time.Second) // at least
	if rec.From != liveFingerprint {
		res.RotatedAt = rec.At.UTC().Format(time.RFC3339)
	}
	return r.e.MaxKeyAge > 0 && age > r.e.MaxKeyAge
}

// notifyStale tells every sink that can about a stale key.
func (r *run) notifyStale(res ZoneResult) {
	age := time.Duration(res.AgeSeconds) * time.Second
	at, err := time.Parse(time.RFC3339, res.RotatedAt)
	if err != nil {
		at = time.Now().Add(-age) // the key is at least this old
	}
	st := sink.Stale{ZoneID: res.ZoneID, RequestID: r.req.RequestID, RotatedAt: at,
		Age: age, MaxAge: r.e.MaxKeyAge, Fingerprint: res.Fingerprint}
	broadcast(r, res.ZoneID, "stale notice", func(ctx context.Context, n sink.StaleNotifier) error { return n.NotifyStale(ctx, st) })
}
