package tcapi

import (
	"context"
	"sync"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/ratelimit"
)

// Limits holds one sliding-window limiter per action, shared by every zone
// of a run and by the runs of a warm instance, so that the instance never
// sends an action faster than the service allows.
type Limits struct {
	perSecond float64
	actions   map[string]float64
	mu        sync.Mutex
	limiters  map[string]*ratelimit.Limiter
}

// NewLimits allows perSecond requests per action, or the rate perAction
// gives for an action ("Service.Action" keys). A short run sends a second's
// worth at once; a long one runs at the rate, with ratelimit.DefaultMargin
// so that a service counting in a sliding second never rejects it.
func NewLimits(perSecond float64, perAction map[string]float64) *Limits {
	return &Limits{perSecond: perSecond, actions: perAction, limiters: map[string]*ratelimit.Limiter{}}
}

// Acquire blocks until action may be sent, or ctx ends, and returns done,
// to call when the answer has come back (see ratelimit.Limiter.Acquire).
// When the slot would come after ctx's deadline or ratelimit.SendBy time,
// it returns an error wrapping ratelimit.ErrNoTime at once. A nil *Limits
// never waits.
func (l *Limits) Acquire(ctx context.Context, action string) (done func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	return l.limiter(action).Acquire(ctx)
}

// Throttled slows action down after the service answered
// RequestLimitExceeded. A nil *Limits ignores it.
func (l *Limits) Throttled(action string) {
	if l == nil {
		return
	}
	l.limiter(action).Throttled()
}

func (l *Limits) limiter(action string) *ratelimit.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.limiters[action]
	if !ok {
		r, ok := l.actions[action]
		if !ok {
			r = l.perSecond
		}
		lim = ratelimit.New(r, ratelimit.DefaultMargin)
		l.limiters[action] = lim
	}
	return lim
}
