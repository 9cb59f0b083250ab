package httptrigger

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
)

// seen reports whether id was marked within the window (for the tests).
func (g *ReplayGuard) seen(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(time.Now())
	_, ok := g.at[id]
	return ok
}

// mark records id as served now (for the tests).
func (g *ReplayGuard) mark(id string) { g.claim(id, time.Now()) }

func TestReplayGuardEvictsOldestBeyondLimit(t *testing.T) {
	g := NewReplayGuard(time.Hour, 2)
	for _, id := range []string{"a", "b", "c"} {
		g.mark(id)
	}
	for id, want := range map[string]bool{"a": false, "b": true, "c": true} {
		if got := g.seen(id); got != want {
			t.Errorf("Seen(%q) = %v, want %v", id, got, want)
		}
	}
	g.mark("b") // already there: not re-marked, so it stays the oldest
	g.mark("d")
	if g.seen("b") || !g.seen("c") || !g.seen("d") {
		t.Errorf("after marking d: b=%v c=%v d=%v, want false true true", g.seen("b"), g.seen("c"), g.seen("d"))
	}
}

func TestReplayGuardForgetsAfterWindow(t *testing.T) {
	const window = 2 * stdwebhook.Tolerance
	t0 := time.Unix(1_700_000_000, 0)
	g := NewReplayGuard(window, 10)
	steps := []struct {
		id   string
		at   time.Duration
		want bool // claim succeeds: the id was not remembered
	}{
		{"a", 0, true},
		{"b", time.Minute, true},
		{"a", window - time.Nanosecond, false},
		{"a", window, true}, // forgotten, then served again
		{"b", window, false},
		{"b", window + time.Minute, true},
		{"a", window + time.Minute, false},
	}
	for _, s := range steps {
		if got := g.claim(s.id, t0.Add(s.at)); got != s.want {
			t.Errorf("claim(%q) at +%v = %v, want %v", s.id, s.at, got, s.want)
		}
	}
	if len(g.at) != 2 || len(g.order) != 2 {
		t.Errorf("guard holds %d ids (%d in order), want 2", len(g.at), len(g.order))
	}
}

func TestReplayGuardLimitBelowOne(t *testing.T) {
	g := NewReplayGuard(time.Hour, 0)
	g.mark("a")
	g.mark("b")
	if g.seen("a") || !g.seen("b") {
		t.Errorf("limit 0: a=%v b=%v, want the last id only", g.seen("a"), g.seen("b"))
	}
}

func TestReplayGuardConcurrentClaims(t *testing.T) {
	g := NewReplayGuard(time.Hour, 1000)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g.claim("same", time.Now()) {
				wins.Add(1)
			}
			g.mark(fmt.Sprint("id-", i))
			g.seen("same")
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent claims of one id succeeded, want 1", wins.Load())
	}
}
