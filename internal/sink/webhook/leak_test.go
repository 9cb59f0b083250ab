package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

const sentinelKey = "SENTINEL-K3Y-do-not-leak-8f1c2a"

// echo is a misbehaving receiver: it answers status with the request body,
// key included, as its own body.
func echo(status int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.Copy(w, r.Body)
	}
}

// TestNothingLeaks delivers a sentinel key through every path, success and
// failure, and checks that neither the logs nor any returned error hold the
// key, the webhook secret, a signature, or the URL's path and query.
func TestNothingLeaks(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := testDelivery()
	d.Key = secret.New(sentinelKey)
	failure := sink.Failure{ZoneID: d.ZoneID, Action: "rotate", RotationID: d.RotationID, KeyChanged: true,
		APIAction: "UpdateSecret", Code: "InternalError", Reason: "delivery incomplete", Remedy: "run sync",
		Fingerprint: d.Key.Fingerprint()}

	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL, _ := url.Parse("http://" + refused.Addr().String() + hookPath)
	refused.Close()

	release := make(chan struct{})
	defer close(release) // before the servers close: Close waits for handlers

	type scenario struct {
		name    string
		respond func(int, http.ResponseWriter, *http.Request)
		url     *url.URL // instead of a server
		notify  bool
		wantErr bool
	}
	scenarios := []scenario{
		{name: "delivered", respond: echo(http.StatusOK)},
		{name: "retried then delivered", respond: func(call int, w http.ResponseWriter, r *http.Request) {
			if call == 1 {
				echo(http.StatusServiceUnavailable)(call, w, r)
				return
			}
			echo(http.StatusOK)(call, w, r)
		}},
		{name: "persistent 503", respond: echo(http.StatusServiceUnavailable), wantErr: true},
		{name: "final 400", respond: echo(http.StatusBadRequest), wantErr: true},
		{name: "redirect", respond: func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere?key="+sentinelKey, http.StatusTemporaryRedirect)
		}, wantErr: true},
		{name: "timeouts", respond: func(int, http.ResponseWriter, *http.Request) { <-release }, wantErr: true},
		{name: "refused", url: refusedURL, wantErr: true},
		{name: "dropped", respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		}, wantErr: true},
		{name: "notice delivered", respond: echo(http.StatusOK), notify: true},
		{name: "notice failed", respond: echo(http.StatusInternalServerError), notify: true, wantErr: true},
	}

	var errs []string
	var sigs []string
	for _, sc := range scenarios {
		u := sc.url
		var hs *hookServer
		if u == nil {
			hs = newHookServer(t, sc.respond)
			u = hs.hookURL(t)
		}
		s := newSink(t, u)
		s.Logger = logger
		s.AttemptTimeout = 20 * time.Millisecond
		if sc.notify {
			err = s.NotifyFailure(context.Background(), failure)
		} else {
			_, err = s.Deliver(context.Background(), d)
		}
		if (err != nil) != sc.wantErr {
			t.Errorf("%s: error %v, want error %v", sc.name, err, sc.wantErr)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
		if hs != nil {
			for _, r := range hs.requests() {
				for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
					sigs = append(sigs, strings.TrimPrefix(sig, "v1,"))
				}
			}
		}
	}
	if len(sigs) == 0 {
		t.Fatal("no signatures captured")
	}

	forbidden := append([]string{sentinelKey, testSecret, strings.TrimPrefix(testSecret, "whsec_"), "t0ken", "q5ecret"}, sigs...)
	for _, text := range append([]string{logs.String()}, errs...) {
		for _, f := range forbidden {
			if strings.Contains(text, f) {
				t.Errorf("%q leaked into:\n%s", f, text)
			}
		}
	}

	// The logs are not empty by accident: one Debug line per attempt, one
	// line per outcome naming the zone and the fingerprint.
	var attempts, outcomes int
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		switch rec["msg"] {
		case "webhook attempt":
			attempts++
			if rec["level"] != "DEBUG" || rec["host"] == nil || rec["status"] == nil || rec["attempt"] == nil || rec["duration"] == nil {
				t.Errorf("attempt line %s", line)
			}
		case "webhook delivery", "webhook failure notice":
			outcomes++
			if rec["zoneId"] != d.ZoneID || rec["fingerprint"] != d.Key.Fingerprint() || rec["outcome"] == nil {
				t.Errorf("outcome line %s", line)
			}
		}
	}
	if outcomes != len(scenarios) || attempts < len(scenarios) {
		t.Errorf("%d outcome lines (want %d), %d attempt lines", outcomes, len(scenarios), attempts)
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs.String())
	}
}
