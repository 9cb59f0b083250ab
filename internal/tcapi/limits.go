package tcapi

import (
	"context"
	"sync"

	"golang.org/x/time/rate"
)

// Limits holds one token bucket per action, shared by every zone of a run,
// so that a run never sends an action faster than the service allows.
type Limits struct {
	perSecond float64
	actions   map[string]float64
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
}

// NewLimits allows perSecond requests per action, or the rate perAction
// gives for an action ("Service.Action" keys). A burst of one spaces
// requests evenly, which a service counting per second never rejects.
func NewLimits(perSecond float64, perAction map[string]float64) *Limits {
	return &Limits{perSecond: perSecond, actions: perAction, buckets: map[string]*rate.Limiter{}}
}

// Wait blocks until action may be sent, or ctx ends. A nil *Limits never waits.
func (l *Limits) Wait(ctx context.Context, action string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	b, ok := l.buckets[action]
	if !ok {
		r, ok := l.actions[action]
		if !ok {
			r = l.perSecond
		}
		b = rate.NewLimiter(rate.Limit(r), 1)
		l.buckets[action] = b
	}
	l.mu.Unlock()
	return b.Wait(ctx)
}
