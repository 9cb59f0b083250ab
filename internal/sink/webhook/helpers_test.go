package webhook_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
)

const (
	testSecret  = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
	otherSecret = "whsec_ZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4Q="
	// hookPath carries a token, as real webhook URLs often do: it must never
	// appear in an error or a log line.
	hookPath = "/hooks/t0ken-7Qx?auth=q5ecret"
)

// fastRetry keeps retry waits tiny: the tests synchronise on the server's
// record of calls, never on sleeps.
var fastRetry = retry.Policy{Attempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond}

func testDelivery() sink.Delivery {
	return sink.Delivery{
		ZoneID:     "zone-abc123",
		Key:        secret.New("key-one-value"),
		Action:     "rotate",
		RotationID: "rot-1",
		Previous:   secret.Fingerprint("key-zero-value"),
	}
}

// request is what a hookServer received.
type request struct {
	Header http.Header
	Body   []byte
}

// hookServer records every request, then lets respond answer it; call is
// 1-based.
type hookServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newHookServer(t *testing.T, respond func(call int, w http.ResponseWriter, r *http.Request)) *hookServer {
	t.Helper()
	hs := &hookServer{}
	hs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hs.mu.Lock()
		hs.reqs = append(hs.reqs, request{Header: r.Header.Clone(), Body: body})
		call := len(hs.reqs)
		hs.mu.Unlock()
		respond(call, w, r)
	}))
	t.Cleanup(hs.Close)
	return hs
}

// answer responds status to every call.
func answer(status int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }
}

// failThen answers status to the first n calls and 204 afterwards.
func failThen(n, status int) func(int, http.ResponseWriter, *http.Request) {
	return func(call int, w http.ResponseWriter, _ *http.Request) {
		if call <= n {
			w.WriteHeader(status)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (hs *hookServer) requests() []request {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return append([]request(nil), hs.reqs...)
}

func (hs *hookServer) calls() int { return len(hs.requests()) }

// hookURL is the server's URL with the token-bearing path.
func (hs *hookServer) hookURL(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(hs.URL + hookPath)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newSink(t *testing.T, u *url.URL) *webhook.Sink {
	t.Helper()
	s, err := webhook.New(config.Webhook{URL: u, Secret: testSecret, IncludeKey: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Retry = fastRetry
	s.AttemptTimeout = 5 * time.Second
	return s
}

// steppingClock returns a clock that advances one second per reading, so
// each attempt gets its own webhook-timestamp.
func steppingClock(start time.Time) func() time.Time {
	var mu sync.Mutex
	next := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := next
		next = next.Add(time.Second)
		return t
	}
}
