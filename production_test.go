package keyrotator_test

// Tests with the production settings: no Tuning (the real attempt
// timeouts, retries, margin and DELIVERY_WINDOW) and the deadlines the
// platforms really give (SCF's default 3 s, a common 10 s).

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

// realisticDeadline is a common SCF function timeout.
const realisticDeadline = 10 * time.Second

// productionHandler is a function instance on c with the production settings.
func productionHandler(c *testkit.Cloud) *keyrotator.Handler {
	h := handlerkit.New(c)
	h.Tuning = keyrotator.Tuning{}
	return h
}

// rotatedCloud is a cloud with SSM and a webhook where zone has been
// rotated once: its secret and record exist.
func rotatedCloud(t *testing.T, zone string) *testkit.Cloud {
	t.Helper()
	c := testkit.NewCloud(t, []string{zone}, testkit.WithWebhook())
	if rep := run(t, c, rotate.Request{Action: rotate.Rotate, RotationID: "setup"}); !rep.OK {
		t.Fatalf("setup: %s", reportJSON(t, rep))
	}
	return c
}

// runProduction runs req on c with the production settings and a
// realisticDeadline.
func runProduction(t *testing.T, c *testkit.Cloud, req rotate.Request) rotate.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), realisticDeadline)
	defer cancel()
	rep, err := productionHandler(c).Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestEntryPointsRotateWithProductionTiming: a timer, an HTTP (function URL
// and API Gateway) and a direct invocation through the SCF runtime, with the
// production settings and a 10 s deadline, each rotate both zones, with six
// API calls per zone (SSM and a webhook configured) and one Describe per
// zone; the direct one again in staged mode, where Modify changes the keys.
func TestEntryPointsRotateWithProductionTiming(t *testing.T) {
	t.Parallel()
	const token = "production-trigger-token"
	entries := []struct {
		name   string
		event  func(t *testing.T) []byte
		http   bool
		staged bool
	}{
		{name: "timer", event: func(t *testing.T) []byte {
			return timerEvent(t, "daily-rotation", time.Now().UTC().Format(time.RFC3339), "scheduled")
		}},
		{name: "HTTP function URL", http: true, event: func(t *testing.T) []byte {
			h, _ := authHeaders(t, bearer, token, "", nil)
			return functionURLEvent(t, "POST", "/rotate", h, nil)
		}},
		{name: "HTTP API Gateway", http: true, event: func(t *testing.T) []byte {
			h, _ := authHeaders(t, bearer, token, "", nil)
			return apiGatewayEvent(t, "POST", "/rotate", h, nil)
		}},
		{name: "direct", event: func(t *testing.T) []byte {
			return []byte(`{"action":"rotate","rotationId":"direct-production"}`)
		}},
		{name: "direct, staged mode", staged: true, event: func(t *testing.T) []byte {
			return []byte(`{"action":"rotate","rotationId":"direct-production-staged"}`)
		}},
	}
	for _, e := range entries {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			// The priming rotation was just now: MIN_ROTATION_INTERVAL would
			// refuse the HTTP rotate (its own tests are in interval_test.go).
			env := map[string]string{"TRIGGER_TOKEN": token, "MIN_ROTATION_INTERVAL": "0"}
			if e.staged {
				env["ROTATION_MODE"] = "staged"
			}
			f := startProductionSCF(t, env)
			f.prime()
			before := f.liveKeys()
			resp := f.invoke(e.event(t), time.Now().Add(realisticDeadline))
			if resp.Error != nil {
				t.Fatalf("invocation error: %s", resp.Error.Message)
			}
			body := resp.Payload
			if e.http {
				ir := decodeIntegration(t, resp.Payload)
				if ir.StatusCode != 200 {
					t.Fatalf("status %d: %s", ir.StatusCode, ir.Body)
				}
				body = ir.Body
			}
			rep := decodeReport(t, body)
			for _, z := range allowedZones {
				if got := outcomes(rep)[z]; got != rotate.Rotated {
					t.Errorf("%s: %s, want rotated: %s", z, got, body)
				}
				if f.cloud.Live(z) == before[z] {
					t.Errorf("%s: the key did not change", z)
				}
				f.assertDelivered(z)
			}
			calls, _ := f.apiCalls()
			total := 0
			for _, n := range calls {
				total += n
			}
			switch {
			case e.staged:
				if calls[actionModify] != 2 || calls[actionRefresh] != 0 {
					t.Errorf("API calls %v, want one Modify per zone and no Refresh", calls)
				}
				if err := f.cloud.Emu.LiveKeysStoredFirst(); err != nil {
					t.Errorf("a key went live before it was stored: %v", err)
				}
			case calls[actionDescribe] != 2 || calls[actionRefresh] != 2 || calls["UpdateDescription"] != 2 || total != 12:
				t.Errorf("API calls %v (%d in all), want 6 per zone: one Describe, Refresh and UpdateDescription each", calls, total)
			}
		})
	}
}

// TestTimeoutShorterThanTheWindow: SCF's default 3 s timeout is shorter than
// DELIVERY_WINDOW plus the margin: nothing is called, every zone is
// skipped, the report says so once, naming DELIVERY_WINDOW and the timeout.
func TestTimeoutShorterThanTheWindow(t *testing.T) {
	t.Parallel()
	f := startProductionSCF(t, nil)
	deadline := time.Now().Add(3 * time.Second)
	resp := f.invoke([]byte(`{"action":"rotate"}`), deadline)
	// The invocation's time, as the message rounds it, was at most 3s and at
	// least what was left when the answer came (a loaded machine takes a
	// while to deliver the invoke).
	least := time.Until(deadline).Round(100 * time.Millisecond)
	if resp.Error == nil {
		t.Fatalf("want an invocation error, got %s", resp.Payload)
	}
	msg := resp.Error.Message
	var had time.Duration
	if m := regexp.MustCompile(`the invocation had ([0-9.]+s),`).FindStringSubmatch(msg); m != nil {
		had, _ = time.ParseDuration(m[1])
	}
	if !strings.Contains(msg, "DELIVERY_WINDOW (5s)") || had > 3*time.Second || had < least {
		t.Errorf("invocation error %q does not name DELIVERY_WINDOW and the 3s timeout (between %s and 3s)", msg, least)
	}
	for _, z := range allowedZones {
		if !strings.Contains(msg, z+" skipped") {
			t.Errorf("invocation error %q does not say %s was skipped", msg, z)
		}
	}
	if calls, logged := f.apiCalls(); len(calls) != 0 || logged != 0 {
		t.Errorf("API calls made: %v (%d logged)", calls, logged)
	}
	if n := strings.Count(f.cloud.Logs.String(), "function timeout too short"); n != 1 {
		t.Errorf("the short timeout was logged %d times, want once", n)
	}
}

// TestLittleTimeManyZones: with 1.6 s left and 40 zones, every zone whose key
// was refreshed was delivered; the others are skipped with their key
// unchanged.
//
// Not parallel with the package's other tests (its two cases run alongside
// each other only, before the parallel tests start): a short window is
// little more than one attempt of each delivery step, which a CPU shared
// with the rest of the package under -race may not finish in time; the test
// is about the deadline, not about a starved machine. (A 100ms window failed
// so with three -race runs on two cores; 300ms leaves room.)
func TestLittleTimeManyZones(t *testing.T) {
	for _, tc := range []struct {
		name, window string
		wantRotated  bool // at least one zone
	}{
		{name: "default window: nothing fits", window: ""},
		{name: "DELIVERY_WINDOW=300ms: some fit", window: "300ms", wantRotated: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			zones := zoneIDs(40)
			// TEO unthrottled: the case is about the deadline. (A window
			// shorter than a rate-limit wait can leave a refreshed zone
			// unconfirmed; the default window covers a full queue.) SSM's
			// UpdateDescription (20/s) still lets only some zones through.
			var skew atomic.Int64
			now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
			c := testkit.NewCloud(t, zones, testkit.WithEmulator(emulator.Options{TEORateLimit: -1, Now: now}),
				testkit.WithEnv(map[string]string{"DELIVERY_WINDOW": tc.window, "TEO_RATE_LIMIT": "1000"}))
			ctx := context.Background()
			if rep := run(t, c, rotate.Request{Action: rotate.Rotate, RotationID: "setup"}); !rep.OK {
				t.Fatalf("setup: %s", reportJSON(t, rep))
			}
			// A fresh instance, and the emulator's rate windows moved past
			// the set-up's calls.
			skew.Store(int64(2 * time.Second))
			c.Emu.ResetCounters()
			before := map[string]string{}
			for _, z := range zones {
				before[z] = c.Live(z)
			}
			ctx, cancel := context.WithTimeout(ctx, 1600*time.Millisecond) // 600ms of work, then the margin
			defer cancel()
			rep, err := productionHandler(c).Run(ctx, rotate.Request{Action: rotate.Rotate})
			if err != nil {
				t.Fatal(err)
			}
			rotated := 0
			for _, z := range rep.Zones {
				changed := c.Live(z.ZoneID) != before[z.ZoneID]
				switch {
				case z.Outcome == rotate.Rotated:
					rotated++
					if !changed || c.SSMValue(z.ZoneID) != c.Live(z.ZoneID) {
						t.Errorf("%s rotated, but changed=%v and SSM holds the live key=%v", z.ZoneID, changed,
							c.SSMValue(z.ZoneID) == c.Live(z.ZoneID))
					}
				case z.Outcome == rotate.Skipped:
					if changed || z.KeyChanged {
						t.Errorf("%s skipped, but its key changed", z.ZoneID)
					}
				default:
					t.Errorf("%s: %s (%s), want rotated or skipped", z.ZoneID, z.Outcome, z.Error)
				}
			}
			if got := c.Emu.Performed(actionRefresh); got != rotated {
				t.Errorf("%d refreshes, %d zones rotated", got, rotated)
			}
			t.Logf("%d of %d zones rotated", rotated, len(zones))
			if tc.wantRotated != (rotated > 0 && rotated < len(zones)) {
				t.Errorf("%d zones rotated: %s", rotated, reportJSON(t, rep))
			}
			if !tc.wantRotated && c.Emu.Calls(actionDescribe)+c.Emu.Calls("GetSecretValue") != 0 {
				t.Error("API calls were made although no zone could be refreshed")
			}
		})
	}
}

// TestSlowAnswerIsRetried: one answer delayed 6 s, longer than the 5 s
// attempt timeout, at any step before or after the refresh: the attempt
// times out, is retried, and the zone ends rotated with every sink on the
// live key and one refresh. Its deadline is 30 s: a 5 s attempt lost before
// the refresh leaves a 10 s invocation less than DELIVERY_WINDOW, and the
// zone is then rightly skipped (TestSlowRefreshAtTheRealisticDeadline).
func TestSlowAnswerIsRetried(t *testing.T) {
	t.Parallel()
	steady, fresh := true, false // the secret exists from an earlier rotation, or not yet
	faults := []struct {
		emulator.Fault
		steady bool
	}{
		{emulator.Fault{Action: "GetSecretValue"}, steady},
		{emulator.Fault{Action: "DescribeSecret"}, steady},
		{emulator.Fault{Action: "UpdateDescription"}, steady},
		{emulator.Fault{Action: actionRefresh}, steady},
		{emulator.Fault{Action: actionRefresh, Phase: emulator.After}, steady},
		{emulator.Fault{Action: "UpdateSecret"}, steady},
		{emulator.Fault{Action: "UpdateSecret", Phase: emulator.After}, steady},
		{emulator.Fault{Action: actionDescribe}, steady},
		// A first rotation: Describe before the refresh, then CreateSecret.
		{emulator.Fault{Action: actionDescribe}, fresh},
		{emulator.Fault{Action: "CreateSecret"}, fresh},
		{emulator.Fault{Action: "CreateSecret", Phase: emulator.After}, fresh},
	}
	// The rows wait on timers, not the CPU: all of them run at once (t.Parallel
	// would run two at a time on two cores). Set-up and checks stay on the
	// test goroutine.
	type row struct {
		name   string
		cloud  *testkit.Cloud
		before string
		rep    rotate.Report
		err    error
	}
	const zone = "zone-slow"
	rows := make([]*row, len(faults))
	for i, tc := range faults {
		f := tc.Fault
		state := "steady"
		if !tc.steady {
			state = "first rotation"
		}
		r := &row{name: fmt.Sprintf("%s %s, %s", f.Action, f.Phase, state)}
		r.cloud = testkit.NewCloud(t, []string{zone}, testkit.WithWebhook())
		if tc.steady {
			if rep := run(t, r.cloud, rotate.Request{Action: rotate.Rotate, RotationID: "setup"}); !rep.OK {
				t.Fatalf("%s: setup: %s", r.name, reportJSON(t, rep))
			}
		}
		r.cloud.Emu.ResetCounters()
		r.before = r.cloud.Live(zone)
		f.Delay, f.Times = 6*time.Second, 1
		r.cloud.Emu.Inject(f)
		rows[i] = r
	}
	var wg sync.WaitGroup
	for _, r := range rows {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r.rep, r.err = productionHandler(r.cloud).Run(ctx, rotate.Request{Action: rotate.Rotate})
		})
	}
	wg.Wait()
	for _, r := range rows {
		c := r.cloud
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
			continue
		}
		z := r.rep.Zones[0]
		live := c.Live(zone)
		if z.Outcome != rotate.Rotated || live == r.before || c.SSMValue(zone) != live || !receiverHolds(c, zone, live) {
			t.Errorf("%s: want rotated and delivered: %s", r.name, reportJSON(t, r.rep))
		}
		if got := c.Emu.Performed(actionRefresh); got != 1 {
			t.Errorf("%s: %d refreshes, want 1", r.name, got)
		}
		testkit.AssertNoLeak(t, []string{r.before, live}, c.Logs.String(), reportJSON(t, r.rep))
	}
}

// TestSlowRefreshAtTheRealisticDeadline: a Refresh whose answer would come
// after 6 s, with 10 s to run: the attempt's 5 s timer fires, Describe tells
// the key did not change, and the window is then gone, so the zone is
// skipped with its key unchanged. The Describe that judges the lost answer
// is sent although the refresh's own send-by time has passed.
func TestSlowRefreshAtTheRealisticDeadline(t *testing.T) {
	t.Parallel()
	const zone = "zone-slowrefresh"
	c := rotatedCloud(t, zone)
	c.Emu.ResetCounters()
	before := c.Live(zone)
	c.Emu.Inject(emulator.Fault{Action: actionRefresh, Delay: 6 * time.Second, Times: 1})
	rep := runProduction(t, c, rotate.Request{Action: rotate.Rotate})
	z := rep.Zones[0]
	if z.Outcome != rotate.Skipped || z.KeyChanged || c.Live(zone) != before || c.SSMValue(zone) != before {
		t.Errorf("want skipped with the key unchanged: %s", reportJSON(t, rep))
	}
	if got := c.Emu.Calls(actionDescribe); got != 1 {
		t.Errorf("%d Describe calls, want the one that judged the lost answer", got)
	}
	if got := c.Emu.Performed(actionRefresh); got != 0 {
		t.Errorf("%d refreshes performed", got)
	}
	testkit.AssertNoLeak(t, []string{before}, c.Logs.String(), reportJSON(t, rep))
}

// TestReceiverHangsOnceAtTheRealisticDeadline: a receiver that does not
// answer the first POST, with production settings and 10 s to run: the
// attempt's timer fires inside DELIVERY_WINDOW, the retry delivers, and
// the zone is rotated with every sink on the live key.
func TestReceiverHangsOnceAtTheRealisticDeadline(t *testing.T) {
	t.Parallel()
	const zone = "zone-hang"
	c := rotatedCloud(t, zone)
	before := c.Live(zone)
	c.Hook.Set(testkit.HookHang, 0, 1)
	rep := runProduction(t, c, rotate.Request{Action: rotate.Rotate})
	live := c.Live(zone)
	if z := rep.Zones[0]; z.Outcome != rotate.Rotated || live == before || !allSinksHold(c, zone, live) {
		t.Errorf("want rotated and delivered everywhere: %s", reportJSON(t, rep))
	}
	testkit.AssertNoLeak(t, []string{before, live}, c.Logs.String(), reportJSON(t, rep))
}

// TestReceiverDownRefreshesOneZone: a webhook receiver that is down costs
// one refreshed zone (the canary); the other zones are not refreshed.
func TestReceiverDownRefreshesOneZone(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		set  func(c *testkit.Cloud)
	}{
		{name: "receiver answers 500", set: func(c *testkit.Cloud) { c.Hook.Set(testkit.HookStatus, 500, -1) }},
		{name: "receiver drops connections", set: func(c *testkit.Cloud) { c.Hook.Set(testkit.HookDrop, 0, -1) }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			zones := zoneIDs(8)
			c := testkit.NewCloud(t, zones, testkit.WithWebhook())
			mode.set(c)
			rep := runProduction(t, c, rotate.Request{Action: rotate.Rotate})
			if got := c.Emu.Performed(actionRefresh); got != 1 {
				t.Errorf("%d zones refreshed with the receiver down, want 1 (the first)", got)
			}
			if z := rep.Zones[0]; z.Outcome != rotate.Failed || !z.KeyChanged || !strings.HasPrefix(z.Error, "key rotated, delivery incomplete") {
				t.Errorf("the first zone: %s %q, want failed with its key rotated", z.Outcome, z.Error)
			}
			for _, z := range rep.Zones[1:] {
				if z.Outcome != rotate.Failed || z.KeyChanged || !strings.HasPrefix(z.Error, "key unchanged") || !strings.Contains(z.Error, "webhook") {
					t.Errorf("%s: %s %q, want failed with the key unchanged, naming the webhook", z.ZoneID, z.Outcome, z.Error)
				}
			}
		})
	}
}

// TestNewSecretUnreadableIsNotRefreshed: a zone whose SSM secret does not
// exist yet, with GetSecretValue refused, is not refreshed.
func TestNewSecretUnreadableIsNotRefreshed(t *testing.T) {
	t.Parallel()
	zone := "zone-unreadable"
	c := testkit.NewCloud(t, []string{zone})
	c.Emu.Inject(emulator.Fault{Action: "GetSecretValue", Code: "UnauthorizedOperation"})
	before := c.Live(zone)
	rep := runProduction(t, c, rotate.Request{Action: rotate.Rotate})
	z := rep.Zones[0]
	if z.Outcome != rotate.Failed || z.KeyChanged || z.Code != "UnauthorizedOperation" || c.Live(zone) != before {
		t.Errorf("want failed with the key unchanged: %s", reportJSON(t, rep))
	}
	if got := c.Emu.Calls(actionRefresh); got != 0 {
		t.Errorf("%d refreshes sent", got)
	}
}

// TestSteadyRotationCalls counts the calls of one steady rotation of one zone
// with the SSM sink: six, one of each action.
func TestSteadyRotationCalls(t *testing.T) {
	t.Parallel()
	zone := "zone-steady"
	c := testkit.NewCloud(t, []string{zone})
	h := productionHandler(c)
	ctx := context.Background()
	if rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate, RotationID: "first"}); err != nil || !rep.OK {
		t.Fatalf("first rotation: %v %s", err, reportJSON(t, rep))
	}
	c.Emu.ResetCounters()
	rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate, RotationID: "second"})
	if err != nil || !rep.OK {
		t.Fatalf("steady rotation: %v %s", err, reportJSON(t, rep))
	}
	want := map[string]int{"GetSecretValue": 1, "DescribeSecret": 1, "UpdateDescription": 1,
		actionRefresh: 1, "UpdateSecret": 1, actionDescribe: 1}
	for _, action := range []string{"GetSecretValue", "DescribeSecret", "UpdateDescription", actionRefresh,
		"UpdateSecret", actionDescribe, "CreateSecret", "PutSecretValue", "ListSecretVersionIds"} {
		if got := c.Emu.Calls(action); got != want[action] {
			t.Errorf("%s called %d times, want %d", action, got, want[action])
		}
	}
	if live := c.Live(zone); c.SSMValue(zone) != live || rep.Zones[0].Fingerprint != secret.Fingerprint(live) {
		out, _ := json.Marshal(rep)
		t.Errorf("SSM does not hold the live key: %s", out)
	}
}

// TestWarmInstanceSharesRateLimits: two invocations in quick succession on
// one instance together send more of each action than TEO and SSM allow in
// a second. The instance's limiters outlive the invocation, so the second
// waits instead of being refused: the emulator refuses nothing.
func TestWarmInstanceSharesRateLimits(t *testing.T) {
	t.Parallel()
	zones := zoneIDs(30)
	c := testkit.NewCloud(t, zones)
	h := productionHandler(c)
	for i, half := range [][]string{zones[:15], zones[15:]} {
		ctx, cancel := context.WithTimeout(context.Background(), realisticDeadline)
		rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate, Zones: half})
		cancel()
		if err != nil || !rep.OK {
			t.Fatalf("invocation %d: %v %s", i+1, err, reportJSON(t, rep))
		}
	}
	if got := c.Emu.Throttled(); got != 0 {
		t.Errorf("the emulator refused %d calls as over the rate limit", got)
	}
}
