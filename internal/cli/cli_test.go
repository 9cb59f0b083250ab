package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

const (
	actionRefresh  = "RefreshMultiPathGatewaySecretKey"
	actionDescribe = "DescribeMultiPathGatewaySecretKey"
)

var cliZones = []string{"zone-cli01", "zone-cli02"}

// apiActions is every action the emulator serves; writes are those that
// change state.
var (
	writes = []string{
		actionRefresh, "ModifyMultiPathGatewaySecretKey", "CreateMultiPathGatewaySecretKey",
		"CreateSecret", "PutSecretValue", "UpdateSecret", "UpdateDescription", "DeleteSecretVersion",
		"DisableSecret", "EnableSecret", "DeleteSecret", "RestoreSecret",
	}
	apiActions = append([]string{actionDescribe, "GetSecretValue", "DescribeSecret", "ListSecretVersionIds", "AssumeRole"}, writes...)
)

func callCount(emu *emulator.Emulator, actions []string) int {
	n := 0
	for _, a := range actions {
		n += emu.Calls(a)
	}
	return n
}

// result is one run of the command line.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs Main on c's environment with a handler tuned for tests whose
// logger writes to the command's stderr.
func runCLI(t *testing.T, c *testkit.Cloud, stdin string, args ...string) result {
	t.Helper()
	return runCLITuned(t, c, handlerkit.Fast, stdin, args...)
}

// runCLITuned is runCLI with the handler's tuning; the zero Tuning is
// production's.
func runCLITuned(t *testing.T, c *testkit.Cloud, tuning keyrotator.Tuning, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr testkit.Buffer
	h := &keyrotator.Handler{
		Getenv: c.Getenv,
		Logger: slog.New(slog.NewJSONHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tuning: tuning,
	}
	code := Main(context.Background(), args, Env{
		Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Getenv: c.Getenv, Handler: h,
	})
	return result{code, stdout.String(), stderr.String()}
}

// report decodes stdout, which must hold the JSON report and nothing else.
func (r result) report(t *testing.T) rotate.Report {
	t.Helper()
	var rep rotate.Report
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s", err, r.stdout)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" {
		t.Fatalf("stdout holds more than the report: %q", rest)
	}
	var more json.RawMessage
	if err := dec.Decode(&more); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON document")
	}
	return rep
}

// noLeak scans every output for any key the cloud holds or held.
func noLeak(t *testing.T, c *testkit.Cloud, held []string, rs ...result) {
	t.Helper()
	outs := []string{c.Logs.String()}
	for _, r := range rs {
		outs = append(outs, r.stdout, r.stderr)
	}
	testkit.AssertNoLeak(t, append(held, c.Keys(cliZones)...), outs...)
}

func liveKeys(c *testkit.Cloud) []string {
	var ks []string
	for _, z := range cliZones {
		ks = append(ks, c.Live(z))
	}
	return ks
}

func TestGoodActions(t *testing.T) {
	c := testkit.NewCloud(t, cliZones)
	before := liveKeys(c)
	steps := []struct {
		args []string
		want rotate.Outcome
	}{
		{[]string{"rotate"}, rotate.Rotated},
		{[]string{"sync"}, rotate.InSync},
		{[]string{"check"}, rotate.InSync},
		{[]string{"check", "--zones", "zone-cli02"}, rotate.InSync},
		{[]string{"rotate", "--zones", "zone-cli02,zone-cli02", "--timeout", "1m"}, rotate.Rotated},
		{[]string{"check", "--zones=zone-cli01 zone-cli02"}, rotate.InSync},
	}
	var all []result
	for _, s := range steps {
		r := runCLI(t, c, "", s.args...)
		all = append(all, r)
		if r.code != ExitOK {
			t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", s.args, r.code, r.stdout, r.stderr)
		}
		rep := r.report(t)
		if !rep.OK || rep.Action != rotate.Action(s.args[0]) || len(rep.Zones) == 0 {
			t.Fatalf("%v: report %s", s.args, r.stdout)
		}
		for _, z := range rep.Zones {
			if z.Outcome != s.want || z.Fingerprint != secret.Fingerprint(c.Live(z.ZoneID)) {
				t.Errorf("%v: %s %s (%s)", s.args, z.ZoneID, z.Outcome, z.Error)
			}
		}
		// The logs go to stderr, one JSON object per line.
		if !strings.Contains(r.stderr, `"msg":"zone done"`) {
			t.Errorf("%v: no zone log on stderr: %s", s.args, r.stderr)
		}
		for line := range strings.Lines(r.stderr) {
			if !json.Valid([]byte(line)) {
				t.Errorf("%v: stderr line is not JSON: %q", s.args, line)
			}
		}
	}
	if got := c.Emu.Performed(actionRefresh); got != 3 {
		t.Errorf("%d refreshes, want 3", got)
	}
	for _, z := range cliZones {
		if c.SSMValue(z) != c.Live(z) {
			t.Errorf("%s: SSM does not hold the live key", z)
		}
	}
	noLeak(t, c, before, all...)
}

// TestProductionSettingsAtTenSeconds: the commands with the production
// settings and a realistic --timeout: a first rotate (it creates the
// secrets), a steady one, then sync and check find every sink on the live
// key, in eight, six, three and three calls per zone.
func TestProductionSettingsAtTenSeconds(t *testing.T) {
	c := testkit.NewCloud(t, cliZones)
	before := liveKeys(c)
	steps := []struct {
		action    string
		want      rotate.Outcome
		wantCalls int // per zone
	}{
		{"rotate", rotate.Rotated, 8}, // a Describe first; CreateSecret for UpdateDescription, and its read-back
		{"rotate", rotate.Rotated, 6},
		{"sync", rotate.InSync, 3},
		{"check", rotate.InSync, 3},
	}
	var all []result
	for _, s := range steps {
		c.Emu.ResetCounters()
		r := runCLITuned(t, c, keyrotator.Tuning{}, "", s.action, "--timeout", "10s")
		all = append(all, r)
		if r.code != ExitOK {
			t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", s.action, r.code, r.stdout, r.stderr)
		}
		for _, z := range r.report(t).Zones {
			if z.Outcome != s.want || c.SSMValue(z.ZoneID) != c.Live(z.ZoneID) {
				t.Errorf("%s: %s %s (%s), SSM on the live key: %v", s.action, z.ZoneID, z.Outcome, z.Error, c.SSMValue(z.ZoneID) == c.Live(z.ZoneID))
			}
		}
		if got, want := callCount(c.Emu, apiActions), s.wantCalls*len(cliZones); got != want {
			t.Errorf("%s: %d API calls, want %d", s.action, got, want)
		}
	}
	noLeak(t, c, before, all...)
}

func TestZoneFailureExits1(t *testing.T) {
	c := testkit.NewCloud(t, cliZones)
	before := liveKeys(c)
	c.Emu.Inject(emulator.Fault{Action: actionRefresh, Target: "zone-cli02", Code: "AuthFailure.UnauthorizedOperation"})
	r := runCLI(t, c, "", "rotate")
	if r.code != ExitFailed {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	rep := r.report(t)
	if rep.OK || rep.Zones[0].Outcome != rotate.Rotated || rep.Zones[1].Outcome != rotate.Failed ||
		rep.Zones[1].Code != "AuthFailure.UnauthorizedOperation" {
		t.Errorf("report %s", r.stdout)
	}
	noLeak(t, c, before, r)
}

func TestCheckDriftExits1AndWritesNothing(t *testing.T) {
	c := testkit.NewCloud(t, cliZones)
	if r := runCLI(t, c, "", "rotate"); r.code != ExitOK {
		t.Fatalf("rotate: exit %d\n%s", r.code, r.stderr)
	}
	stale := c.Live("zone-cli01")
	// The key changes behind the function's back (the console).
	c.Emu.SetKey("zone-cli01", "Y29uc29sZS1jaGFuZ2VkLWtleS0wMTIzNDU2Nzg5YWJjZGVm")
	c.Emu.ResetCounters()
	r := runCLI(t, c, "", "check")
	if r.code != ExitFailed {
		t.Fatalf("exit %d, want 1", r.code)
	}
	rep := r.report(t)
	if rep.OK || rep.Zones[0].Outcome != rotate.Drifted || rep.Zones[1].Outcome != rotate.InSync {
		t.Errorf("report %s", r.stdout)
	}
	if n := callCount(c.Emu, writes); n != 0 {
		t.Errorf("check made %d write calls", n)
	}
	if c.SSMValue("zone-cli01") != stale {
		t.Error("check changed the secret")
	}
	// sync heals it, then check is clean again.
	if r := runCLI(t, c, "", "sync"); r.code != ExitOK || r.report(t).Zones[0].Outcome != rotate.Synced {
		t.Errorf("sync: exit %d\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, c, "", "check"); r.code != ExitOK {
		t.Errorf("check after sync: exit %d", r.code)
	}
	noLeak(t, c, []string{stale}, r)
}

func TestDryRun(t *testing.T) {
	c := testkit.NewCloud(t, cliZones)
	before := liveKeys(c)
	r := runCLI(t, c, "", "rotate", "--dry-run")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	rep := r.report(t)
	if !rep.OK || !rep.DryRun {
		t.Errorf("report %s", r.stdout)
	}
	for i, z := range rep.Zones {
		if z.Outcome != rotate.Planned || c.Live(z.ZoneID) != before[i] {
			t.Errorf("%s: %s", z.ZoneID, z.Outcome)
		}
	}
	if n := callCount(c.Emu, writes); n != 0 {
		t.Errorf("dry run made %d write calls", n)
	}
	noLeak(t, c, before, r)
}

// TestUsageErrors: bad usage and bad configuration exit 2 before any API
// call, with a message on stderr and nothing on stdout.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.json")
	if err := os.WriteFile(garbage, []byte(`{"Type":"Timer","TriggerName":`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		stdin   string
		env     map[string]string // "" deletes
		wantErr string            // what stderr must say
	}{
		{name: "no command", args: nil, wantErr: "usage:"},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: `unknown command "frobnicate"`},
		{name: "unknown flag", args: []string{"rotate", "--bogus"}, wantErr: "flag provided but not defined: -bogus"},
		{name: "dry run is for rotate only", args: []string{"sync", "--dry-run"}, wantErr: "sync: --dry-run (dryRun) is for rotate only"},
		{name: "check has no dry run", args: []string{"check", "--dry-run"}, wantErr: "check: --dry-run (dryRun) is for rotate only"},
		{name: "sync dry run after zones", args: []string{"sync", "--zones", "zone-cli01", "--dry-run=true"}, wantErr: "dryRun"},
		{name: "invoke of a sync dry run", args: []string{"invoke", "--event", "-"}, stdin: `{"action":"sync","dryRun":true}`, wantErr: `"dryRun" is for rotate only`},
		{name: "invoke of a check dry run", args: []string{"invoke", "--event", "-"}, stdin: `{"action":"check","dryRun":true}`, wantErr: `"dryRun" is for rotate only`},
		{name: "stray argument", args: []string{"rotate", "zone-cli01"}, wantErr: `unexpected argument "zone-cli01"`},
		{name: "stray argument after flags", args: []string{"check", "--zones", "zone-cli01", "now"}, wantErr: `unexpected argument "now"`},
		{name: "zero timeout", args: []string{"rotate", "--timeout", "0s"}, wantErr: "--timeout must be positive"},
		{name: "version with an argument", args: []string{"version", "now"}, wantErr: `unexpected argument "now"`},
		{name: "bad timeout", args: []string{"sync", "--timeout", "soon"}, wantErr: "-timeout"},
		{name: "zone outside ZONE_IDS", args: []string{"rotate", "--zones", "zone-cli01,zone-other"}, wantErr: "zone-other is not in ZONE_IDS"},
		{name: "malformed zone", args: []string{"check", "--zones", "Zone_01"}, wantErr: "not a zone id"},
		{name: "empty zone list", args: []string{"sync", "--zones", " , "}, wantErr: "--zones"},
		{name: "missing ZONE_IDS", args: []string{"rotate"}, env: map[string]string{"ZONE_IDS": ""}, wantErr: "ZONE_IDS"},
		{name: "malformed ZONE_IDS", args: []string{"check"}, env: map[string]string{"ZONE_IDS": "zone-cli01,bad"}, wantErr: "ZONE_IDS"},
		{name: "no sink", args: []string{"rotate"}, env: map[string]string{"SSM_SECRET_NAME": ""}, wantErr: "SSM_SECRET_NAME"},
		{name: "no sink for sync", args: []string{"sync"}, env: map[string]string{"SSM_SECRET_NAME": ""}, wantErr: "no sink configured"},
		{name: "plain http endpoint", args: []string{"rotate"}, env: map[string]string{"TEO_ENDPOINT": "http://teo.example.com"}, wantErr: "TEO_ENDPOINT"},
		{name: "bad role", args: []string{"rotate"}, env: map[string]string{"ROLE_ARN": "admin"}, wantErr: "ROLE_ARN"},
		{name: "invoke without --event", args: []string{"invoke"}, wantErr: "--event"},
		{name: "invoke of a missing file", args: []string{"invoke", "--event", filepath.Join(dir, "nope.json")}, wantErr: "reading the event"},
		{name: "invoke of a garbage file", args: []string{"invoke", "--event", garbage}, wantErr: "bad event"},
		{name: "invoke of garbage on stdin", args: []string{"invoke", "--event", "-"}, stdin: "rotate please", wantErr: "bad event"},
		{name: "invoke of an unknown action", args: []string{"invoke", "--event", "-"}, stdin: `{"action":"delete"}`, wantErr: "bad event"},
		{name: "invoke of a malformed zone", args: []string{"invoke", "--event", "-"}, stdin: `{"zones":["ZONE"]}`, wantErr: "bad event"},
		{name: "invoke with a stray argument", args: []string{"invoke", "--event", "-", "x"}, wantErr: `unexpected argument "x"`},
		{name: "invoke without configuration", args: []string{"invoke", "--event", "-"}, stdin: `{}`,
			env: map[string]string{"ZONE_IDS": ""}, wantErr: "ZONE_IDS"},
		{name: "demo with a stray argument", args: []string{"demo", "now"}, wantErr: `unexpected argument "now"`},
		{name: "emulator with a stray argument", args: []string{"emulator", "now"}, wantErr: `unexpected argument "now"`},
		{name: "emulator with a bad zone", args: []string{"emulator", "--zones", "nope"}, wantErr: "--zones"},
		{name: "bench with a stray argument", args: []string{"bench", "now"}, wantErr: `unexpected argument "now"`},
		{name: "bench with no warm rotations", args: []string{"bench", "--warm", "0"}, wantErr: "--warm must be positive"},
		{name: "bench outside the repository root", args: []string{"bench"}, wantErr: "run from the repository root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testkit.NewCloud(t, cliZones, testkit.WithEnv(tc.env))
			r := runCLI(t, c, tc.stdin, tc.args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
			if n := callCount(c.Emu, apiActions); n != 0 || strings.Contains(c.Logs.String(), "tencentcloud api call") {
				t.Errorf("%d API calls before exit 2", n)
			}
			noLeak(t, c, nil, r)
		})
	}
}

func TestInvoke(t *testing.T) {
	c := testkit.NewCloud(t, cliZones)
	before := liveKeys(c)
	timer := filepath.Join("..", "event", "testdata", "timer.json")
	var all []result

	// The timer rotates every zone.
	r := runCLI(t, c, "", "invoke", "--event", timer)
	all = append(all, r)
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	rep := r.report(t)
	if !rep.OK || rep.Action != rotate.Rotate || len(rep.Zones) != len(cliZones) || !strings.HasPrefix(rep.RotationID, "timer:") {
		t.Fatalf("report %s", r.stdout)
	}
	for i, z := range rep.Zones {
		if z.Outcome != rotate.Rotated || c.Live(z.ZoneID) == before[i] || c.SSMValue(z.ZoneID) != c.Live(z.ZoneID) {
			t.Errorf("%s: %s", z.ZoneID, z.Outcome)
		}
	}
	if got := c.Emu.Performed(actionRefresh); got != len(cliZones) {
		t.Errorf("%d refreshes", got)
	}

	// The platform re-delivers the same timer event: no second refresh.
	timerBody, err := os.ReadFile(timer)
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, c, string(timerBody), "invoke", "--event", "-")
	all = append(all, r)
	if r.code != ExitOK || r.report(t).Zones[0].Outcome != rotate.Rotated {
		t.Fatalf("re-delivered timer: exit %d\n%s", r.code, r.stdout)
	}
	if got := c.Emu.Performed(actionRefresh); got != len(cliZones) {
		t.Errorf("%d refreshes after the timer was re-delivered, want %d", got, len(cliZones))
	}

	// Direct events on stdin.
	r = runCLI(t, c, `{"action":"check","zones":["zone-cli02"]}`, "invoke", "--event", "-")
	all = append(all, r)
	if rep := r.report(t); r.code != ExitOK || rep.Action != rotate.Check || len(rep.Zones) != 1 || rep.Zones[0].Outcome != rotate.InSync {
		t.Errorf("check: exit %d\n%s", r.code, r.stdout)
	}
	r = runCLI(t, c, `{"action":"rotate","zones":["zone-cli01"],"rotationId":"manual-1","dryRun":true}`, "invoke", "--event", "-")
	all = append(all, r)
	if rep := r.report(t); r.code != ExitOK || rep.Zones[0].Outcome != rotate.Planned {
		t.Errorf("dry run: exit %d\n%s", r.code, r.stdout)
	}

	// A zone that fails: the report is printed and the exit code is 1.
	c.Emu.Inject(emulator.Fault{Action: actionRefresh, Code: "OperationDenied"})
	r = runCLI(t, c, `{"action":"rotate","rotationId":"manual-2"}`, "invoke", "--event", "-")
	all = append(all, r)
	if r.code != ExitFailed {
		t.Errorf("failed rotation: exit %d", r.code)
	}
	if rep := r.report(t); rep.OK || rep.Zones[0].Code != "OperationDenied" {
		t.Errorf("report %s", r.stdout)
	}
	if !strings.Contains(r.stderr, "invocation error") || !strings.Contains(r.stderr, "OperationDenied") {
		t.Errorf("stderr %s", r.stderr)
	}
	noLeak(t, c, before, all...)
}

// TestInvokeHTTPEvent: an HTTP event is answered with an integration
// response; without TRIGGER_TOKEN/TRIGGER_SECRET it is refused (fail closed)
// before any API call.
func TestInvokeHTTPEvent(t *testing.T) {
	c := testkit.NewCloud(t, cliZones)
	r := runCLI(t, c, "", "invoke", "--event", filepath.Join("..", "event", "testdata", "scf-function-url.json"))
	var resp struct {
		StatusCode int
		Body       string
	}
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatalf("stdout %q: %v", r.stdout, err)
	}
	if resp.StatusCode != 401 || r.code != ExitFailed {
		t.Errorf("status %d, exit %d; want 401 and exit 1 (the job was not done)", resp.StatusCode, r.code)
	}
	if n := callCount(c.Emu, apiActions); n != 0 {
		t.Errorf("%d API calls for a refused request", n)
	}
}

func TestVersionAndHelp(t *testing.T) {
	c := testkit.NewCloud(t, cliZones)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := runCLI(t, c, "", args...)
		if r.code != ExitOK || !strings.HasPrefix(r.stdout, "mpgw-keyrotator ") || !strings.Contains(r.stdout, "go1") {
			t.Errorf("%v: exit %d, %q", args, r.code, r.stdout)
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := runCLI(t, c, "", args...)
		if r.code != ExitOK || !strings.Contains(r.stdout, "usage:") || !strings.Contains(r.stdout, "rotate [--zones a,b] [--dry-run]") {
			t.Errorf("%v: exit %d, %q", args, r.code, r.stdout)
		}
	}
}

// keyLike matches base64 runs as long as a gateway key (32+ bytes).
var keyLike = regexp.MustCompile(`[A-Za-z0-9+/]{43,}={0,2}`)

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an emulator, a webhook receiver and the SCF runtime")
	}
	c := testkit.NewCloud(t, cliZones) // only for the environment; the demo brings its own cloud
	r := runCLI(t, c, "", "demo")
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"OK:", "zone-demo01", "zone-demo02", "zone-demo03", "holds the live key", "3 of 3 zones in-sync"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "MISMATCH") {
		t.Errorf("stdout: %s", r.stdout)
	}
	if m := keyLike.FindString(r.stdout + r.stderr); m != "" {
		t.Errorf("the demo printed something key-like: %.8s…", m)
	}

	r = runCLI(t, c, "", "demo", "--json")
	if r.code != ExitOK {
		t.Fatalf("--json: exit %d\n%s", r.code, r.stderr)
	}
	rep := r.report(t)
	if !rep.OK || rep.Action != rotate.Rotate || len(rep.Zones) != 3 {
		t.Errorf("report %s", r.stdout)
	}
	for _, z := range rep.Zones {
		if z.Outcome != rotate.Rotated || len(z.Sinks) != 3 { // ssm, aws, webhook
			t.Errorf("%+v", z)
		}
	}
	if m := keyLike.FindString(r.stdout + r.stderr); m != "" {
		t.Errorf("the demo printed something key-like: %.8s…", m)
	}
}

// TestEmulatorCommand serves the emulator, reads the exports it prints,
// calls it with the printed credentials, then stops it.
func TestEmulatorCommand(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	var stderr testkit.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	getenv := func(k string) string {
		if k == "ZONE_IDS" {
			return "zone-emu01,zone-emu02"
		}
		return ""
	}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"emulator", "--addr", "127.0.0.1:0"}, Env{Stdout: pw, Stderr: &stderr, Getenv: getenv})
		pw.Close()
	}()

	vars := map[string]string{}
	var printed strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		printed.WriteString(line + "\n")
		for _, prefix := range []string{"export ", "# "} {
			if k, v, ok := strings.Cut(strings.TrimPrefix(line, prefix), "="); ok && strings.HasPrefix(line, prefix) && !strings.Contains(k, " ") {
				vars[k] = v
			}
		}
		if strings.HasPrefix(line, "# TENCENTCLOUD_SESSIONTOKEN=") {
			break
		}
	}
	go io.Copy(io.Discard, pr) // whatever else it prints
	for _, k := range []string{"TEO_ENDPOINT", "SSM_ENDPOINT", "STS_ENDPOINT", "ZONE_IDS", "TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY",
		"TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"} {
		if vars[k] == "" {
			t.Errorf("%s not printed:\n%s", k, printed.String())
		}
	}
	if vars["ZONE_IDS"] != "zone-emu01,zone-emu02" {
		t.Errorf("ZONE_IDS=%s", vars["ZONE_IDS"])
	}
	ep, err := endpoint.Parse(vars["TEO_ENDPOINT"])
	if err != nil || ep.Scheme != "http" || !strings.HasPrefix(ep.Host, "127.0.0.1:") {
		t.Fatalf("TEO_ENDPOINT %q: %v", vars["TEO_ENDPOINT"], err)
	}
	describe := func(cred common.CredentialIface) (string, error) {
		api := &tcapi.Client{Service: "teo", Version: "2022-09-01", Endpoint: ep, Credential: cred, Timeout: 5 * time.Second}
		var out struct{ SecretKey string }
		err := api.CallOnce(context.Background(), actionDescribe, map[string]string{"ZoneId": "zone-emu01"}, &out)
		return out.SecretKey, err
	}
	key, err := describe(common.NewCredential(vars["TENCENTCLOUD_SECRET_ID"], vars["TENCENTCLOUD_SECRET_KEY"]))
	if err != nil || key == "" {
		t.Fatalf("Describe with the printed permanent key: %q, %v", secret.Fingerprint(key), err)
	}
	roleKey, err := describe(common.NewTokenCredential(vars["TENCENTCLOUD_SECRETID"], vars["TENCENTCLOUD_SECRETKEY"], vars["TENCENTCLOUD_SESSIONTOKEN"]))
	if err != nil || roleKey != key {
		t.Errorf("Describe with the printed role credentials: %v", err)
	}

	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the emulator did not stop when its context ended")
	}
	if _, err := describe(common.NewCredential(vars["TENCENTCLOUD_SECRET_ID"], vars["TENCENTCLOUD_SECRET_KEY"])); err == nil {
		t.Error("the emulator still answers after the command returned")
	}
	testkit.AssertNoLeak(t, []string{key, vars["TENCENTCLOUD_SECRET_KEY"], vars["TENCENTCLOUD_SECRETKEY"], vars["TENCENTCLOUD_SESSIONTOKEN"]},
		stderr.String())
	if !strings.Contains(stderr.String(), actionDescribe) {
		t.Error("the emulator did not log its calls to stderr")
	}
}
