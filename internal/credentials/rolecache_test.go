package credentials

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
)

// fakeSTS stands in for AssumeRole: each call issues new credentials that
// live for ttl from the time it is called at (zero ttl: no ExpiredTime).
type fakeSTS struct {
	mu    sync.Mutex
	ttl   time.Duration
	calls int
	fail  int // fail this many calls first
}

func (f *fakeSTS) assume(_ context.Context, _ *tcapi.Client, base Credential, role, session string, now time.Time) (Credential, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail > 0 {
		f.fail--
		return Credential{}, time.Time{}, fmt.Errorf("assuming ROLE_ARN %s: %w", role, &tcapi.Error{Service: "sts", Action: "AssumeRole", Code: "InternalError"})
	}
	var expires time.Time
	if f.ttl > 0 {
		expires = now.Add(f.ttl)
	}
	id := fmt.Sprintf("AKIDtmp%d", f.calls)
	return Credential{common.NewTokenCredential(id, "tmpkey-"+id, "token-"+id), "ROLE_ARN via " + base.Source}, expires, nil
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func TestRoleCache(t *testing.T) {
	baseA := Credential{common.NewTokenCredential("AKIDbaseA", "keyA", "tokA"), "A"}
	baseB := Credential{common.NewTokenCredential("AKIDbaseB", "keyB", "tokB"), "B"}
	baseA2 := Credential{common.NewTokenCredential("AKIDbaseA", "keyA", "tokA-renewed"), "A"} // SCF renewed the token
	type get struct {
		at   time.Duration // after the start
		base Credential
		role string
	}
	tests := []struct {
		name      string
		ttl       time.Duration
		gets      []get
		wantCalls int
		wantSame  []bool // per get after the first: the credentials of the one before
	}{
		{name: "warm invocations within the lifetime", ttl: time.Hour,
			gets:      []get{{0, baseA, testRole}, {time.Minute, baseA, testRole}, {30 * time.Minute, baseA, testRole}, {55*time.Minute - time.Second, baseA, testRole}},
			wantCalls: 1, wantSame: []bool{true, true, true}},
		{name: "within 5 minutes of expiry", ttl: time.Hour,
			gets:      []get{{0, baseA, testRole}, {55 * time.Minute, baseA, testRole}, {56 * time.Minute, baseA, testRole}},
			wantCalls: 2, wantSame: []bool{false, true}},
		{name: "expired", ttl: time.Hour,
			gets:      []get{{0, baseA, testRole}, {2 * time.Hour, baseA, testRole}},
			wantCalls: 2, wantSame: []bool{false}},
		{name: "another base credential has its own entry", ttl: time.Hour,
			gets:      []get{{0, baseA, testRole}, {time.Minute, baseB, testRole}, {2 * time.Minute, baseA, testRole}, {3 * time.Minute, baseA2, testRole}},
			wantCalls: 3, wantSame: []bool{false, false, false}},
		{name: "another role has its own entry", ttl: time.Hour,
			gets:      []get{{0, baseA, testRole}, {time.Minute, baseA, otherRole}, {2 * time.Minute, baseA, otherRole}},
			wantCalls: 2, wantSame: []bool{false, true}},
		{name: "no ExpiredTime: never cached", ttl: 0,
			gets:      []get{{0, baseA, testRole}, {time.Second, baseA, testRole}},
			wantCalls: 2, wantSame: []bool{false}},
	}
	start := time.Date(2025, 3, 1, 3, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sts := &fakeSTS{ttl: tc.ttl}
			clk := &clock{now: start}
			cache := &RoleCache{Now: clk.Now, assume: sts.assume}
			var prev Credential
			for i, g := range tc.gets {
				clk.set(start.Add(g.at))
				cred, err := cache.Get(context.Background(), &tcapi.Client{}, g.base, g.role, "fn")
				if err != nil {
					t.Fatalf("get %d: %v", i, err)
				}
				if i > 0 {
					if same := cred.GetSecretId() == prev.GetSecretId(); same != tc.wantSame[i-1] {
						t.Errorf("get %d at +%s: same credentials as before = %v, want %v", i, g.at, same, tc.wantSame[i-1])
					}
				}
				prev = cred
			}
			if sts.calls != tc.wantCalls {
				t.Errorf("AssumeRole called %d times, want %d", sts.calls, tc.wantCalls)
			}
		})
	}
}

func TestRoleCacheErrorsAreNotCached(t *testing.T) {
	sts := &fakeSTS{ttl: time.Hour, fail: 1}
	cache := &RoleCache{assume: sts.assume}
	base := Credential{common.NewCredential("AKIDbase", "key"), "test"}
	if _, err := cache.Get(context.Background(), &tcapi.Client{}, base, testRole, "fn"); err == nil || !strings.Contains(err.Error(), "ROLE_ARN") {
		t.Fatalf("err = %v, want one naming ROLE_ARN", err)
	}
	cred, err := cache.Get(context.Background(), &tcapi.Client{}, base, testRole, "fn")
	if err != nil || cred.GetSecretId() == "" {
		t.Fatalf("after the error: %v", err)
	}
	if sts.calls != 2 {
		t.Errorf("calls %d, want 2", sts.calls)
	}
}

// Concurrent invocations of one instance wait for one AssumeRole.
func TestRoleCacheConcurrentGets(t *testing.T) {
	sts := &fakeSTS{ttl: time.Hour}
	cache := &RoleCache{assume: sts.assume}
	base := Credential{common.NewCredential("AKIDbase", "key"), "test"}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := cache.Get(context.Background(), &tcapi.Client{}, base, testRole, "fn"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if sts.calls != 1 {
		t.Errorf("calls %d, want 1", sts.calls)
	}
}

// The cache with the emulator's STS: one AssumeRole for several gets, and
// the credentials work.
func TestRoleCacheWithSTS(t *testing.T) {
	emu, ep := stsCloud(t)
	base := permanent(emu)
	cache := &RoleCache{}
	var first Credential
	for i := range 3 {
		cred, err := cache.Get(context.Background(), &tcapi.Client{Endpoint: ep}, base, testRole, SessionName("mpgw-keyrotator"))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = cred
		} else if cred.GetSecretId() != first.GetSecretId() {
			t.Error("the cached credentials were replaced")
		}
		if _, err := describe(t, ep, cred); err != nil {
			t.Fatalf("TEO with the cached credentials: %v", err)
		}
	}
	if got := emu.Calls("AssumeRole"); got != 1 {
		t.Errorf("AssumeRole called %d times, want 1", got)
	}
	if s := fmt.Sprintf("%v %+v", cache, cache); strings.Contains(s, base.GetSecretKey()) || strings.Contains(s, first.GetSecretKey()) || strings.Contains(s, first.GetToken()) {
		t.Error("the cache prints a key or token")
	}
}

func TestSessionName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mpgw-keyrotator", "mpgw-keyrotator"},
		{"rotator_prod.v2", "rotator_prod.v2"},
		{"", DefaultSessionName},
		{"x", DefaultSessionName},
		{"a b/c:d", "a-b-c-d"},
		{strings.Repeat("f", 80), strings.Repeat("f", 64)},
		{"函数", "--"},
	}
	for _, tc := range tests {
		if got := SessionName(tc.in); got != tc.want {
			t.Errorf("SessionName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
