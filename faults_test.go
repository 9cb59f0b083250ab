package keyrotator_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

// secretState is how the SSM secret looks before the faulty rotation.
type secretState int

const (
	steady    secretState = iota // the secret and its version exist (an earlier rotation)
	fresh                        // no secret yet: the first rotation creates it
	noVersion                    // the secret exists, SSM_VERSION_ID does not
)

type faultPoint struct {
	name  string
	state secretState
	api   *emulator.Fault // a cloud API fault, or
	hook  testkit.HookMode
}

// faultPoints are the faults of a rotation in refresh mode, or in staged
// mode, where Modify makes the key live instead of Refresh and promotion
// adds its own calls.
func faultPoints(staged bool) []faultPoint {
	points := refreshFaultPoints()
	if !staged {
		return points
	}
	for i, p := range points {
		if p.api != nil && p.api.Action == actionRefresh {
			f := *p.api
			f.Action = actionModify
			points[i].api, points[i].name = &f, strings.Replace(p.name, "Refresh", "Modify", 1)
		}
	}
	return append(points,
		faultPoint{name: "SSM DeleteSecretVersion (promotion) error", api: &emulator.Fault{Action: "DeleteSecretVersion", Code: "InternalError"}},
		faultPoint{name: "AWS UpdateSecretVersionStage (promotion) error", api: &emulator.Fault{Action: "secretsmanager.UpdateSecretVersionStage", Code: "InternalServiceError"}},
	)
}

func refreshFaultPoints() []faultPoint {
	api := func(action string, phase emulator.Phase) *emulator.Fault {
		return &emulator.Fault{Action: action, Phase: phase, Code: "InternalError"}
	}
	awsAPI := func(action string, phase emulator.Phase) *emulator.Fault {
		return &emulator.Fault{Action: "secretsmanager." + action, Phase: phase, Code: "InternalServiceError"}
	}
	return []faultPoint{
		{name: "Refresh error before the work", api: api(actionRefresh, emulator.Before)},
		{name: "Refresh error after the work (answer lost)", api: api(actionRefresh, emulator.After)},
		{name: "Refresh connection dropped after the work", api: &emulator.Fault{Action: actionRefresh, Phase: emulator.After, Drop: true}},
		{name: "Describe error", api: api(actionDescribe, emulator.Before)},
		{name: "SSM GetSecretValue error", api: api("GetSecretValue", emulator.Before)},
		{name: "SSM CreateSecret error before the work", state: fresh, api: api("CreateSecret", emulator.Before)},
		{name: "SSM CreateSecret error after the work", state: fresh, api: api("CreateSecret", emulator.After)},
		{name: "SSM PutSecretValue error before the work", state: noVersion, api: api("PutSecretValue", emulator.Before)},
		{name: "SSM PutSecretValue error after the work", state: noVersion, api: api("PutSecretValue", emulator.After)},
		{name: "SSM UpdateSecret error before the work", api: api("UpdateSecret", emulator.Before)},
		{name: "SSM UpdateSecret error after the work", api: api("UpdateSecret", emulator.After)},
		{name: "SSM UpdateDescription (record) error", api: api("UpdateDescription", emulator.Before)},
		{name: "AWS GetSecretValue error", api: awsAPI("GetSecretValue", emulator.Before)},
		{name: "AWS DescribeSecret error", api: awsAPI("DescribeSecret", emulator.Before)},
		{name: "AWS TagResource (record) error", api: awsAPI("TagResource", emulator.Before)},
		{name: "AWS CreateSecret error before the work", state: fresh, api: awsAPI("CreateSecret", emulator.Before)},
		{name: "AWS CreateSecret error after the work", state: fresh, api: awsAPI("CreateSecret", emulator.After)},
		{name: "AWS PutSecretValue error before the work", api: awsAPI("PutSecretValue", emulator.Before)},
		{name: "AWS PutSecretValue error after the work", api: awsAPI("PutSecretValue", emulator.After)},
		{name: "webhook 503", hook: testkit.HookStatus},
		{name: "webhook timeout", hook: testkit.HookHang},
		{name: "webhook connection dropped", hook: testkit.HookDrop},
	}
}

type matrixRow struct {
	fault, persistence, outcome, key, code string
	refreshes                              int
	afterSync                              string
}

// TestFaultMatrix injects a fault at every point of a rotation, once
// (transient) and for good (persistent), with an SSM and a webhook sink,
// and checks the guarantees that make the product:
//   - after the invocation, plus one sync when it reported failure (once the
//     cause is gone), every sink holds the live key;
//   - a zone whose key was refreshed but not delivered is reported failed
//     with the API action and code, never rotated;
//   - no more than one refresh per rotation, none for sync;
//   - a transient fault never fails the rotation;
//   - a failed rotation is announced (rotation_failed) when the webhook works;
//   - no key ever reaches a log, a report or an error.
//
// It runs in both rotation modes. In staged mode the key is also proven, by
// the emulator's call log, to have been stored in a durable sink before the
// Modify that made it live, in every row, and no pending version is left
// once the rotation (or the sync after it) is done.
func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	for _, staged := range []bool{false, true} {
		mode := map[bool]string{false: "refresh", true: "staged"}[staged]
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			faultMatrix(t, staged)
		})
	}
}

// updateREADME rewrites the README's fault matrices from a run:
// go test -run TestFaultMatrix . -update
var updateREADME = flag.Bool("update", false, "rewrite the fault matrices in README.md from this run")

// matrixSlots bounds the rows in flight, of both modes together: they
// mostly wait (retries, timeouts), but the webhook timeout of the rows is
// short.
var matrixSlots = make(chan struct{}, 8)

// rowT collects a row's failures from its own goroutine; the row's subtest
// reports them. Fatal ends the row's goroutine, as it ends a test.
type rowT struct {
	testing.TB // the parent, for Cleanup
	mu         sync.Mutex
	errs       []string
}

func (r *rowT) Helper() {}
func (r *rowT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *rowT) Error(args ...any)                 { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *rowT) Fatalf(format string, args ...any) { r.Errorf(format, args...); runtime.Goexit() }
func (r *rowT) Fatal(args ...any)                 { r.Error(args...); runtime.Goexit() }

func faultMatrix(t *testing.T, staged bool) {
	type job struct {
		name       string
		fp         faultPoint
		persistent bool
		t          *rowT
		row        matrixRow
	}
	var jobs []*job
	for _, fp := range faultPoints(staged) {
		for _, persistent := range []bool{false, true} {
			persistence := map[bool]string{false: "transient", true: "persistent"}[persistent]
			jobs = append(jobs, &job{name: fp.name + "/" + persistence, fp: fp, persistent: persistent, t: &rowT{TB: t},
				row: matrixRow{fault: fp.name, persistence: persistence}})
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			matrixSlots <- struct{}{}
			defer func() { <-matrixSlots }()
			row := runFault(j.t, j.fp, j.persistent, staged)
			row.fault, row.persistence = j.row.fault, j.row.persistence
			j.row = row
		})
	}
	wg.Wait()
	var rows []matrixRow
	for _, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			for _, e := range j.t.errs {
				t.Error(e)
			}
		})
		rows = append(rows, j.row)
	}
	mode := map[bool]string{false: "refresh", true: "staged"}[staged]
	t.Logf("fault matrix, %s mode (zone outcome after one rotation; sinks: SSM, AWS Secrets Manager and webhook):\n%s", mode, matrixTable(rows, staged))
	checkREADMEMatrix(t, mode, matrixTable(rows, staged))
}

// matrixTable renders rows as README shows them.
func matrixTable(rows []matrixRow, staged bool) string {
	changes := map[bool]string{false: "refreshes", true: "key changes"}[staged]
	var b strings.Builder
	fmt.Fprintf(&b, "| fault | once or always | outcome | key | code | %s | after sync |\n", changes)
	b.WriteString("|--- |--- |--- |--- |--- |--- |--- |\n")
	for _, r := range rows {
		code := r.code
		if code != "" {
			code += " "
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s| %d | %s |\n", r.fault, r.persistence, r.outcome, r.key, code, r.refreshes, r.afterSync)
	}
	return b.String()
}

// checkREADMEMatrix compares README's table of mode with the run's, or
// rewrites it with -update: the documentation never drifts from the test.
func checkREADMEMatrix(t *testing.T, mode, table string) {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	header := map[string]string{"refresh": "| refreshes |", "staged": "| key changes |"}[mode]
	start := -1
	for i := 0; i < len(readme); {
		k := strings.Index(readme[i:], "| fault | once or always |")
		if k < 0 {
			break
		}
		line := readme[i+k : i+k+strings.Index(readme[i+k:], "\n")]
		if strings.Contains(line, header) {
			start = i + k
			break
		}
		i += k + 1
	}
	if start < 0 {
		t.Fatalf("README.md has no %s-mode fault matrix (a table whose header has %q)", mode, header)
	}
	end := start + strings.Index(readme[start:], "\n\n") + 1
	if readme[start:end] == table {
		return
	}
	if *updateREADME {
		if err := os.WriteFile("README.md", []byte(readme[:start]+table+readme[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's %s-mode fault matrix differs from this run; run: go test -run TestFaultMatrix . -update\nthis run:\n%s", mode, table)
}

func runFault(t testing.TB, fp faultPoint, persistent, staged bool) matrixRow {
	zone := "zone-matrix"
	mode := map[bool]string{false: "refresh", true: "staged"}[staged]
	c := testkit.NewCloud(t, []string{zone}, testkit.WithWebhook(), testkit.WithAWS(), testkit.WithEnv(map[string]string{"ROTATION_MODE": mode}))
	h := handlerkit.New(c)
	if fp.hook == testkit.HookHang {
		// Only the hanging receiver needs a short attempt; elsewhere a
		// short timer on a loaded machine would fail the failure notice.
		h.Tuning.WebhookTimeout = 150 * time.Millisecond
	}
	ctx := context.Background()

	switch fp.state {
	case steady:
		if rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate, RotationID: "setup"}); err != nil || !rep.OK {
			t.Fatalf("setup rotation: %v %s", err, reportJSON(t, rep))
		}
	case noVersion:
		c.Emu.PutSecret(emulator.SecretState{Region: testkit.Region, Name: c.SecretName(zone), Status: emulator.StatusEnabled,
			Versions: []emulator.Version{{ID: "consumer-draft", Value: "draft", Created: time.Now()}}})
	}
	c.Emu.ResetCounters()
	before := c.Live(zone)
	times := 1
	if persistent {
		times = 0
		if fp.hook != testkit.HookOK {
			times = -1
		}
	}
	if fp.api != nil {
		f := *fp.api
		f.Times = times
		c.Emu.Inject(f)
	} else {
		c.Hook.Set(fp.hook, 503, times)
	}

	rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate, RotationID: "r-matrix"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	z := rep.Zones[0]
	live := c.Live(zone)
	refreshes := c.Emu.Performed(actionRefresh) // the key changes: Refresh, or Modify in staged mode
	if staged {
		if n := c.Emu.Calls(actionRefresh); n != 0 {
			t.Errorf("%d Refresh calls in staged mode", n)
		}
		refreshes = c.Emu.Performed(actionModify)
		if err := c.Emu.LiveKeysStoredFirst(); err != nil {
			t.Errorf("a key went live before it was stored: %v", err)
		}
	}
	allHold := allSinksHold(c, zone, live)
	keyChanged := live != before

	row := matrixRow{outcome: string(z.Outcome), code: z.Code, refreshes: refreshes, afterSync: "-"}
	row.key = "unchanged"
	if keyChanged {
		row.key = "rotated"
	}
	if z.APIAction != "" {
		row.code = z.APIAction + " " + z.Code
	}

	if refreshes > 1 {
		t.Errorf("%d refreshes in one rotation", refreshes)
	}
	if !persistent && z.Outcome != rotate.Rotated {
		t.Errorf("a transient fault failed the rotation: %s", z.Error)
	}
	switch z.Outcome {
	case rotate.Rotated:
		if !keyChanged || !allHold || refreshes != 1 {
			t.Errorf("rotated, but changed=%v sinks hold live=%v refreshes=%d", keyChanged, allHold, refreshes)
		}
	case rotate.Failed:
		if z.APIAction == "" || z.Code == "" {
			t.Errorf("failed without the API action and code: %+v", z)
		}
		if keyChanged != z.KeyChanged {
			t.Errorf("report says keyChanged=%v, the key did change=%v", z.KeyChanged, keyChanged)
		}
		wantPrefix := "key unchanged"
		switch {
		case keyChanged && staged:
			wantPrefix = "key rotated, stored as pending: run sync"
		case keyChanged:
			wantPrefix = "key rotated, delivery incomplete: run sync"
		}
		if !strings.HasPrefix(z.Error, wantPrefix) {
			t.Errorf("error %q does not start with %q", z.Error, wantPrefix)
		}
		if fp.hook == testkit.HookOK && !announced(c.Receiver, zone) {
			t.Errorf("the failure was not announced to the webhook; log:\n%s", c.Logs.String())
		}
	default:
		t.Errorf("unexpected outcome %s: %s", z.Outcome, z.Error)
	}
	if keyChanged && !allHold && z.Outcome != rotate.Failed {
		t.Errorf("the key was refreshed but not delivered, and the zone is %s", z.Outcome)
	}

	if z.Outcome != rotate.Rotated {
		// The operator fixes the cause, then heals with sync.
		c.Emu.ClearFaults()
		c.Hook.Clear()
		sync, err := handlerkit.New(c).Run(ctx, rotate.Request{Action: rotate.Sync})
		if err != nil {
			t.Fatalf("sync: %v", err)
		}
		row.afterSync = string(sync.Zones[0].Outcome)
		if !sync.OK {
			t.Errorf("sync did not heal: %s", reportJSON(t, sync))
		}
		if got := c.Emu.Performed(actionRefresh) + c.Emu.Performed(actionModify); got != refreshes {
			t.Errorf("sync changed the key (%d -> %d)", refreshes, got)
		}
		live = c.Live(zone)
		if !allSinksHold(c, zone, live) {
			t.Errorf("after sync, SSM holds %s, AWS %s, webhook %v, live is %s", secret.Fingerprint(c.SSMValue(zone)),
				secret.Fingerprint(c.AWSStaged(zone, emulator.StageCurrent)), receiverHolds(c, zone, live), secret.Fingerprint(live))
		}
		testkit.AssertNoLeak(t, []string{before, live}, reportJSON(t, sync))
	}
	if staged {
		noPendingLeft(t, c, zone)
	}
	aws := c.Emu.AWSCredential()
	testkit.AssertNoLeak(t, []string{before, live, aws.SecretAccessKey, aws.SessionToken}, c.Logs.String(), reportJSON(t, rep), z.Error)
	return row
}

// allSinksHold reports whether every sink the cloud configures holds live:
// SSM, AWS Secrets Manager (AWSCURRENT) and the webhook receiver.
func allSinksHold(c *testkit.Cloud, zone, live string) bool {
	if c.Getenv("SSM_SECRET_NAME") != "" && c.SSMValue(zone) != live {
		return false
	}
	if c.Getenv("AWS_SECRET_ID") != "" && c.AWSStaged(zone, emulator.StageCurrent) != live {
		return false
	}
	return c.Receiver == nil || receiverHolds(c, zone, live)
}

func receiverHolds(c *testkit.Cloud, zone, live string) bool {
	k, ok := c.Receiver.Key(zone)
	return ok && k.Reveal() == live
}

func announced(r *webhook.Receiver, zone string) bool {
	for _, f := range r.Failures() {
		if f.ZoneID == zone && f.Type == webhook.TypeRotationFailed {
			return true
		}
	}
	return false
}

// TestConcurrentRotationsConverge races two rotations of the same zone, on
// two instances, many times: whatever the interleaving, every sink ends
// holding the key TEO has live, and each rotation refreshed at most once.
func TestConcurrentRotationsConverge(t *testing.T) {
	t.Parallel()
	const rounds = 40
	zone := "zone-race"
	c := testkit.NewCloud(t, []string{zone}, testkit.WithWebhook(), testkit.WithAWS(), testkit.WithEmulator(emulator.Options{TEORateLimit: -1}))
	ctx := context.Background()
	for round := range rounds {
		c.Emu.ResetCounters()
		a, b := handlerkit.New(c), handlerkit.New(c)
		var wg sync.WaitGroup
		reps := make([]rotate.Report, 2)
		for i, h := range []interface {
			Run(context.Context, rotate.Request) (rotate.Report, error)
		}{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate, RotationID: fmt.Sprintf("race-%d-%d", round, i)})
				if err != nil {
					t.Errorf("round %d: %v", round, err)
				}
				reps[i] = rep
			}()
		}
		wg.Wait()
		live := c.Live(zone)
		if !allSinksHold(c, zone, live) {
			t.Fatalf("round %d: sinks diverged from the live key %s: ssm %s aws %s; reports %s %s", round, secret.Fingerprint(live),
				secret.Fingerprint(c.SSMValue(zone)), secret.Fingerprint(c.AWSStaged(zone, emulator.StageCurrent)), reportJSON(t, reps[0]), reportJSON(t, reps[1]))
		}
		if got := c.Emu.Performed(actionRefresh); got > 2 {
			t.Fatalf("round %d: %d refreshes for two rotations", round, got)
		}
		// A rotation that finished before the other refreshed reports the
		// key it delivered, live at that moment; the rotation that made the
		// final key (or the one that adopted it) reports it.
		reportsLive := false
		for _, rep := range reps {
			z := rep.Zones[0]
			if z.Outcome != rotate.Rotated {
				t.Errorf("round %d: a racing rotation did not complete: %+v", round, z)
			}
			reportsLive = reportsLive || z.Fingerprint == secret.Fingerprint(live)
		}
		if !reportsLive {
			t.Errorf("round %d: no report names the live key %s: %s %s", round, secret.Fingerprint(live), reportJSON(t, reps[0]), reportJSON(t, reps[1]))
		}
	}
	testkit.AssertNoLeak(t, []string{c.Live(zone)}, c.Logs.String())
}

// TestRedeliveryRefreshesOnce: the same rotation delivered twice refreshes
// at most once, also on a fresh instance, and the second delivery finishes
// what the first left undone.
func TestRedeliveryRefreshesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name         string
		webhookOnly  bool
		sameInstance bool
		breakFirst   bool // the first delivery fails after the refresh
		wantRefresh  int
	}{
		{name: "SSM record, fresh instance", wantRefresh: 1},
		{name: "SSM record, first delivery failed, fresh instance finishes it", breakFirst: true, wantRefresh: 1},
		{name: "webhook only, same instance", webhookOnly: true, sameInstance: true, wantRefresh: 1},
		{name: "webhook only, fresh instance (no durable record: rotates again)", webhookOnly: true, wantRefresh: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			zone := "zone-redeliver"
			opts := []testkit.Option{testkit.WithWebhook()}
			if tc.webhookOnly {
				opts = append(opts, testkit.WithoutSSM())
			}
			c := testkit.NewCloud(t, []string{zone}, opts...)
			first := handlerkit.New(c)
			if tc.breakFirst {
				c.Emu.Inject(emulator.Fault{Action: "UpdateSecret", Code: "InternalError"})
				// UpdateSecret only exists for an existing version: create it first.
				if rep, _ := first.Run(ctx, rotate.Request{Action: rotate.Sync}); rep.Zones[0].Outcome != rotate.Synced {
					t.Fatalf("setup sync: %s", reportJSON(t, rep))
				}
				c.Emu.ResetCounters()
			}
			req := rotate.Request{Action: rotate.Rotate, RotationID: "timer:daily-rotation:2026-11-27T03:00:00Z"}
			rep1, err := first.Run(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if tc.breakFirst {
				if z := rep1.Zones[0]; z.Outcome != rotate.Failed || !z.KeyChanged {
					t.Fatalf("first delivery should fail after the refresh: %+v", z)
				}
				c.Emu.ClearFaults()
			}
			second := first
			if !tc.sameInstance {
				second = handlerkit.New(c)
			}
			rep2, err := second.Run(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Emu.Performed(actionRefresh); got != tc.wantRefresh {
				t.Errorf("%d refreshes, want %d", got, tc.wantRefresh)
			}
			z := rep2.Zones[0]
			live := c.Live(zone)
			if z.Outcome != rotate.Rotated || z.Fingerprint != secret.Fingerprint(live) {
				t.Errorf("redelivery: %+v", z)
			}
			if !receiverHolds(c, zone, live) || (!tc.webhookOnly && c.SSMValue(zone) != live) {
				t.Error("sinks do not hold the live key after the redelivery")
			}
		})
	}
}

// TestSyncHealsThroughEveryEntry: after a delivery that failed once the key
// was refreshed, sync from the command line's Run, a timer message and the
// HTTP route each bring the sinks to the live key without refreshing.
func TestSyncHealsThroughEveryEntry(t *testing.T) {
	t.Parallel()
	token := "trigger-token-for-tests"
	entries := []struct {
		name  string
		event string // "" = Handler.Run
	}{
		{name: "Run (command line)"},
		{name: "timer message", event: `{"Type":"Timer","TriggerName":"heal","Time":"2026-11-27T05:00:00Z","Message":"{\"action\":\"sync\"}"}`},
		{name: "HTTP POST /sync", event: `{"httpMethod":"POST","path":"/sync","headers":{"authorization":"Bearer ` + token + `"},"body":"","isBase64Encoded":false,"queryString":{}}`},
	}
	for _, e := range entries {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			zone := "zone-heal"
			c := testkit.NewCloud(t, []string{zone}, testkit.WithWebhook(), testkit.WithEnv(map[string]string{"TRIGGER_TOKEN": token}))
			ctx := context.Background()
			c.Hook.Set(testkit.HookStatus, 503, -1)
			rep, err := handlerkit.New(c).Run(ctx, rotate.Request{Action: rotate.Rotate})
			if err != nil || rep.Zones[0].Outcome != rotate.Failed || !rep.Zones[0].KeyChanged {
				t.Fatalf("setup: want a failed delivery after the refresh: %v %s", err, reportJSON(t, rep))
			}
			c.Hook.Clear()
			refreshes := c.Emu.Performed(actionRefresh)
			h := handlerkit.New(c)
			var out string
			if e.event == "" {
				rep, err := h.Run(ctx, rotate.Request{Action: rotate.Sync})
				if err != nil || !rep.OK {
					t.Fatalf("sync: %v %s", err, reportJSON(t, rep))
				}
				out = reportJSON(t, rep)
			} else {
				body, err := h.Invoke(ctx, []byte(e.event))
				if err != nil {
					t.Fatalf("invoke: %v", err)
				}
				out = string(body)
				if !strings.Contains(out, `\"ok\":true`) && !strings.Contains(out, `"ok":true`) {
					t.Fatalf("sync answer: %s", out)
				}
			}
			live := c.Live(zone)
			if c.Emu.Performed(actionRefresh) != refreshes || c.SSMValue(zone) != live || !receiverHolds(c, zone, live) {
				t.Errorf("sync did not heal without refreshing: %s", out)
			}
			testkit.AssertNoLeak(t, []string{live}, out, c.Logs.String())
		})
	}
}
