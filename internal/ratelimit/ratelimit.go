// Package ratelimit holds requests to "at most N requests in any window of
// length W", the shape of a server that counts requests in a sliding
// window. The client side waits for a free slot (Acquire); the server side
// (the emulator) refuses a request over the limit (Allow). Both use the same
// window: the times of the last N sends.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// DefaultMargin is added to a client's window so that arrival jitter at the
// server never puts N+1 requests into one server second.
const DefaultMargin = 50 * time.Millisecond

// ErrNoTime is returned by Acquire when the next free slot comes after the
// context's deadline or send-by time.
var ErrNoTime = errors.New("no time left to send within the rate limit")

type sendByKey struct{}

// WithSendBy returns a context under which Acquire refuses a slot later than t:
// for a request that is useless if sent after t even though the context
// still has time (a Refresh whose key could no longer be delivered).
func WithSendBy(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, sendByKey{}, t)
}

// SendBy returns the send-by time WithSendBy put into ctx.
func SendBy(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(sendByKey{}).(time.Time)
	return t, ok
}

// Limiter allows at most N sends in any window of length W. It is safe for
// concurrent use.
type Limiter struct {
	// nowFunc and afterFunc are its clock; nil means the real one (tests
	// set a fake one before the first use).
	nowFunc   func() time.Time
	afterFunc func(time.Duration) <-chan time.Time

	width time.Duration

	mu    sync.Mutex
	sends []time.Time // ring of the last len(sends) send times; zero: no send yet
	next  int         // ring index of the oldest send, which the next one replaces
	limit int         // sends allowed per window: len(sends) until Throttled lowers it
	// throttledAt is the last Throttled; limit is back to len(sends) once
	// recoverAfter windows pass without another.
	throttledAt time.Time
	// queue holds the waiters in arrival order. Only the first one watches
	// the clock; each channel is closed when its waiter becomes the first.
	queue []chan struct{}
}

// New returns a client limiter for perSecond requests per second (which
// may be fractional): N = ceil(perSecond) sends per window of N/perSecond
// seconds plus margin. A short run sends N requests at once; a long one
// runs at N per window. It panics if perSecond is not a positive finite
// number or margin is negative.
func New(perSecond float64, margin time.Duration) *Limiter {
	if !(perSecond > 0) || math.IsInf(perSecond, 1) || margin < 0 {
		panic(fmt.Sprintf("ratelimit: invalid rate %v per second or margin %v", perSecond, margin))
	}
	n := int(math.Ceil(perSecond))
	width := time.Duration(math.Ceil(float64(n) / perSecond * float64(time.Second)))
	return &Limiter{width: width + margin, sends: make([]time.Time, n), limit: n}
}

// NewStrict returns a server limiter: at most ceil(perSecond) requests in
// any sliding window of ceil(perSecond)/perSecond seconds, one second for a
// whole rate, the strictest shape a real per-second limiter may have.
func NewStrict(perSecond float64) *Limiter { return New(perSecond, 0) }

func (l *Limiter) now() time.Time {
	if l.nowFunc != nil {
		return l.nowFunc()
	}
	return time.Now()
}

func (l *Limiter) after(d time.Duration) <-chan time.Time {
	if l.afterFunc != nil {
		return l.afterFunc(d)
	}
	return time.After(d)
}

// Allow records a send at now and reports true if the window has room for
// it; otherwise it records nothing. A now before the last recorded send
// (clock readings that raced) counts as that send's time.
func (l *Limiter) Allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if newest := l.recentLocked(1); now.Before(newest) {
		now = newest
	}
	// Queued waiters come first.
	if len(l.queue) > 0 || l.earliestLocked(now, 0).After(now) {
		return false
	}
	l.recordLocked(now)
	return true
}

// Acquire blocks until a send is allowed, records it and returns done, to
// call once the request's answer has come back: the send then counts from
// that moment. A request reaches the server some time between its slot and
// its answer; counting it from the answer keeps a request that was slow to
// leave (a busy machine) from putting N+1 requests into one server window.
// If the slot would come after ctx's deadline or send-by time it returns an
// error wrapping ErrNoTime at once, and takes no slot; if ctx ends while
// waiting it returns ctx's error, and its place goes to the next waiter.
func (l *Limiter) Acquire(ctx context.Context) (done func(), err error) {
	slot, granted, err := l.wait(ctx)
	if err != nil {
		return func() {}, err
	}
	return func() { l.answered(slot, granted) }, nil
}

// answered moves the send recorded at slot (granted then) to now, unless a
// later send has taken the slot since.
func (l *Limiter) answered(slot int, granted time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := l.now(); l.sends[slot].Equal(granted) && now.After(granted) {
		l.sends[slot] = now
	}
}

// wait is Acquire; it returns the ring slot and the time of the send recorded.
func (l *Limiter) wait(ctx context.Context) (slot int, at time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	l.mu.Lock()
	now := l.now()
	first := l.earliestLocked(now, len(l.queue))
	if err := inTime(ctx, now, first); err != nil {
		l.mu.Unlock()
		return 0, time.Time{}, err
	}
	if len(l.queue) == 0 && !first.After(now) {
		slot := l.recordLocked(now)
		l.mu.Unlock()
		return slot, now, nil
	}
	turn := make(chan struct{})
	l.queue = append(l.queue, turn)
	if len(l.queue) == 1 {
		close(turn)
	}
	l.mu.Unlock()

	for {
		select {
		case <-turn:
		case <-ctx.Done():
			l.leave(turn)
			return 0, time.Time{}, ctx.Err()
		}
		l.mu.Lock()
		now := l.now()
		next := l.earliestLocked(now, 0)
		if !next.After(now) {
			slot := l.recordLocked(now)
			l.leaveLocked(turn)
			l.mu.Unlock()
			return slot, now, nil
		}
		// Throttled may have moved the slot since the first check.
		if err := inTime(ctx, now, next); err != nil {
			l.leaveLocked(turn)
			l.mu.Unlock()
			return 0, time.Time{}, err
		}
		l.mu.Unlock()
		select {
		case <-l.after(next.Sub(now)):
		case <-ctx.Done():
			l.leave(turn)
			return 0, time.Time{}, ctx.Err()
		}
	}
}

// recoverAfter is how many windows without a refusal restore N: limiters
// live as long as a warm instance, and whoever shared the quota when the
// server refused may be long gone.
const recoverAfter = 10

// Throttled tells the limiter that the server refused a request as over its
// limit. Our count is then behind the server's (someone else shares the
// quota): the window counts as full from now and N drops by one, never
// below 1, until recoverAfter windows pass without another refusal.
func (l *Limiter) Throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.throttledAt = now
	for i := range l.sends {
		if l.sends[i].Before(now) {
			l.sends[i] = now
		}
	}
	l.limit = max(1, l.limit-1)
}

// inTime refuses a slot at that comes after ctx's deadline or send-by time.
func inTime(ctx context.Context, now, at time.Time) error {
	if deadline, ok := ctx.Deadline(); ok && at.After(deadline) {
		return fmt.Errorf("%w: the next slot is %v away, after the deadline", ErrNoTime, at.Sub(now))
	}
	if sendBy, ok := SendBy(ctx); ok && at.After(sendBy) {
		return fmt.Errorf("%w: the next slot is %v away, after the send-by time", ErrNoTime, at.Sub(now))
	}
	return nil
}

// earliestLocked is when a send may go, at now, if the ahead sends queued
// before it go as early as they may: each send must come at least W after
// the send limit places before it.
func (l *Limiter) earliestLocked(now time.Time, ahead int) time.Time {
	if l.limit < len(l.sends) && now.Sub(l.throttledAt) >= recoverAfter*l.width {
		l.limit = len(l.sends)
	}
	planned := make([]time.Time, 0, ahead+1)
	for j := 0; j <= ahead; j++ {
		before := l.limit - j // the send limit places back, counted from the newest recorded
		var base time.Time
		if before > 0 {
			base = l.recentLocked(before)
		} else {
			base = planned[-before]
		}
		at := base.Add(l.width)
		if at.Before(now) {
			at = now
		}
		planned = append(planned, at)
	}
	return planned[ahead]
}

// recentLocked is the k-th most recent recorded send (1 is the newest).
func (l *Limiter) recentLocked(k int) time.Time {
	return l.sends[(l.next-k+len(l.sends))%len(l.sends)]
}

// recordLocked records a send at t and returns its ring slot.
func (l *Limiter) recordLocked(t time.Time) int {
	slot := l.next
	l.sends[slot] = t
	l.next = (l.next + 1) % len(l.sends)
	return slot
}

func (l *Limiter) leave(turn chan struct{}) {
	l.mu.Lock()
	l.leaveLocked(turn)
	l.mu.Unlock()
}

// leaveLocked removes a waiter from the queue and, if it was the first,
// hands the clock to the next one.
func (l *Limiter) leaveLocked(turn chan struct{}) {
	for i, c := range l.queue {
		if c != turn {
			continue
		}
		l.queue = append(l.queue[:i], l.queue[i+1:]...)
		if i == 0 && len(l.queue) > 0 {
			close(l.queue[0])
		}
		return
	}
}
