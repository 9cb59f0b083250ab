package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

const (
	region = "ap-guangzhou"
	zone   = "zone-consumer"
	name   = "mpgw-key"
)

// fakeGateway accepts only the zone's live TEO key, read from the emulator,
// and records the fingerprints of the keys it was offered.
type fakeGateway struct {
	emu   *emulator.Emulator
	mu    sync.Mutex
	tried []string
}

func (g *fakeGateway) Do(_ context.Context, key secret.Key) error {
	g.mu.Lock()
	g.tried = append(g.tried, key.Fingerprint())
	g.mu.Unlock()
	if live, ok := g.emu.Key(zone); !ok || live != key.Reveal() {
		return &AuthError{Status: 401}
	}
	return nil
}

func (g *fakeGateway) takeTried() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.tried
	g.tried = nil
	return t
}

type env struct {
	emu  *emulator.Emulator
	gw   *fakeGateway
	logs *bytes.Buffer
	c    *Consumer
	keys []string // every key value of the test, for the leak checks
}

func newKey(t *testing.T) string {
	t.Helper()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { _ = emu.Close(); srv.Close() })

	role := emu.RoleCredential()
	cpf := profile.NewClientProfile()
	if err := setEndpoint(cpf, srv.URL); err != nil {
		t.Fatal(err)
	}
	client := common.NewCommonClient(common.NewTokenCredential(role.SecretID, role.SecretKey, role.Token), region, cpf)
	logs := &bytes.Buffer{}
	gw := &fakeGateway{emu: emu}
	e := &env{emu: emu, gw: gw, logs: logs, c: &Consumer{
		Store:   &SSMStore{Client: client, SecretName: name},
		Gateway: gw,
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}}
	t.Cleanup(func() { e.checkNoKeys(t) })
	return e
}

// seed sets the SSM versions (pending "" for none) and the live TEO key.
func (e *env) seed(current, pending, live string) {
	versions := []emulator.Version{{ID: "current", Value: current}}
	if pending != "" {
		versions = append(versions, emulator.Version{ID: "pending", Value: pending})
	}
	e.emu.PutSecret(emulator.SecretState{Region: region, Name: name, Versions: versions})
	e.emu.SetKey(zone, live)
	e.keys = append(e.keys, current, pending, live)
}

// load seeds SSM and TEO (see seed) and loads the consumer from them.
func (e *env) load(t *testing.T, current, pending, live string) {
	t.Helper()
	e.seed(current, pending, live)
	if err := e.c.Load(context.Background()); err != nil {
		e.checkErr(t, err)
		t.Fatal(err)
	}
}

// do runs Do, which must succeed; when names the moment for the failure.
func (e *env) do(t *testing.T, when string) {
	t.Helper()
	if err := e.c.Do(context.Background()); err != nil {
		e.checkErr(t, err)
		t.Fatalf("Do %s: %v", when, err)
	}
}

// wantReads checks the GetSecretValue calls since the last reset; which
// says what they read.
func (e *env) wantReads(t *testing.T, want int, which string) {
	t.Helper()
	if n := e.emu.Calls("GetSecretValue"); n != want {
		t.Fatalf("GetSecretValue calls = %d, want %d (%s)", n, want, which)
	}
}

// wantKey checks that the consumer keeps key; else says what went wrong.
func (e *env) wantKey(t *testing.T, key, wrong string) {
	t.Helper()
	if !e.c.Key().Equal(secret.New(key)) {
		t.Fatal(wrong)
	}
}

func (e *env) checkNoKeys(t *testing.T) {
	t.Helper()
	for _, k := range e.keys {
		if k != "" && strings.Contains(e.logs.String(), k) {
			t.Errorf("the consumer's log contains a key:\n%s", e.logs)
		}
	}
}

func (e *env) checkErr(t *testing.T, err error) {
	t.Helper()
	for _, k := range e.keys {
		if k != "" && err != nil && strings.Contains(err.Error(), k) {
			t.Errorf("an error contains a key: %v", err)
		}
	}
}

func fp(v string) string { return secret.Fingerprint(v) }

func wantTried(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("gateway was offered %v, want %v", got, want)
	}
}

// (a) Steady: current works, pending is absent.
func TestSteady(t *testing.T) {
	e := newEnv(t)
	old := newKey(t)
	e.load(t, old, "", old)
	for range 3 {
		e.do(t, "in the steady state")
	}
	wantTried(t, e.gw.takeTried(), fp(old), fp(old), fp(old))
	e.wantReads(t, 2, "Load read current and tried pending, absent; Do read nothing")
}

// (b) The key was modified: TEO's live key is pending, current is still
// the old key. The first try fails, current re-read is unchanged, pending
// works and stays in use.
func TestModifiedUsesPending(t *testing.T) {
	e := newEnv(t)
	old, next := newKey(t), newKey(t)
	e.load(t, old, "", old)
	// The rotator stages next and makes it live.
	e.seed(old, next, next)
	e.emu.ResetCounters()

	e.do(t, "during the rotation")
	// current re-read gave the refused key again, so it is not re-offered.
	wantTried(t, e.gw.takeTried(), fp(old), fp(next))
	e.wantReads(t, 2, "current, then pending")
	e.wantKey(t, next, "the consumer does not keep the pending key")
	e.do(t, "once the pending key works")
	wantTried(t, e.gw.takeTried(), fp(next))
}

// (b') SSM is unreachable when the gateway switches: the preloaded pending
// copy still gets the consumer through.
func TestModifiedUsesPreloadedPending(t *testing.T) {
	e := newEnv(t)
	old, next := newKey(t), newKey(t)
	e.load(t, old, next, old)
	e.emu.SetKey(zone, next)
	e.emu.Inject(emulator.Fault{Action: "GetSecretValue", Code: "InternalError"})
	e.do(t, "with SSM down")
	wantTried(t, e.gw.takeTried(), fp(old), fp(next))
}

// (c) After promotion: current holds the new key and pending is gone; a
// consumer still on the old key recovers by re-reading current.
func TestPromotedRereadsCurrent(t *testing.T) {
	e := newEnv(t)
	old, next := newKey(t), newKey(t)
	e.load(t, old, "", old)
	e.seed(next, "", next)
	e.emu.ResetCounters()

	e.do(t, "after promotion")
	wantTried(t, e.gw.takeTried(), fp(old), fp(next))
	e.wantReads(t, 1, "current only")
	e.wantKey(t, next, "the consumer does not use the promoted key")
}

// No key in SSM works: the error says so without naming a key, and only
// authentication failures lead to other keys.
func TestNoWorkingKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old, next, other := newKey(t), newKey(t), newKey(t)
	e.load(t, old, next, other)
	err := e.c.Do(ctx)
	if !errors.Is(err, ErrNoWorkingKey) {
		t.Fatalf("Do = %v, want ErrNoWorkingKey", err)
	}
	e.checkErr(t, err)
	wantTried(t, e.gw.takeTried(), fp(old), fp(next))
	e.wantKey(t, old, "a refused key was adopted")

	// A failure that is not about the key is returned as is.
	boom := errors.New("connection refused")
	e.c.Gateway = gatewayFunc(func(context.Context, secret.Key) error { return boom })
	if err := e.c.Do(ctx); !errors.Is(err, boom) {
		t.Fatalf("Do = %v, want the gateway's error", err)
	}
}

// Load needs current; a missing secret is an error without a key in it.
func TestLoadWithoutCurrent(t *testing.T) {
	e := newEnv(t)
	err := e.c.Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GetSecretValue") {
		t.Fatalf("Load = %v", err)
	}
}

type gatewayFunc func(context.Context, secret.Key) error

func (f gatewayFunc) Do(ctx context.Context, k secret.Key) error { return f(ctx, k) }

// TestGatewayErrorHidesTheURL: a failed round trip names the gateway's host,
// never its URL, whose query may hold a token.
func TestGatewayErrorHidesTheURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	g := &HTTPGateway{URL: "http://" + addr + "/health?token=SENTINEL-TOKEN", Client: &http.Client{}}
	err = g.Do(context.Background(), secret.New("AAECAwQFBgcICQoLDA0ODw=="))
	if err == nil || strings.Contains(err.Error(), "SENTINEL") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %v, want the host named and the query left out", err)
	}
}
