package rotate

import (
	"cmp"
	"errors"
	"fmt"

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
	drift := false
	for _, s := range r.e.Sinks {
		st, ok := s.(sink.Store)
		if !ok {
			res.Sinks = append(res.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Skipped, Error: "cannot be read back"})
			continue
		}
		h, err := st.Inspect(r.ctx, zone)
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
	switch {
	case drift:
		res.Outcome = Drifted
		res.Error = "a sink differs from the live key: run sync"
		if firstErr != nil {
			res.APIAction, res.Code = failedCall(firstErr)
		}
	case firstErr != nil:
		res = fail(res, false, firstErr)
	}
	return res
}
