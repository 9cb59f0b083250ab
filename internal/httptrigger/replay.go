package httptrigger

import (
	"sync"
	"time"
)

// ReplayGuard remembers the webhook-ids this instance has served, so a
// captured signed request cannot be replayed while its signature is still
// within stdwebhook.Tolerance. It is bounded in time and size; it is per
// instance, so a replay reaching another instance is stopped only by the
// rotation id recorded beside the key.
type ReplayGuard struct {
	window time.Duration
	max    int

	mu    sync.Mutex
	at    map[string]time.Time // id -> when it was marked
	order []string             // ids in marking order, oldest first
}

// NewReplayGuard remembers each id for window (2×stdwebhook.Tolerance covers
// every moment its signature verifies: a timestamp is accepted for
// stdwebhook.Tolerance either side of it) and at most limit ids, forgetting
// the oldest first (limit below 1 counts as 1).
func NewReplayGuard(window time.Duration, limit int) *ReplayGuard {
	return &ReplayGuard{window: window, max: max(limit, 1), at: map[string]time.Time{}}
}

// claim marks id as served at now unless it already is, and reports
// whether it was new. Checking and marking under one lock lets only one of
// two concurrent identical requests through.
func (g *ReplayGuard) claim(id string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(now)
	if _, ok := g.at[id]; ok {
		return false
	}
	g.at[id] = now
	g.order = append(g.order, id)
	for len(g.order) > g.max {
		g.forgetOldest()
	}
	return true
}

// expire forgets the ids marked more than window before now. Ids are
// marked in time order, so the expired ones are at the front.
func (g *ReplayGuard) expire(now time.Time) {
	for len(g.order) > 0 && now.Sub(g.at[g.order[0]]) >= g.window {
		g.forgetOldest()
	}
}

func (g *ReplayGuard) forgetOldest() {
	delete(g.at, g.order[0])
	g.order = g.order[1:]
}

// Release forgets id, so that a retry of a request that did not succeed is
// served instead of refused as a replay (Standard Webhooks senders retry any
// non-2xx answer with the same webhook-id). The rotation record beside the
// key keeps such a retry from refreshing twice.
func (g *ReplayGuard) Release(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.at[id]; !ok {
		return
	}
	delete(g.at, id)
	for i, o := range g.order {
		if o == id {
			g.order = append(g.order[:i], g.order[i+1:]...)
			break
		}
	}
}
