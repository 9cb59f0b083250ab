package keyrotator_test

// Operations: no rotation storm through HTTP (MIN_ROTATION_INTERVAL), stale
// keys found by check (MAX_KEY_AGE), failures announced even when the
// deadline ran out.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

// writeCalls counts the SSM writes the emulator saw.
func writeCalls(c *testkit.Cloud) int {
	n := 0
	for _, a := range writeActions {
		n += c.Emu.Calls(a)
	}
	return n
}

// TestHTTPRotateTooSoon: two HTTP rotations of one zone on two fresh
// instances: the second is refused with 429 and Retry-After before any
// write, whatever the instance (the record is in the secret); a direct and
// a timer rotation inside the interval proceed.
func TestHTTPRotateTooSoon(t *testing.T) {
	t.Parallel()
	const token = "interval-trigger-token"
	for _, tc := range []struct {
		name        string
		webhookOnly bool // the interval then holds per instance only
	}{
		{name: "SSM record, fresh instance"},
		{name: "webhook only, same instance", webhookOnly: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := []testkit.Option{testkit.WithWebhook(), testkit.WithEnv(map[string]string{"TRIGGER_TOKEN": token, "LOG_LEVEL": "debug"})}
			if tc.webhookOnly {
				opts = append(opts, testkit.WithoutSSM())
			}
			c := testkit.NewCloud(t, []string{zoneAlpha}, opts...)
			first := productionHandler(c)
			second := productionHandler(c)
			if tc.webhookOnly {
				second = first
			}
			rotateHTTP := func(h interface {
				Invoke(context.Context, []byte) ([]byte, error)
			}) httpAnswer {
				t.Helper()
				headers, _ := authHeaders(t, bearer, token, "", nil)
				out, err := h.Invoke(context.Background(), functionURLEvent(t, "POST", "/rotate", headers, nil))
				if err != nil {
					t.Fatalf("HTTP events never answer with an invocation error: %v", err)
				}
				return decodeHTTPAnswer(t, out)
			}
			if r := rotateHTTP(first); r.StatusCode != 200 {
				t.Fatalf("first HTTP rotate: %d %s", r.StatusCode, r.Body)
			}
			refreshes, writes, posts := c.Emu.Performed(actionRefresh), writeCalls(c), len(c.Receiver.Events())
			r := rotateHTTP(second)
			if r.StatusCode != 429 || !strings.Contains(r.Body, "MIN_ROTATION_INTERVAL") {
				t.Fatalf("second HTTP rotate: %d %s, want 429 naming MIN_ROTATION_INTERVAL", r.StatusCode, r.Body)
			}
			if secs, err := strconv.Atoi(r.Headers["Retry-After"]); err != nil || secs < 590 || secs > 600 {
				t.Errorf("Retry-After %q, want about 600 seconds", r.Headers["Retry-After"])
			}
			if c.Emu.Performed(actionRefresh) != refreshes || writeCalls(c) != writes || len(c.Receiver.Events()) != posts {
				t.Error("the refused rotate wrote something")
			}
			// Operators' triggers are not limited.
			for _, ev := range [][]byte{
				[]byte(`{"action":"rotate","rotationId":"operator"}`),
				timerEvent(t, "daily-rotation", time.Now().UTC().Format(time.RFC3339), "scheduled"),
			} {
				out, err := second.Invoke(context.Background(), ev)
				if err != nil {
					t.Fatalf("%s inside the interval: %v", ev, err)
				}
				if rep := decodeReport(t, out); !rep.OK || outcomes(rep)[zoneAlpha] != rotate.Rotated {
					t.Errorf("%s inside the interval: %s", ev, out)
				}
			}
			testkit.AssertNoLeak(t, append(c.Keys([]string{zoneAlpha}), token, c.Getenv("WEBHOOK_SECRET")), r.Body, c.Logs.String())
		})
	}
}

// httpAnswer is an integration response with its headers.
type httpAnswer struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func decodeHTTPAnswer(t *testing.T, payload []byte) httpAnswer {
	t.Helper()
	var r httpAnswer
	if err := json.Unmarshal(payload, &r); err != nil {
		t.Fatalf("integration response %q: %v", payload, err)
	}
	return r
}

// TestCheckStaleKey: with MAX_KEY_AGE exceeded, check reports the zone
// stale with rotatedAt and its age, the report is not ok (a scheduled check
// is an invocation error), and the stale notice reaches the receiver; within
// the age the zone is in-sync with rotatedAt.
func TestCheckStaleKey(t *testing.T) {
	t.Parallel()
	c := testkit.NewCloud(t, []string{zoneAlpha}, testkit.WithWebhook(),
		testkit.WithEnv(map[string]string{"MAX_KEY_AGE": "30d", "LOG_LEVEL": "debug"}))
	h := productionHandler(c)
	ctx := context.Background()
	if rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate, RotationID: "monthly-2026-10"}); err != nil || !rep.OK {
		t.Fatalf("rotation: %v %s", err, reportJSON(t, rep))
	}
	rep, err := h.Run(ctx, rotate.Request{Action: rotate.Check})
	if err != nil || !rep.OK || rep.Zones[0].Outcome != rotate.InSync || rep.Zones[0].RotatedAt == "" {
		t.Fatalf("fresh key: %v %s, want in-sync with rotatedAt", err, reportJSON(t, rep))
	}

	// Age the record: the rotation happened 40 days ago.
	rotatedAt := time.Now().Add(-40 * 24 * time.Hour).UTC().Truncate(time.Second)
	s, _ := c.Emu.Secret(testkit.Region, c.SecretName(zoneAlpha))
	old, err := sink.ParseRecord(s.Description)
	if err != nil {
		t.Fatal(err)
	}
	old.At = rotatedAt
	s.Description = "aged by the test\n" + old.Encode()
	c.Emu.PutSecret(s)

	out, err := h.Invoke(ctx, timerEvent(t, "daily-check", time.Now().UTC().Format(time.RFC3339), `{"action":"check"}`))
	if err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("a stale check is an invocation error naming the outcome, got %v", err)
	}
	rep = decodeReport(t, out)
	z := rep.Zones[0]
	if rep.OK || z.Outcome != rotate.Stale || z.RotatedAt != rotatedAt.Format(time.RFC3339) || z.AgeSeconds < 40*24*3600 ||
		!strings.Contains(z.Error, "MAX_KEY_AGE") {
		t.Errorf("stale check: %s", out)
	}
	var notices []webhook.Event
	for _, e := range c.Receiver.Failures() {
		if e.Type == webhook.TypeStale {
			notices = append(notices, e)
		}
	}
	if len(notices) != 1 || notices[0].ZoneID != zoneAlpha || notices[0].RotatedAt != rotatedAt.Format(time.RFC3339) {
		t.Errorf("stale notices %+v", notices)
	}
	testkit.AssertNoLeak(t, append(c.Keys([]string{zoneAlpha}), c.Getenv("WEBHOOK_SECRET")), string(out), c.Logs.String())
}

// TestFailureAnnouncedAtTheDeadline: SSM stops answering after the refresh,
// so the zone fails because the invocation's time ran out; the
// rotation_failed notice still reaches the receiver, inside the margin.
func TestFailureAnnouncedAtTheDeadline(t *testing.T) {
	t.Parallel()
	c := testkit.NewCloud(t, []string{zoneAlpha}, testkit.WithWebhook())
	h := productionHandler(c)
	if rep, err := h.Run(context.Background(), rotate.Request{Action: rotate.Rotate, RotationID: "setup"}); err != nil || !rep.OK {
		t.Fatalf("setup: %v %s", err, reportJSON(t, rep))
	}
	c.Emu.Inject(emulator.Fault{Action: "UpdateSecret", Delay: time.Minute})
	deadline := time.Now().Add(7 * time.Second) // DELIVERY_WINDOW plus the margin, and a little
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate})
	if err != nil {
		t.Fatal(err)
	}
	if time.Now().After(deadline) {
		t.Errorf("the run ended %v after its deadline", time.Since(deadline))
	}
	z := rep.Zones[0]
	if z.Outcome != rotate.Failed || !z.KeyChanged {
		t.Fatalf("want failed after the refresh: %s", reportJSON(t, rep))
	}
	if !announced(c.Receiver, zoneAlpha) {
		t.Error("the failure was not announced")
	}
}

// leakyHandler is a test-only slog handler that writes what it must never
// write: the zone's live key, on every line.
type leakyHandler struct {
	slog.Handler
	c    *testkit.Cloud
	zone string
}

func (l leakyHandler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(slog.String("leak", l.c.Live(l.zone)))
	return l.Handler.Handle(ctx, r)
}

func (l leakyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return leakyHandler{l.Handler.WithAttrs(as), l.c, l.zone}
}

func (l leakyHandler) WithGroup(name string) slog.Handler {
	return leakyHandler{l.Handler.WithGroup(name), l.c, l.zone}
}

// recordingTB notes failures instead of failing the test.
type recordingTB struct {
	testing.TB
	failed []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}

// TestLeakCheckCatchesALeakyLogger: the sentinel scan the other tests rely
// on fails when a logger that writes keys is swapped in, at LOG_LEVEL=debug,
// on the new paths (a 429 answer and a stale check).
func TestLeakCheckCatchesALeakyLogger(t *testing.T) {
	t.Parallel()
	const token = "leak-trigger-token"
	c := testkit.NewCloud(t, []string{zoneAlpha}, testkit.WithEnv(map[string]string{"TRIGGER_TOKEN": token, "MAX_KEY_AGE": "1h", "LOG_LEVEL": "debug"}))
	var logs testkit.Buffer
	h := productionHandler(c)
	h.Logger = slog.New(leakyHandler{slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}), c, zoneAlpha})
	headers, _ := authHeaders(t, bearer, token, "", nil)
	for _, ev := range [][]byte{
		functionURLEvent(t, "POST", "/rotate", headers, nil),
		functionURLEvent(t, "POST", "/rotate", headers, nil), // 429
		[]byte(`{"action":"check"}`),
	} {
		_, _ = h.Invoke(context.Background(), ev)
	}
	var rec recordingTB
	testkit.AssertNoLeak(&rec, []string{c.Live(zoneAlpha)}, logs.String())
	if len(rec.failed) == 0 {
		t.Error("the leak check passed logs that hold the live key")
	}
	for _, f := range rec.failed {
		if strings.Contains(f, c.Live(zoneAlpha)) {
			t.Error("the leak check's own message quotes the key")
		}
	}
}
