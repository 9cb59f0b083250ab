package httptrigger

import (
	"testing"
	"time"
)

func TestReplayGuardRelease(t *testing.T) {
	g := NewReplayGuard(time.Hour, 10)
	now := time.Now()
	for _, id := range []string{"a", "b", "c"} {
		if !g.claim(id, now) {
			t.Fatalf("%s claimed twice", id)
		}
	}
	g.Release("b")
	g.Release("unknown")
	if !g.claim("b", now) {
		t.Error("a released id is still refused")
	}
	if g.claim("a", now) || g.claim("c", now) {
		t.Error("releasing one id released others")
	}
	if len(g.order) != len(g.at) || len(g.order) != 3 {
		t.Errorf("order %v and map %v disagree", g.order, g.at)
	}
}
