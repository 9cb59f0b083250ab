package rotate

import (
	"fmt"
	"sync"
	"time"
)

// lastRotation is when zone was last rotated by this function, from the
// record in the first store that has one, else from memory; zero when no
// record exists. It only reads, and keeps what the stores said for the
// zone's rotation, so that checking the interval costs no extra call.
func (r *run) lastRotation(zone string) time.Time {
	stores, _, err := r.inspectStores(zone)
	if err != nil {
		return time.Time{} // the rotation inspects again and fails on it
	}
	r.keepInspected(zone, stores)
	// A record of this very rotation is a platform retry finishing what it
	// began: never refused.
	for _, st := range stores {
		if rec := st.holding.Record; rec != nil {
			if rec.RotationID == r.req.RotationID {
				return time.Time{}
			}
			return rec.At
		}
	}
	if r.e.Memory != nil {
		if rec, ok := r.e.Memory.load(zone); ok && rec.RotationID != r.req.RotationID {
			return rec.At
		}
	}
	return time.Time{}
}

func (r *run) keepInspected(zone string, stores []inspected) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inspected == nil {
		r.inspected = map[string][]inspected{}
	}
	r.inspected[zone] = stores
}

// takeInspected hands over, once, what the stores said for zone.
func (r *run) takeInspected(zone string) ([]inspected, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stores, ok := r.inspected[zone]
	delete(r.inspected, zone)
	return stores, ok
}

// tooSoon refuses a rotate when any requested zone was rotated less than
// req.MinInterval ago, before anything is written: rep filled in with every
// zone skipped and RetryAfterSeconds, and true. A store that cannot be read
// refuses nothing here; the rotation itself then fails on it.
func (r *run) tooSoon(plan []planned, rep *Report) (Report, bool) {
	last := make([]time.Time, len(plan))
	var wg sync.WaitGroup
	for i, p := range plan {
		if p.refused == nil {
			wg.Go(func() { last[i] = r.lastRotation(p.zone) })
		}
	}
	wg.Wait()
	var wait time.Duration
	for _, at := range last {
		if !at.IsZero() {
			wait = max(wait, r.req.MinInterval-time.Since(at))
		}
	}
	if wait <= 0 {
		return Report{}, false
	}
	out := *rep
	out.RetryAfterSeconds = int64((wait + time.Second - 1) / time.Second)
	out.Error = fmt.Sprintf("refused: a zone was rotated less than MIN_ROTATION_INTERVAL (%s) ago; retry after %ds", r.req.MinInterval, out.RetryAfterSeconds)
	for i, p := range plan {
		z := skipped(p.zone, "refused: a rotate was requested within MIN_ROTATION_INTERVAL of the last one")
		if p.refused != nil {
			z = *p.refused
		} else if !last[i].IsZero() {
			z.RotatedAt = last[i].UTC().Format(time.RFC3339)
		}
		out.Zones = append(out.Zones, z)
	}
	r.log.Warn("rotate refused: too soon after the last rotation", "action", string(r.req.Action),
		"retryAfterSeconds", out.RetryAfterSeconds, "minRotationInterval", r.req.MinInterval.String())
	return out, true
}
