package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
)

func TestNew(t *testing.T) {
	u, _ := url.Parse("https://hooks.example.com/x")
	tests := []struct {
		name   string
		cfg    config.Webhook
		wantOK bool
	}{
		{"valid", config.Webhook{URL: u, Secret: testSecret}, true},
		{"no prefix", config.Webhook{URL: u, Secret: strings.TrimPrefix(testSecret, "whsec_")}, true},
		{"bad base64", config.Webhook{URL: u, Secret: "whsec_not*base64!"}, false},
		{"empty key", config.Webhook{URL: u, Secret: "whsec_"}, false},
		{"empty", config.Webhook{URL: u}, false},
		{"no URL", config.Webhook{Secret: testSecret}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := webhook.New(tt.cfg)
			if (err == nil) != tt.wantOK {
				t.Fatalf("New: err = %v, want ok %v", err, tt.wantOK)
			}
			if err != nil && tt.cfg.Secret != "" && tt.cfg.Secret != "whsec_" && strings.Contains(err.Error(), strings.TrimPrefix(tt.cfg.Secret, "whsec_")) {
				t.Errorf("error quotes the secret: %v", err)
			}
			if err == nil && s.Name() != "webhook" {
				t.Errorf("Name = %q", s.Name())
			}
		})
	}
}

// TestDeliverSigned checks the headers and that the standard library's own
// Verify accepts the request as sent.
func TestDeliverSigned(t *testing.T) {
	hs := newHookServer(t, answer(http.StatusNoContent))
	s := newSink(t, hs.hookURL(t))
	d := testDelivery()
	out, err := s.Deliver(context.Background(), d)
	if err != nil || out != sink.OK {
		t.Fatalf("Deliver = %v, %v", out, err)
	}
	reqs := hs.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	wh, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.Body, r.Header); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for name, want := range map[string]string{
		"content-type": "application/json",
		"user-agent":   "mpgw-keyrotator",
		"webhook-id":   webhook.MessageID(d.ZoneID, d.RotationID, d.Key.Fingerprint()),
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if sig := r.Header.Get("webhook-signature"); !strings.HasPrefix(sig, "v1,") {
		t.Errorf("webhook-signature = %q, want v1,<base64>", sig)
	}
}

func TestDeliverBody(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CST", 8*3600))
	fp := secret.Fingerprint("key-one-value")
	prev := secret.Fingerprint("key-zero-value")
	tests := []struct {
		name       string
		includeKey bool
		previous   string
		want       string
	}{
		{"with key", true, prev,
			`{"type":"teo.mpgw.secret_key.rotated","timestamp":"2026-03-01T04:00:00Z","data":{"zoneId":"zone-abc123","secretKey":"key-one-value","fingerprint":"` + fp + `","previousFingerprint":"` + prev + `","action":"rotate","rotationId":"rot-1"}}`},
		{"without key", false, prev,
			`{"type":"teo.mpgw.secret_key.rotated","timestamp":"2026-03-01T04:00:00Z","data":{"zoneId":"zone-abc123","fingerprint":"` + fp + `","previousFingerprint":"` + prev + `","action":"rotate","rotationId":"rot-1"}}`},
		{"no previous", true, "",
			`{"type":"teo.mpgw.secret_key.rotated","timestamp":"2026-03-01T04:00:00Z","data":{"zoneId":"zone-abc123","secretKey":"key-one-value","fingerprint":"` + fp + `","action":"rotate","rotationId":"rot-1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHookServer(t, answer(http.StatusOK))
			s := newSink(t, hs.hookURL(t))
			s.IncludeKey = tt.includeKey
			s.Now = func() time.Time { return at }
			d := testDelivery()
			d.Previous = tt.previous
			if _, err := s.Deliver(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			body := string(hs.requests()[0].Body)
			if body != tt.want {
				t.Errorf("body\n got %s\nwant %s", body, tt.want)
			}
			if !tt.includeKey && strings.Contains(body, "key-one-value") {
				t.Error("IncludeKey=false body carries the key")
			}
		})
	}
}

func TestDeliverZeroKey(t *testing.T) {
	hs := newHookServer(t, answer(http.StatusNoContent))
	s := newSink(t, hs.hookURL(t))
	d := testDelivery()
	d.Key = secret.Key{}
	if out, err := s.Deliver(context.Background(), d); err == nil || out != sink.Failed || retry.IsRetryable(err) {
		t.Errorf("Deliver(zero key) = %v, %v; want Failed and a final error", out, err)
	}
	if hs.calls() != 0 {
		t.Errorf("%d requests, want none", hs.calls())
	}
}

// TestWebhookIDStable: one id per (zone, rotation, key) across retries and
// calls; the body is built once per Deliver while timestamp and signature
// are the attempt's own.
func TestWebhookIDStable(t *testing.T) {
	hs := newHookServer(t, failThen(2, http.StatusServiceUnavailable))
	s := newSink(t, hs.hookURL(t))
	s.Now = steppingClock(time.Unix(1800000000, 0))
	d := testDelivery()
	if _, err := s.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	reqs := hs.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	wh, _ := standardwebhooks.NewWebhook(testSecret)
	id := webhook.MessageID(d.ZoneID, d.RotationID, d.Key.Fingerprint())
	seenTS := map[string]bool{}
	for i, r := range reqs {
		if got := r.Header.Get("webhook-id"); got != id {
			t.Errorf("attempt %d: webhook-id %q, want %q", i+1, got, id)
		}
		if string(r.Body) != string(reqs[0].Body) {
			t.Errorf("attempt %d: body differs from the first attempt's", i+1)
		}
		if err := wh.VerifyIgnoringTimestamp(r.Body, r.Header); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
		seenTS[r.Header.Get("webhook-timestamp")] = true
	}
	if len(seenTS) != 3 {
		t.Errorf("webhook-timestamp not recomputed per attempt: %v", seenTS)
	}

	// A second Deliver of the same rotation (a platform re-run) keeps the id.
	if _, err := s.Deliver(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if got := hs.requests()[3].Header.Get("webhook-id"); got != id {
		t.Errorf("second Deliver: webhook-id %q, want %q", got, id)
	}

	other := []struct{ zone, rotation, fp string }{
		{d.ZoneID, d.RotationID, secret.Fingerprint("key-two-value")},
		{"zone-other", d.RotationID, d.Key.Fingerprint()},
		{d.ZoneID, "rot-2", d.Key.Fingerprint()},
		{d.ZoneID, d.RotationID, "failed"},
	}
	for _, o := range other {
		if got := webhook.MessageID(o.zone, o.rotation, o.fp); got == id {
			t.Errorf("MessageID(%s, %s, %s) collides with the delivery's id", o.zone, o.rotation, o.fp)
		}
	}
	if !regexp.MustCompile(`^msg_[0-9a-f]{24}$`).MatchString(id) {
		t.Errorf("MessageID = %q, want msg_ and 24 hex digits", id)
	}
}

func TestDeliverStatus(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		wantCalls  int
		wantErr    bool
	}{
		{200, "", 1, false},
		{201, "", 1, false},
		{204, "", 1, false},
		{408, "", 2, false},
		{429, "0", 2, false},
		{429, "1", 2, false}, // honoured up to Retry.Max (5ms here)
		{500, "", 2, false},
		{502, "", 2, false},
		{503, "1", 2, false},
		{504, "", 2, false},
		{400, "", 1, true},
		{401, "", 1, true},
		{403, "", 1, true},
		{404, "", 1, true},
		{410, "", 1, true},
		{422, "", 1, true},
	}
	for _, tt := range tests {
		name := strconv.Itoa(tt.status)
		if tt.retryAfter != "" {
			name += "/Retry-After=" + tt.retryAfter
		}
		t.Run(name, func(t *testing.T) {
			hs := newHookServer(t, func(call int, w http.ResponseWriter, _ *http.Request) {
				if call > 1 {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
			})
			u := hs.hookURL(t)
			out, err := newSink(t, u).Deliver(context.Background(), testDelivery())
			if got := hs.calls(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			if !tt.wantErr {
				if err != nil || out != sink.OK {
					t.Errorf("Deliver = %v, %v; want ok", out, err)
				}
				return
			}
			if err == nil || out != sink.Failed {
				t.Fatalf("Deliver = %v, %v; want a failure", out, err)
			}
			want := fmt.Sprintf("webhook POST %s: HTTP %d after 1 attempt", u.Host, tt.status)
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			var se *webhook.StatusError
			if !errors.As(err, &se) || se.Code != tt.status {
				t.Errorf("error does not carry StatusError{%d}: %v", tt.status, err)
			}
		})
	}
}

// TestRedirectNotFollowed: 3xx is a final failure and the target never sees
// the request (it would carry the key), even with a caller's client that
// follows redirects.
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range []int{301, 302, 307, 308} {
		for _, ownClient := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/client=%v", status, ownClient), func(t *testing.T) {
				target := newHookServer(t, answer(http.StatusNoContent))
				hs := newHookServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.URL+"/stolen", status)
				})
				s := newSink(t, hs.hookURL(t))
				if ownClient {
					s.Client = &http.Client{}
				}
				_, err := s.Deliver(context.Background(), testDelivery())
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d after 1 attempt", status)) {
					t.Errorf("Deliver error = %v, want HTTP %d after 1 attempt", err, status)
				}
				if hs.calls() != 1 || target.calls() != 0 {
					t.Errorf("calls: webhook %d (want 1), redirect target %d (want 0)", hs.calls(), target.calls())
				}
			})
		}
	}
}

func TestPersistentFailure(t *testing.T) {
	hs := newHookServer(t, answer(http.StatusServiceUnavailable))
	u := hs.hookURL(t)
	_, err := newSink(t, u).Deliver(context.Background(), testDelivery())
	if hs.calls() != fastRetry.Attempts {
		t.Errorf("%d calls, want %d", hs.calls(), fastRetry.Attempts)
	}
	want := fmt.Sprintf("webhook POST %s: HTTP 503 after 4 attempts", u.Host)
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if strings.Contains(err.Error(), "t0ken") || strings.Contains(err.Error(), "q5ecret") {
		t.Errorf("error shows the URL path or query: %v", err)
	}
}

// TestTransportFailures: failures below HTTP are retried, a failure of one
// attempt's time included; the invocation's own deadline is not.
func TestTransportFailures(t *testing.T) {
	t.Run("dropped connection", func(t *testing.T) {
		hs := newHookServer(t, func(call int, w http.ResponseWriter, _ *http.Request) {
			if call == 1 {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				conn.Close()
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		if _, err := newSink(t, hs.hookURL(t)).Deliver(context.Background(), testDelivery()); err != nil {
			t.Fatal(err)
		}
		if hs.calls() != 2 {
			t.Errorf("%d calls, want 2", hs.calls())
		}
	})

	t.Run("always dropped", func(t *testing.T) {
		hs := newHookServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		})
		u := hs.hookURL(t)
		_, err := newSink(t, u).Deliver(context.Background(), testDelivery())
		want := "webhook POST " + u.Host + ": connection closed before an answer: EOF after 4 attempts"
		if err == nil || err.Error() != want || !errors.Is(err, io.EOF) {
			t.Errorf("error %v, want %q wrapping io.EOF", err, want)
		}
	})

	t.Run("attempt timeout", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release) // before the server closes: Close waits for handlers
		hs := newHookServer(t, func(call int, w http.ResponseWriter, _ *http.Request) {
			if call == 1 {
				<-release
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		s := newSink(t, hs.hookURL(t))
		s.AttemptTimeout = 100 * time.Millisecond
		if _, err := s.Deliver(context.Background(), testDelivery()); err != nil {
			t.Fatal(err)
		}
		if hs.calls() != 2 {
			t.Errorf("%d calls, want 2", hs.calls())
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		u, _ := url.Parse("http://" + addr + hookPath)
		_, err = newSink(t, u).Deliver(context.Background(), testDelivery())
		if err == nil || !strings.HasPrefix(err.Error(), "webhook POST "+addr+": ") || !strings.HasSuffix(err.Error(), "after 4 attempts") {
			t.Errorf("error %v, want webhook POST %s: … after 4 attempts", err, addr)
		}
	})

	t.Run("invocation deadline during an attempt", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		hs := newHookServer(t, func(int, http.ResponseWriter, *http.Request) { <-release })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := newSink(t, hs.hookURL(t)).Deliver(ctx, testDelivery())
		if !errors.Is(err, context.DeadlineExceeded) || hs.calls() != 1 {
			t.Errorf("error %v after %d calls; want the deadline after 1 call", err, hs.calls())
		}
	})
}

// TestDeadlineStopsRetries: a wait that would outlive the invocation is not
// started, and a finished context sends nothing.
func TestDeadlineStopsRetries(t *testing.T) {
	t.Run("wait past deadline", func(t *testing.T) {
		hs := newHookServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		s := newSink(t, hs.hookURL(t))
		s.Retry = retry.Policy{Attempts: 4, Initial: time.Millisecond, Max: time.Minute}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := s.Deliver(ctx, testDelivery())
		if err == nil || !strings.Contains(err.Error(), "HTTP 503 after 1 attempt") || hs.calls() != 1 {
			t.Errorf("error %v after %d calls; want HTTP 503 after 1 call", err, hs.calls())
		}
		if ctx.Err() != nil {
			t.Error("Deliver waited for the deadline instead of giving up")
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		hs := newHookServer(t, answer(http.StatusNoContent))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := newSink(t, hs.hookURL(t)).Deliver(ctx, testDelivery())
		if !errors.Is(err, context.Canceled) || hs.calls() != 0 {
			t.Errorf("error %v after %d calls; want cancelled, no call", err, hs.calls())
		}
	})
}

// countingTransport counts the response bytes the sink reads.
type countingTransport struct{ read atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.read}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestHugeResponse: an endless answer is read up to 64 KiB, then dropped.
func TestHugeResponse(t *testing.T) {
	chunk := []byte(strings.Repeat("x", 32<<10))
	hs := newHookServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	ct := &countingTransport{}
	s := newSink(t, hs.hookURL(t))
	s.Client = &http.Client{Transport: ct}
	if out, err := s.Deliver(context.Background(), testDelivery()); err != nil || out != sink.OK {
		t.Fatalf("Deliver = %v, %v", out, err)
	}
	if n := ct.read.Load(); n > 64<<10 {
		t.Errorf("read %d bytes of the answer, want at most 64 KiB", n)
	}
}

func TestNotifyFailure(t *testing.T) {
	hs := newHookServer(t, failThen(1, http.StatusBadGateway))
	s := newSink(t, hs.hookURL(t))
	s.Now = func() time.Time { return time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC) }
	f := sink.Failure{
		ZoneID: "zone-abc123", Action: "rotate", RotationID: "rot-1", KeyChanged: true,
		APIAction: "UpdateSecret", Code: "FailedOperation", Reason: "key rotated, delivery incomplete: run sync",
		Remedy: "run sync for zone-abc123", Fingerprint: secret.Fingerprint("key-one-value"),
	}
	if err := s.NotifyFailure(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	reqs := hs.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (502 retried)", len(reqs))
	}
	want := `{"type":"teo.mpgw.secret_key.rotation_failed","timestamp":"2026-03-01T04:00:00Z","data":{"zoneId":"zone-abc123","action":"rotate","rotationId":"rot-1","keyChanged":true,"apiAction":"UpdateSecret","code":"FailedOperation","error":"key rotated, delivery incomplete: run sync","remedy":"run sync for zone-abc123","fingerprint":"` + f.Fingerprint + `"}}`
	for _, r := range reqs {
		if string(r.Body) != want {
			t.Errorf("body\n got %s\nwant %s", r.Body, want)
		}
		if got, id := r.Header.Get("webhook-id"), webhook.MessageID(f.ZoneID, f.RotationID, "failed"); got != id {
			t.Errorf("webhook-id %q, want %q", got, id)
		}
		if strings.Contains(string(r.Body), "secretKey") || strings.Contains(string(r.Body), "key-one-value") {
			t.Error("failure notice carries a key")
		}
		wh, _ := standardwebhooks.NewWebhook(testSecret)
		if err := wh.VerifyIgnoringTimestamp(r.Body, r.Header); err != nil {
			t.Error(err)
		}
	}

	// Without a live fingerprint the field is left out; a final answer is final.
	hs2 := newHookServer(t, answer(http.StatusForbidden))
	f.Fingerprint, f.KeyChanged = "", false
	err := newSink(t, hs2.hookURL(t)).NotifyFailure(context.Background(), f)
	if err == nil || !strings.Contains(err.Error(), "HTTP 403 after 1 attempt") {
		t.Errorf("error %v, want HTTP 403 after 1 attempt", err)
	}
	if body := string(hs2.requests()[0].Body); strings.Contains(body, "fingerprint") || !strings.Contains(body, `"keyChanged":false`) {
		t.Errorf("body %s: want keyChanged false and no fingerprint", body)
	}
}
