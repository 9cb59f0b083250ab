package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
)

func newReceiver(t *testing.T) *webhook.Receiver {
	t.Helper()
	r, err := webhook.NewReceiver(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// signedRequest builds a POST of body signed with whsec at ts.
func signedRequest(t *testing.T, whsec, id string, ts time.Time, body string) *http.Request {
	t.Helper()
	sec, err := stdwebhook.ParseSecret(whsec)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
	if err := sec.Sign(req.Header, id, ts, []byte(body)); err != nil {
		t.Fatal(err)
	}
	return req
}

func rotatedJSON(zone, key, fp string) string {
	keyField := ""
	if key != "" {
		keyField = `"secretKey":"` + key + `",`
	}
	return `{"type":"teo.mpgw.secret_key.rotated","timestamp":"2026-03-01T04:00:00Z","data":{"zoneId":"` + zone + `",` +
		keyField + `"fingerprint":"` + fp + `","action":"rotate","rotationId":"rot-1"}}`
}

func TestNewReceiverBadSecret(t *testing.T) {
	for _, s := range []string{"", "whsec_", "whsec_not*base64!"} {
		if _, err := webhook.NewReceiver(s); err == nil {
			t.Errorf("NewReceiver(%q) accepted", s)
		}
	}
}

func TestReceiverRequests(t *testing.T) {
	now := time.Now()
	good := rotatedJSON("zone-abc123", "key-one-value", secret.Fingerprint("key-one-value"))
	tests := []struct {
		name string
		req  func(t *testing.T) *http.Request
		want int
	}{
		{"valid", func(t *testing.T) *http.Request {
			return signedRequest(t, testSecret, "msg_1", now, good)
		}, http.StatusNoContent},
		{"other secret", func(t *testing.T) *http.Request {
			return signedRequest(t, otherSecret, "msg_1", now, good)
		}, http.StatusUnauthorized},
		{"body changed after signing", func(t *testing.T) *http.Request {
			r := signedRequest(t, testSecret, "msg_1", now, good)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(good, "zone-abc123", "zone-evil", 1)))
			return r
		}, http.StatusUnauthorized},
		{"timestamp too old", func(t *testing.T) *http.Request {
			return signedRequest(t, testSecret, "msg_1", now.Add(-10*time.Minute), good)
		}, http.StatusUnauthorized},
		{"timestamp too new", func(t *testing.T) *http.Request {
			return signedRequest(t, testSecret, "msg_1", now.Add(10*time.Minute), good)
		}, http.StatusUnauthorized},
		{"unsigned", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(good))
		}, http.StatusUnauthorized},
		{"fingerprint mismatch", func(t *testing.T) *http.Request {
			return signedRequest(t, testSecret, "msg_1", now, rotatedJSON("zone-abc123", "key-one-value", secret.Fingerprint("other")))
		}, http.StatusBadRequest},
		{"no zone", func(t *testing.T) *http.Request {
			return signedRequest(t, testSecret, "msg_1", now, rotatedJSON("", "key-one-value", secret.Fingerprint("key-one-value")))
		}, http.StatusBadRequest},
		{"not JSON", func(t *testing.T) *http.Request {
			return signedRequest(t, testSecret, "msg_1", now, "hello")
		}, http.StatusBadRequest},
		{"unknown type accepted", func(t *testing.T) *http.Request {
			return signedRequest(t, testSecret, "msg_1", now, `{"type":"teo.mpgw.other","data":{}}`)
		}, http.StatusNoContent},
		{"GET", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/hook", nil)
		}, http.StatusMethodNotAllowed},
		{"over 64 KiB", func(t *testing.T) *http.Request {
			return signedRequest(t, testSecret, "msg_1", now, `{"type":"x","pad":"`+strings.Repeat("a", 64<<10)+`"}`)
		}, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReceiver(t)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, tt.req(t))
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.want, strings.TrimSpace(w.Body.String()))
			}
			_, applied := r.Key("zone-abc123")
			if wantApplied := tt.name == "valid"; applied != wantApplied {
				t.Errorf("key applied = %v, want %v", applied, wantApplied)
			}
			if accepted := len(r.Events()) == 1; accepted != (tt.want == http.StatusNoContent) {
				t.Errorf("events %v", r.Events())
			}
			if strings.Contains(w.Body.String(), "key-one-value") {
				t.Error("answer echoes the key")
			}
		})
	}
}

// TestReceiverDedupes: a seen webhook-id answers 200 and is not applied
// again, even if its body differs.
func TestReceiverDedupes(t *testing.T) {
	r := newReceiver(t)
	now := time.Now()
	for i, tc := range []struct {
		key  string
		want int
	}{{"key-one-value", http.StatusNoContent}, {"key-two-value", http.StatusOK}} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, signedRequest(t, testSecret, "msg_same", now, rotatedJSON("zone-abc123", tc.key, secret.Fingerprint(tc.key))))
		if w.Code != tc.want {
			t.Fatalf("request %d: status %d, want %d", i+1, w.Code, tc.want)
		}
	}
	if k, _ := r.Key("zone-abc123"); !k.Equal(secret.New("key-one-value")) {
		t.Error("a duplicate id was applied again")
	}
	ev := r.Events()
	if len(ev) != 2 || ev[0].Duplicate || !ev[1].Duplicate || ev[1].ID != "msg_same" {
		t.Errorf("events %+v: want the second marked duplicate", ev)
	}
}

// TestReceiverWithSink drives the Receiver with the real Sink.
func TestReceiverWithSink(t *testing.T) {
	r := newReceiver(t)
	// A receiver outage of two answers in front of it: the sink retries
	// through it, and nothing is recorded until the Receiver itself answers.
	var outage atomic.Int32
	outage.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if outage.Add(-1) >= 0 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		r.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	u := (&hookServer{Server: srv}).hookURL(t)
	ctx := context.Background()

	d1 := testDelivery()
	if out, err := newSink(t, u).Deliver(ctx, d1); err != nil || out != sink.OK {
		t.Fatalf("Deliver = %v, %v", out, err)
	}
	if ev := r.Events(); len(ev) != 1 {
		t.Fatalf("events %+v, want 1 after the outage", ev)
	}

	// A platform re-run of the same rotation: delivered (200), not applied.
	if out, err := newSink(t, u).Deliver(ctx, d1); err != nil || out != sink.OK {
		t.Fatalf("re-run Deliver = %v, %v", out, err)
	}

	// The next rotation wins.
	d2 := d1
	d2.Key, d2.RotationID, d2.Previous = secret.New("key-two-value"), "rot-2", d1.Key.Fingerprint()
	if _, err := newSink(t, u).Deliver(ctx, d2); err != nil {
		t.Fatal(err)
	}
	if k, ok := r.Key(d1.ZoneID); !ok || !k.Equal(d2.Key) {
		t.Errorf("Key(%s) = %v, %v; want the latest key", d1.ZoneID, k.Fingerprint(), ok)
	}

	// Without the key: recorded, the held key stays.
	noKey := newSink(t, u)
	noKey.IncludeKey = false
	d3 := d2
	d3.Key, d3.RotationID = secret.New("key-three-value"), "rot-3"
	if _, err := noKey.Deliver(ctx, d3); err != nil {
		t.Fatal(err)
	}
	if k, _ := r.Key(d1.ZoneID); !k.Equal(d2.Key) {
		t.Error("an event without a key changed the held key")
	}

	if err := newSink(t, u).NotifyFailure(ctx, sink.Failure{ZoneID: "zone-xyz", Action: "rotate", RotationID: "rot-9", Code: "InternalError"}); err != nil {
		t.Fatal(err)
	}

	ev := r.Events()
	want := []struct {
		typ, rotation string
		hasKey, dup   bool
	}{
		{webhook.TypeRotated, "rot-1", true, false},
		{webhook.TypeRotated, "rot-1", true, true},
		{webhook.TypeRotated, "rot-2", true, false},
		{webhook.TypeRotated, "rot-3", false, false},
		{webhook.TypeRotationFailed, "rot-9", false, false},
	}
	if len(ev) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(ev), len(want), ev)
	}
	for i, w := range want {
		e := ev[i]
		if e.Type != w.typ || e.RotationID != w.rotation || e.HasKey != w.hasKey || e.Duplicate != w.dup || e.Received.IsZero() {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
	if ev[0].ID != webhook.MessageID(d1.ZoneID, "rot-1", d1.Key.Fingerprint()) || ev[0].Fingerprint != d1.Key.Fingerprint() || ev[0].ZoneID != d1.ZoneID || ev[0].Action != "rotate" {
		t.Errorf("event 0 = %+v", ev[0])
	}
	if f := r.Failures(); len(f) != 1 || f[0].ZoneID != "zone-xyz" || f[0].RotationID != "rot-9" {
		t.Errorf("Failures = %+v", f)
	}
	if _, ok := r.Key("zone-xyz"); ok {
		t.Error("a failure notice set a key")
	}
}
