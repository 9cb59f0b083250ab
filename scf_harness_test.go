package keyrotator_test

// The harness of the end-to-end tests through the real SCF Go1 runtime: an
// scf.Server serving the function's Handler on a loopback listener, driven
// over net/rpc exactly as the platform does (with internal/scf's message
// types: internal/scf's own tests prove, with copies of scf-go-lib's, that
// gob matches them by field name), with the execution role's credentials
// arriving only in each invoke's Environment.

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/rpc"
	"os"
	"strings"
	"testing"
	"time"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

const (
	zoneAlpha   = "zone-alpha"
	zoneBeta    = "zone-beta"
	zoneOutside = "zone-outside" // exists in the account, not in ZONE_IDS

	// longDeadline is far beyond any test's needs: deadlines are not what
	// these cases are about.
	longDeadline = 2 * time.Minute
)

// invocationContext is the context of an invocation with longDeadline
// left, ending with the test.
func invocationContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), longDeadline)
	t.Cleanup(cancel)
	return ctx
}

// startHandler is a function instance (called directly, without a runtime)
// on a fresh cloud holding allowedZones, and an invocation's context.
func startHandler(t *testing.T) (*testkit.Cloud, *keyrotator.Handler, context.Context) {
	c := testkit.NewCloud(t, allowedZones)
	return c, handlerkit.New(c), invocationContext(t)
}

// allowedZones is ZONE_IDS of every function in these tests.
var allowedZones = []string{zoneAlpha, zoneBeta}

// writeActions are the SSM actions that change a secret.
var writeActions = []string{"CreateSecret", "PutSecretValue", "UpdateSecret", "UpdateDescription"}

// scfFunction is one function instance: a testkit cloud (emulator, webhook
// receiver, configuration without credentials) served by the SCF runtime.
type scfFunction struct {
	t      *testing.T
	cloud  *testkit.Cloud
	client *rpc.Client
	// production serves a Handler with the production settings (no Tuning).
	production bool
	// secrets are values no output may contain: every key the emulator
	// held when collect ran, trigger and webhook secrets, role keys.
	secrets []string
}

// startSCFFunction starts a function on a fresh cloud holding allowedZones
// and zoneOutside. env adds to or deletes from (value "") the function's
// configuration; the role credentials are always removed from it.
func startSCFFunction(t *testing.T, env map[string]string) *scfFunction {
	t.Helper()
	return startSCF(t, env, false)
}

// startProductionSCF is startSCFFunction with the production settings: no
// shrunk timeouts or retries.
func startProductionSCF(t *testing.T, env map[string]string) *scfFunction {
	t.Helper()
	return startSCF(t, env, true)
}

func startSCF(t *testing.T, env map[string]string, production bool) *scfFunction {
	t.Helper()
	vars := map[string]string{
		"ZONE_IDS":                  strings.Join(allowedZones, ","),
		"TENCENTCLOUD_SECRETID":     "",
		"TENCENTCLOUD_SECRETKEY":    "",
		"TENCENTCLOUD_SESSIONTOKEN": "",
	}
	maps.Copy(vars, env)
	c := testkit.NewCloud(t, []string{zoneAlpha, zoneBeta, zoneOutside}, testkit.WithWebhook(), testkit.WithEnv(vars))
	for _, v := range []string{"TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN", "TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"} {
		if c.Getenv(v) != "" {
			t.Fatalf("the function's own environment holds %s: credentials must come only with the invoke", v)
		}
	}

	role := c.Emu.RoleCredential()
	f := &scfFunction{t: t, cloud: c, production: production}
	f.newInstance()
	f.secrets = append(f.secrets, role.SecretKey, role.Token, c.Getenv("WEBHOOK_SECRET"),
		c.Getenv("TRIGGER_TOKEN"), c.Getenv("TRIGGER_SECRET"))
	f.collect()
	return f
}

// newInstance starts another instance of the function on the same cloud
// (a new Handler, so nothing remembered in memory, behind its own SCF
// runtime) and sends the following invokes to it.
func (f *scfFunction) newInstance() {
	t := f.t
	t.Helper()
	h := handlerkit.New(f.cloud)
	if f.production {
		h.Tuning = keyrotator.Tuning{}
	}
	client := testkit.StartSCF(t, &scf.Server{
		Handler: h,
		Setenv:  f.cloud.Setenv,
		Logger:  slog.New(slog.NewJSONHandler(f.cloud.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err := client.Call("Function.Ping", scf.PingRequest{}, &scf.PingResponse{}); err != nil {
		t.Fatalf("Function.Ping: %v", err)
	}
	f.client = client
}

// roleEnvironment is the Environment JSON SCF sends with each invoke: the
// execution role's temporary credentials.
func roleEnvironment(c *testkit.Cloud) string {
	role := c.Emu.RoleCredential()
	b, _ := json.Marshal(map[string]string{
		"TENCENTCLOUD_SECRETID":     role.SecretID,
		"TENCENTCLOUD_SECRETKEY":    role.SecretKey,
		"TENCENTCLOUD_SESSIONTOKEN": role.Token,
	})
	return string(b)
}

func timestamp(t time.Time) scf.InvokeRequest_Timestamp {
	if t.IsZero() {
		return scf.InvokeRequest_Timestamp{}
	}
	return scf.InvokeRequest_Timestamp{Seconds: t.Unix(), Nanos: int64(t.Nanosecond())}
}

// invokeRequest is an invoke as SCF sends it for payload.
func invokeRequest(payload []byte, deadline time.Time, environment string) scf.InvokeRequest {
	return scf.InvokeRequest{
		Payload:               payload,
		RequestId:             keyrotator.NewRequestID(),
		TraceId:               "trace-" + keyrotator.NewRequestID()[:8],
		Deadline:              timestamp(deadline),
		InvokedFunctionUnique: "qcs::scf:ap-guangzhou:uin/100000000001:namespace/default/function/mpgw-keyrotator",
		Namespace:             "default",
		FunctionName:          "mpgw-keyrotator",
		FunctionVersion:       "$LATEST",
		MemoryLimitInMb:       128,
		TimeLimitInMs:         int32(longDeadline / time.Millisecond),
		Environment:           environment,
		TencentcloudRegion:    testkit.Region,
		TencentcloudAppID:     "1250000000",
		TencentcloudUin:       "100000000001",
	}
}

// invoke calls Function.Invoke with the role credentials in Environment.
func (f *scfFunction) invoke(payload []byte, deadline time.Time) scf.InvokeResponse {
	f.t.Helper()
	return f.invokeWith(invokeRequest(payload, deadline, roleEnvironment(f.cloud)))
}

func (f *scfFunction) invokeWith(req scf.InvokeRequest) scf.InvokeResponse {
	f.t.Helper()
	f.collect()
	var resp scf.InvokeResponse
	if err := f.client.Call("Function.Invoke", req, &resp); err != nil {
		f.t.Fatalf("Function.Invoke: %v (the runtime must answer in-band)", err)
	}
	f.collect()
	outputs := []string{string(resp.Payload)}
	if resp.Error != nil {
		outputs = append(outputs, resp.Error.Message, resp.Error.Type)
	}
	f.assertNoLeak(outputs...)
	return resp
}

// collect adds every key the emulator, SSM and the receiver hold now to the
// values no output may contain.
func (f *scfFunction) collect() {
	zones := []string{zoneAlpha, zoneBeta, zoneOutside}
	f.secrets = append(f.secrets, f.cloud.Keys(zones)...)
	for _, z := range zones {
		if k, ok := f.cloud.Receiver.Key(z); ok {
			f.secrets = append(f.secrets, k.Reveal())
		}
	}
}

// assertNoLeak scans outputs and the logs (emulator, runtime, function).
func (f *scfFunction) assertNoLeak(outputs ...string) {
	f.t.Helper()
	testkit.AssertNoLeak(f.t, f.secrets, append(outputs, f.cloud.Logs.String())...)
}

// liveKeys is every zone's live key.
func (f *scfFunction) liveKeys() map[string]string {
	m := map[string]string{}
	for _, z := range []string{zoneAlpha, zoneBeta, zoneOutside} {
		m[z] = f.cloud.Live(z)
	}
	return m
}

// apiCalls is the emulator's count of calls per action (every action, as
// its control surface reports them) and the number of API calls it logged,
// authenticated or not.
func (f *scfFunction) apiCalls() (map[string]int, int) {
	f.t.Helper()
	rec := httptest.NewRecorder()
	f.cloud.Emu.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_emulator/state", nil))
	var state struct {
		Calls map[string]int `json:"calls"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &state) != nil {
		f.t.Fatalf("emulator state: %d %s", rec.Code, rec.Body)
	}
	for a, n := range state.Calls {
		if n == 0 {
			delete(state.Calls, a)
		}
	}
	return state.Calls, strings.Count(f.cloud.Logs.String(), `"msg":"tencentcloud api call"`)
}

// writeCalls is the number of calls, since priming, of the SSM actions that
// change a secret.
func (f *scfFunction) writeCalls() int {
	n := 0
	for _, a := range writeActions {
		n += f.cloud.Emu.Calls(a)
	}
	return n
}

// prime rotates every allowed zone through the runtime, so that the sinks
// hold the live keys, then resets the emulator's counters.
func (f *scfFunction) prime() {
	f.t.Helper()
	resp := f.invoke([]byte(`{"action":"rotate","rotationId":"prime"}`), time.Now().Add(longDeadline))
	if resp.Error != nil {
		f.t.Fatalf("priming rotation: %s", resp.Error.Message)
	}
	f.cloud.Emu.ResetCounters()
}

// assertDelivered checks that SSM and the webhook receiver hold zone's live key.
func (f *scfFunction) assertDelivered(zone string) {
	f.t.Helper()
	live := f.cloud.Live(zone)
	if got := f.cloud.SSMValue(zone); f.cloud.Getenv("SSM_SECRET_NAME") != "" && got != live {
		f.t.Errorf("%s: SSM holds %s, live is %s", zone, secret.Fingerprint(got), secret.Fingerprint(live))
	}
	if got, _ := f.cloud.Receiver.Key(zone); got.Reveal() != live {
		f.t.Errorf("%s: the webhook receiver holds %s, live is %s", zone, got.Fingerprint(), secret.Fingerprint(live))
	}
}

func decodeReport(t *testing.T, body []byte) rotate.Report {
	t.Helper()
	var rep rotate.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("report %q: %v", body, err)
	}
	return rep
}

func outcomes(rep rotate.Report) map[string]rotate.Outcome {
	m := map[string]rotate.Outcome{}
	for _, z := range rep.Zones {
		m[z.ZoneID] = z.Outcome
	}
	return m
}

// fixtureEvent reads an event sample of internal/event as a JSON object.
func fixtureEvent(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("internal/event/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// timerEvent is the SCF timer sample with message, trigger name and time set.
func timerEvent(t *testing.T, trigger, at, message string) []byte {
	t.Helper()
	ev := fixtureEvent(t, "timer-note.json")
	ev["TriggerName"], ev["Time"], ev["Message"] = trigger, at, message
	return mustJSON(t, ev)
}
