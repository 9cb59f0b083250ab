package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// epoch is far in the future so that contexts with deadlines on the fake
// clock never expire on the real one.
var epoch = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// autoClock jumps forward by whatever a waiter asks to wait: a single
// goroutine's Acquire returns at once, with the clock at the granted slot.
type autoClock struct {
	fakeNow
	waited int // After calls
}

// fakeNow is what both fake clocks share: the time they read, and
// attaching them to a limiter.
type fakeNow struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeNow) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// attach makes c l's clock, before l's first use.
func attach(l *Limiter, c interface {
	Now() time.Time
	After(time.Duration) <-chan time.Time
}) *Limiter {
	l.nowFunc, l.afterFunc = c.Now, c.After
	return l
}

// take is one request's pass through l as a client makes it: Acquire,
// and done at once (the answer comes back without delay).
func take(l *Limiter, ctx context.Context) error {
	done, err := l.Acquire(ctx)
	done()
	return err
}

func newAutoClock() *autoClock { return &autoClock{fakeNow: fakeNow{now: epoch}} }

// autoLimiter returns New(perSecond, margin) on a new autoClock.
func autoLimiter(perSecond float64, margin time.Duration) (*autoClock, *Limiter) {
	c := newAutoClock()
	return c, attach(New(perSecond, margin), c)
}

func (c *autoClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waited++
	c.now = c.now.Add(d)
	fired := make(chan time.Time, 1)
	fired <- c.now
	return fired
}

func (c *autoClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *autoClock) Waited() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waited
}

// manualClock moves only when the test advances it; armed receives one
// value per timer a waiter starts.
type manualClock struct {
	fakeNow
	timers []manualTimer
	armed  chan time.Time // the timer's due time
}

type manualTimer struct {
	due  time.Time
	fire chan time.Time
}

func newManualClock() *manualClock {
	return &manualClock{fakeNow: fakeNow{now: epoch}, armed: make(chan time.Time, 64)}
}

// fullWindow returns a limiter of one request per second on a manual clock,
// its one slot just taken: the next request waits a second.
func fullWindow(t *testing.T) (*manualClock, *Limiter) {
	t.Helper()
	c := newManualClock()
	l := attach(New(1, 0), c)
	if err := take(l, context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, l
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := manualTimer{due: c.now.Add(d), fire: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.armed <- t.due
	return t.fire
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(t manualTimer) bool {
		if t.due.After(c.now) {
			return false
		}
		t.fire <- c.now
		return true
	})
}

// sendAll waits for one send after each gap and returns the grant times.
func sendAll(t testing.TB, l *Limiter, c *autoClock, gaps []time.Duration) []time.Time {
	t.Helper()
	grants := make([]time.Time, 0, len(gaps))
	for i, gap := range gaps {
		c.Advance(gap)
		if err := take(l, context.Background()); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
		grants = append(grants, c.Now())
	}
	return grants
}

// checkWindow fails if a half-open window of width holds more than n of the
// sorted times.
func checkWindow(t testing.TB, times []time.Time, n int, width time.Duration) {
	t.Helper()
	for i := n; i < len(times); i++ {
		if d := times[i].Sub(times[i-n]); d < width {
			t.Fatalf("sends %d and %d are %v apart: %d sends within %v", i-n+1, i+1, d, n+1, width)
		}
	}
}

// randomGaps mixes bursts, gaps near the average spacing and pauses longer
// than the window.
func randomGaps(r *rand.Rand, count int, width time.Duration, n int) []time.Duration {
	gaps := make([]time.Duration, count)
	spacing := width / time.Duration(n)
	for i := range gaps {
		switch r.IntN(4) {
		case 0:
			gaps[i] = 0
		case 1, 2:
			gaps[i] = time.Duration(r.Int64N(int64(2 * spacing)))
		default:
			gaps[i] = time.Duration(r.Int64N(int64(2 * width)))
		}
	}
	return gaps
}

var rates = []float64{1, 20, 40, 0.5, 2.5}

func TestNewWindow(t *testing.T) {
	tests := []struct {
		perSecond float64
		margin    time.Duration
		wantN     int
		wantWidth time.Duration
	}{
		{1, DefaultMargin, 1, time.Second + DefaultMargin},
		{20, DefaultMargin, 20, time.Second + DefaultMargin},
		{0.5, DefaultMargin, 1, 2*time.Second + DefaultMargin},
		{2.5, 0, 3, 1200 * time.Millisecond},
		{40, 0, 40, time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.perSecond, "/", tt.margin), func(t *testing.T) {
			l := New(tt.perSecond, tt.margin)
			if len(l.sends) != tt.wantN || l.limit != tt.wantN || l.width != tt.wantWidth {
				t.Errorf("N = %d (limit %d), W = %v; want %d, %v", len(l.sends), l.limit, l.width, tt.wantN, tt.wantWidth)
			}
		})
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		t.Run(fmt.Sprint("panics on ", bad), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%v) did not panic", bad)
				}
			}()
			New(bad, 0)
		})
	}
}

// TestWaitWindow: whatever the pattern, no window of W holds more than N
// grants, and a send waits only when the window is full.
func TestWaitWindow(t *testing.T) {
	for _, perSecond := range rates {
		for seed := range uint64(5) {
			t.Run(fmt.Sprintf("%v/s seed %d", perSecond, seed), func(t *testing.T) {
				c, l := autoLimiter(perSecond, DefaultMargin)
				n := len(l.sends)
				gaps := randomGaps(rand.New(rand.NewPCG(seed, 1)), 2000, l.width, n)
				grants := sendAll(t, l, c, gaps)
				checkWindow(t, grants, n, l.width)
				// A send that waited went exactly when the window let it.
				requested := epoch
				for i, g := range grants {
					requested = requested.Add(gaps[i])
					if g.Equal(requested) {
						requested = g
						continue
					}
					if i < n || !g.Equal(grants[i-n].Add(l.width)) {
						t.Fatalf("send %d asked at %v went at %v; window opened at %v", i+1, requested.Sub(epoch), g.Sub(epoch), grants[i-n].Add(l.width).Sub(epoch))
					}
					requested = g
				}
			})
		}
	}
}

func TestFirstSendsDoNotWait(t *testing.T) {
	for _, perSecond := range rates {
		t.Run(fmt.Sprint(perSecond, "/s"), func(t *testing.T) {
			c, l := autoLimiter(perSecond, DefaultMargin)
			n := len(l.sends)
			grants := sendAll(t, l, c, make([]time.Duration, n+1))
			if w := c.Waited(); w != 1 {
				t.Errorf("%d of %d sends waited, want only the last", w, n+1)
			}
			if !grants[n-1].Equal(epoch) || !grants[n].Equal(epoch.Add(l.width)) {
				t.Errorf("send %d at %v, send %d at %v", n, grants[n-1].Sub(epoch), n+1, grants[n].Sub(epoch))
			}
		})
	}
}

// TestLongRunRate: sending as fast as allowed, a long run achieves N per
// W+margin, within the margin's few percent of the configured rate.
func TestLongRunRate(t *testing.T) {
	for _, perSecond := range rates {
		t.Run(fmt.Sprint(perSecond, "/s"), func(t *testing.T) {
			c, l := autoLimiter(perSecond, DefaultMargin)
			n := len(l.sends)
			grants := sendAll(t, l, c, make([]time.Duration, 100*n+1))
			achieved := float64(len(grants)-1) / grants[len(grants)-1].Sub(grants[0]).Seconds()
			if achieved > perSecond || achieved < 0.95*perSecond {
				t.Errorf("achieved %.4f/s, configured %v/s", achieved, perSecond)
			}
		})
	}
}

// TestAllow checks the server limiter against a brute-force count: a
// request is admitted exactly when fewer than N were admitted in the
// second before it.
func TestAllow(t *testing.T) {
	for _, perSecond := range []float64{1, 5, 20, 40} {
		for seed := range uint64(5) {
			t.Run(fmt.Sprintf("%v/s seed %d", perSecond, seed), func(t *testing.T) {
				l := NewStrict(perSecond)
				n := int(perSecond)
				r := rand.New(rand.NewPCG(seed, 2))
				now := epoch
				var admitted []time.Time
				for i, gap := range randomGaps(r, 3000, time.Second, n) {
					now = now.Add(gap / 2) // arrivals faster than the limit
					inWindow := 0
					for j := len(admitted) - 1; j >= 0 && now.Sub(admitted[j]) < time.Second; j-- {
						inWindow++
					}
					want := inWindow < n
					if got := l.Allow(now); got != want {
						t.Fatalf("request %d at %v: Allow = %v with %d admitted in the last second", i+1, now.Sub(epoch), got, inWindow)
					}
					if want {
						admitted = append(admitted, now)
					}
				}
				checkWindow(t, admitted, n, time.Second)
			})
		}
	}
}

func TestAllowRacingClockReadings(t *testing.T) {
	l := NewStrict(1)
	if !l.Allow(epoch.Add(time.Second)) {
		t.Fatal("first request refused")
	}
	// Read before the first but arriving after it: still within its second.
	if l.Allow(epoch.Add(500 * time.Millisecond)) {
		t.Error("a request with an earlier clock reading slipped into a full window")
	}
}

// TestClientAgainstServer delivers the client's grants to a strict server
// with random latency jitter up to the margin: none is refused. Without the
// margin the same jitter gets refusals.
func TestClientAgainstServer(t *testing.T) {
	tests := []struct {
		client, server float64
		margin         time.Duration
		wantRefused    bool
	}{
		{client: 1, server: 1, margin: DefaultMargin},
		{client: 20, server: 20, margin: DefaultMargin},
		{client: 40, server: 40, margin: DefaultMargin},
		{client: 0.5, server: 1, margin: DefaultMargin},
		{client: 20, server: 20, margin: 0, wantRefused: true},
	}
	for _, tt := range tests {
		for seed := range uint64(5) {
			t.Run(fmt.Sprintf("%v/s against %v/s margin %v seed %d", tt.client, tt.server, tt.margin, seed), func(t *testing.T) {
				c, l := autoLimiter(tt.client, tt.margin)
				r := rand.New(rand.NewPCG(seed, 3))
				grants := sendAll(t, l, c, randomGaps(r, 2000, l.width, len(l.sends)))
				arrivals := make([]time.Time, len(grants))
				for i, g := range grants {
					arrivals[i] = g.Add(time.Duration(r.Int64N(int64(DefaultMargin) + 1)))
				}
				slices.SortFunc(arrivals, time.Time.Compare)
				server := NewStrict(tt.server)
				refused := 0
				for _, a := range arrivals {
					if !server.Allow(a) {
						refused++
					}
				}
				if refused > 0 != tt.wantRefused {
					t.Errorf("%d of %d requests refused", refused, len(arrivals))
				}
			})
		}
	}
}

// TestNoTime: a slot past the deadline or send-by time is refused at once
// and reserves nothing.
func TestNoTime(t *testing.T) {
	deadline := func(d time.Duration) context.Context {
		ctx, cancel := context.WithDeadline(context.Background(), epoch.Add(d))
		t.Cleanup(cancel)
		return ctx
	}
	tests := []struct {
		name    string
		ctx     context.Context
		queued  int // waiters ahead
		wantErr bool
	}{
		{name: "deadline before the slot", ctx: deadline(500 * time.Millisecond), wantErr: true},
		{name: "send-by before the slot", ctx: WithSendBy(context.Background(), epoch.Add(500*time.Millisecond)), wantErr: true},
		{name: "deadline at the slot", ctx: deadline(time.Second)},
		{name: "send-by after the slot", ctx: WithSendBy(context.Background(), epoch.Add(2*time.Second))},
		{name: "deadline before the slot after the queue", ctx: deadline(1500 * time.Millisecond), queued: 1, wantErr: true},
		{name: "send-by after the slot after the queue", ctx: WithSendBy(context.Background(), epoch.Add(2*time.Second)), queued: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, l := fullWindow(t)
			ahead := startWaiters(t, l, tt.queued)
			if tt.queued > 0 {
				<-c.armed
			}
			done := make(chan error, 1)
			go func() { done <- take(l, tt.ctx) }()
			if !tt.wantErr {
				for range tt.queued {
					c.Advance(time.Second)
					if err := <-ahead; err != nil {
						t.Fatal(err)
					}
				}
				if due, want := <-c.armed, epoch.Add(time.Duration(tt.queued+1)*time.Second); !due.Equal(want) {
					t.Errorf("waits until %v, want %v", due.Sub(epoch), want.Sub(epoch))
				}
				c.Advance(time.Second)
				if err := <-done; err != nil {
					t.Fatalf("Acquire = %v", err)
				}
				return
			}
			err := <-done
			if !errors.Is(err, ErrNoTime) {
				t.Fatalf("Acquire = %v, want ErrNoTime", err)
			}
			if len(c.armed) > 0 {
				t.Error("a refused Acquire started a timer")
			}
			l.mu.Lock()
			queued := len(l.queue)
			l.mu.Unlock()
			if queued != tt.queued {
				t.Errorf("%d waiters queued after the refusal, want %d", queued, tt.queued)
			}
			// The refused slot is still free for the next waiter.
			c.Advance(time.Second)
			for range tt.queued {
				if err := <-ahead; err != nil {
					t.Fatal(err)
				}
			}
			c.Advance(time.Duration(tt.queued) * time.Second)
			if err := take(l, WithSendBy(context.Background(), c.Now())); err != nil {
				t.Errorf("Acquire after the refused slot = %v", err)
			}
		})
	}
}

// startWaiters starts count waiters and returns once all are queued.
func startWaiters(t *testing.T, l *Limiter, count int) <-chan error {
	t.Helper()
	done := make(chan error, count)
	for range count {
		go func() { done <- take(l, context.Background()) }()
	}
	waitQueued(l, count)
	return done
}

// waitQueued yields until n waiters are queued.
func waitQueued(l *Limiter, n int) {
	for {
		l.mu.Lock()
		queued := len(l.queue)
		l.mu.Unlock()
		if queued == n {
			return
		}
		runtime.Gosched()
	}
}

func TestThrottled(t *testing.T) {
	tests := []struct {
		name      string
		perSecond float64
		throttles int
		wantN     int // sends per window afterwards
	}{
		{name: "20/s throttled once", perSecond: 20, throttles: 1, wantN: 19},
		{name: "20/s throttled three times", perSecond: 20, throttles: 3, wantN: 17},
		{name: "1/s never drops below one", perSecond: 1, throttles: 3, wantN: 1},
		{name: "0.5/s never drops below one", perSecond: 0.5, throttles: 1, wantN: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, l := autoLimiter(tt.perSecond, DefaultMargin)
			sendAll(t, l, c, []time.Duration{0})
			c.Advance(10 * time.Millisecond)
			throttledAt := c.Now()
			for range tt.throttles {
				l.Throttled()
			}
			grants := sendAll(t, l, c, make([]time.Duration, 5*tt.wantN))
			if !grants[0].Equal(throttledAt.Add(l.width)) {
				t.Errorf("first send after Throttled at +%v, want a full window +%v", grants[0].Sub(throttledAt), l.width)
			}
			checkWindow(t, grants, tt.wantN, l.width)
			if !grants[tt.wantN].Equal(grants[0].Add(l.width)) {
				t.Errorf("send %d waited until %v, want %d sends per window", tt.wantN+1, grants[tt.wantN].Sub(grants[0]), tt.wantN)
			}
		})
	}
}

// TestThrottledRecovers: limiters live as long as a warm instance, so N
// comes back once recoverAfter windows pass without a refusal; before that
// it stays lowered.
func TestThrottledRecovers(t *testing.T) {
	for _, tt := range []struct {
		name  string
		quiet int // windows after the refusal
		wantN int // sends at once
	}{
		{name: "lowered before", quiet: recoverAfter - 1, wantN: 19},
		{name: "back after", quiet: recoverAfter, wantN: 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, l := autoLimiter(20, DefaultMargin)
			sendAll(t, l, c, []time.Duration{0})
			l.Throttled()
			c.Advance(time.Duration(tt.quiet) * l.width)
			start := c.Now()
			grants := sendAll(t, l, c, make([]time.Duration, 20))
			n := 0
			for _, g := range grants {
				if g.Equal(start) {
					n++
				}
			}
			if n != tt.wantN {
				t.Errorf("%d sends at once after %d quiet windows, want %d", n, tt.quiet, tt.wantN)
			}
		})
	}
}

// TestWaitersTakeSuccessiveSlots: of several blocked waiters only one wakes
// per slot.
func TestWaitersTakeSuccessiveSlots(t *testing.T) {
	c, l := fullWindow(t)
	const waiters = 4
	done := startWaiters(t, l, waiters)
	for i := 1; i <= waiters; i++ {
		due := <-c.armed
		if want := epoch.Add(time.Duration(i) * time.Second); !due.Equal(want) {
			t.Fatalf("slot %d timer due at %v, want %v", i, due.Sub(epoch), want.Sub(epoch))
		}
		if len(done) > 0 {
			t.Fatalf("a waiter returned before slot %d", i)
		}
		c.Advance(time.Second)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if len(c.armed) > 0 {
		t.Errorf("%d timers left armed", len(c.armed))
	}
}

// TestCanceledWaiterFreesItsSlot: the slot a waiter gives up goes to the
// next one, not to waste.
func TestCanceledWaiterFreesItsSlot(t *testing.T) {
	tests := []struct {
		name   string
		cancel int // which of the two waiters gives up
	}{
		{name: "first waiter gives up", cancel: 0},
		{name: "second waiter gives up", cancel: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, l := fullWindow(t)
			var ctxs [2]context.Context
			var cancels [2]context.CancelFunc
			var done [2]chan error
			for i := range 2 {
				ctxs[i], cancels[i] = context.WithCancel(context.Background())
				defer cancels[i]()
				done[i] = make(chan error, 1)
				go func() { done[i] <- take(l, ctxs[i]) }()
				waitQueued(l, i+1)
			}
			<-c.armed
			cancels[tt.cancel]()
			if err := <-done[tt.cancel]; !errors.Is(err, context.Canceled) {
				t.Fatalf("canceled waiter: %v", err)
			}
			waitQueued(l, 1)
			if tt.cancel == 0 {
				if due := <-c.armed; !due.Equal(epoch.Add(time.Second)) {
					t.Fatalf("the next waiter waits until %v, want the freed slot at 1s", due.Sub(epoch))
				}
			}
			c.Advance(time.Second)
			if err := <-done[1-tt.cancel]; err != nil {
				t.Fatal(err)
			}
			if got := c.Now(); !got.Equal(epoch.Add(time.Second)) {
				t.Errorf("the remaining waiter went at %v, want 1s", got.Sub(epoch))
			}
		})
	}
}

func TestWaitCanceledContext(t *testing.T) {
	l := New(1, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := take(l, ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire = %v", err)
	}
	if !l.Allow(time.Now()) {
		t.Error("a canceled Acquire took the slot")
	}
}

func TestSendBy(t *testing.T) {
	if _, ok := SendBy(context.Background()); ok {
		t.Error("SendBy found a time in a bare context")
	}
	if got, ok := SendBy(WithSendBy(context.Background(), epoch)); !ok || !got.Equal(epoch) {
		t.Errorf("SendBy = %v, %v", got, ok)
	}
}

// FuzzWindow: for any rate and pattern of gaps (milliseconds, one byte
// each), neither the client's grants nor the server's admissions put more
// than N into one window.
func FuzzWindow(f *testing.F) {
	f.Add(uint16(2000), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint16(100), []byte{0, 255, 3, 1, 0, 0, 200})
	f.Add(uint16(50), []byte{1, 2, 3})
	f.Add(uint16(4000), []byte{25, 25, 25, 25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, hundredths uint16, pattern []byte) {
		perSecond := float64(hundredths%4000+1) / 100 // 0.01 to 40 per second
		gaps := make([]time.Duration, len(pattern))
		for i, b := range pattern {
			gaps[i] = time.Duration(b) * time.Millisecond
		}

		c, client := autoLimiter(perSecond, DefaultMargin)
		checkWindow(t, sendAll(t, client, c, gaps), len(client.sends), client.width)

		server := NewStrict(perSecond)
		now := epoch
		var admitted []time.Time
		for _, gap := range gaps {
			now = now.Add(gap)
			if server.Allow(now) {
				admitted = append(admitted, now)
			}
		}
		checkWindow(t, admitted, len(server.sends), server.width)
	})
}

// TestAcquireCountsFromTheAnswer: a send whose answer came late counts from
// the answer, so its slot frees one window after the answer, not after the
// grant; done after the slot was reused changes nothing.
func TestAcquireCountsFromTheAnswer(t *testing.T) {
	start := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	now := start
	l := New(2, 0) // 2 sends per second
	l.nowFunc = func() time.Time { return now }
	ctx := context.Background()
	slow, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	now = start.Add(500 * time.Millisecond)
	slow() // the first answer came back half a second after its grant
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{1200 * time.Millisecond, false}, // a window after the grant, not after the answer
		{1600 * time.Millisecond, true},
	} {
		if got := l.Allow(start.Add(tc.at)); got != tc.want {
			t.Errorf("Allow at +%v = %v, want %v", tc.at, got, tc.want)
		}
	}
	// The slot is taken by a later send: a late done must not move it.
	now = start.Add(5 * time.Second)
	slow()
	for i := range 2 {
		if !l.Allow(start.Add(2700 * time.Millisecond)) {
			t.Errorf("send %d at +2.7s refused: a stale done moved a later send", i+1)
		}
	}
}
