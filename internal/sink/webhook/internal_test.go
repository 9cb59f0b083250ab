package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
)

// vectorSecret is the signing key of the reference vector of
// standard-webhooks.md §2.
const vectorSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// newVectorSink is a Sink posting to rawURL and signing with vectorSecret.
func newVectorSink(t *testing.T, rawURL string) *Sink {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(config.Webhook{URL: u, Secret: vectorSecret})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSigningVector proves the signing input (id.timestamp.body) and the
// header encoding against the reference vector of standard-webhooks.md §2.
func TestSigningVector(t *testing.T) {
	s := newVectorSink(t, "https://hooks.example.com/x")
	req, err := s.newRequest(context.Background(), "msg_test", time.Unix(1700000000, 0), []byte(`{"type":"teo.key.rotated"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"webhook-id":        "msg_test",
		"webhook-timestamp": "1700000000",
		"webhook-signature": "v1,HxAwo+xLPF6SxaFPWNN33QX8IH60bs+7K4gT6pERRFY=",
		"content-type":      "application/json",
		"user-agent":        "mpgw-keyrotator",
	}
	for name, v := range want {
		if got := req.Header.Get(name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		value string
		limit time.Duration
		want  time.Duration
	}{
		{"", 4 * time.Second, 0},
		{"0", 4 * time.Second, 0},
		{"2", 4 * time.Second, 2 * time.Second},
		{" 3 ", 4 * time.Second, 3 * time.Second},
		{"120", 4 * time.Second, 4 * time.Second}, // capped: a receiver cannot stall a rotation
		{"120", 0, 120 * time.Second},             // no cap configured
		{"99999999999999", 4 * time.Second, 0},    // absurd: ignored, no overflow
		{"-5", 4 * time.Second, 0},
		{"soon", 4 * time.Second, 0},
		{time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), 4 * time.Second, 4 * time.Second},
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 4 * time.Second, 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		if got := retryAfter(h, tt.limit); got != tt.want {
			t.Errorf("retryAfter(%q, %v) = %v, want %v", tt.value, tt.limit, got, tt.want)
		}
	}
}

// TestAttemptCarriesRetryAfter checks that a throttled answer asks retry.Do
// for the server's wait (the waiting itself is retry's, tested there), and
// only for answers worth retrying.
func TestAttemptCarriesRetryAfter(t *testing.T) {
	tests := []struct {
		status    int
		want      time.Duration
		retryable bool
	}{
		{http.StatusServiceUnavailable, 3 * time.Second, true},
		{http.StatusTooManyRequests, 3 * time.Second, true},
		{http.StatusBadRequest, 0, false},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(tt.status)
		}))
		s := newVectorSink(t, srv.URL)
		err := s.attempt(context.Background(), s.client(), "msg_x", []byte(`{}`), 1)
		srv.Close()
		var ra interface{ RetryAfter() time.Duration }
		got := time.Duration(0)
		if errors.As(err, &ra) {
			got = ra.RetryAfter()
		}
		if got != tt.want || retry.IsRetryable(err) != tt.retryable {
			t.Errorf("HTTP %d: RetryAfter %v retryable %v, want %v %v", tt.status, got, retry.IsRetryable(err), tt.want, tt.retryable)
		}
	}
}
