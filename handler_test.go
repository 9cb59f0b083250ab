package keyrotator_test

// End-to-end tests through the real SCF Go1 runtime: an scf.Server serving the
// function's Handler on a loopback listener, driven over net/rpc exactly as
// the platform does, with the execution role's credentials arriving only in
// each invoke's Environment. Every case asserts the answer and what the
// emulated cloud (TEO, SSM) and the webhook receiver ended up holding.

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/rpc"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

// Local copies of scf-go-lib's wire messages (cloudfunction/messages), with
// the field names and types of internal/scf/messages.go. The tests talk to
// the runtime only through these: gob matches fields by name, so a passing
// test proves the server is wire compatible with what the platform sends.
type (
	PingRequest             struct{}
	PingResponse            struct{}
	InvokeRequest_Timestamp struct {
		Seconds int64
		Nanos   int64
	}
	InvokeRequest struct {
		Payload               []byte
		RequestId             string
		TraceId               string
		Deadline              InvokeRequest_Timestamp
		InvokedFunctionUnique string
		ClientContext         []byte
		Namespace             string
		FunctionName          string
		FunctionVersion       string
		MemoryLimitInMb       int32
		TimeLimitInMs         int32
		Environment           string
		TencentcloudRegion    string
		TencentcloudAppID     string
		TencentcloudUin       string
		FunctionTrace         string
	}
	InvokeResponse_Error_StackFrame struct {
		Path  string `json:"path"`
		Line  int32  `json:"line"`
		Label string `json:"label"`
	}
	InvokeResponse_Error struct {
		Message    string                             `json:"errorMessage"`
		Type       string                             `json:"errorType"`
		StackTrace []*InvokeResponse_Error_StackFrame `json:"stackTrace,omitempty"`
		ShouldExit bool                               `json:"-"`
	}
	InvokeResponse struct {
		Payload []byte
		Error   *InvokeResponse_Error
	}
)

const (
	zoneAlpha   = "zone-alpha"
	zoneBeta    = "zone-beta"
	zoneOutside = "zone-outside" // exists in the account, not in ZONE_IDS

	scfRefresh  = "RefreshMultiPathGatewaySecretKey"
	scfDescribe = "DescribeMultiPathGatewaySecretKey"

	// longDeadline is far beyond any test's needs: deadlines are not what
	// these cases are about.
	longDeadline = 2 * time.Minute
)

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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := handlerkit.New(f.cloud)
	if f.production {
		h.Tuning = keyrotator.Tuning{}
	}
	srv := &scf.Server{
		Handler: h,
		Setenv:  f.cloud.Setenv,
		Logger:  slog.New(slog.NewJSONHandler(f.cloud.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve returned %v, want net.ErrClosed", err)
		}
	})
	client, err := rpc.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := client.Call("Function.Ping", PingRequest{}, &PingResponse{}); err != nil {
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

func timestamp(t time.Time) InvokeRequest_Timestamp {
	if t.IsZero() {
		return InvokeRequest_Timestamp{}
	}
	return InvokeRequest_Timestamp{Seconds: t.Unix(), Nanos: int64(t.Nanosecond())}
}

// invokeRequest is an invoke as SCF sends it for payload.
func invokeRequest(payload []byte, deadline time.Time, environment string) InvokeRequest {
	return InvokeRequest{
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
func (f *scfFunction) invoke(payload []byte, deadline time.Time) InvokeResponse {
	f.t.Helper()
	return f.invokeWith(invokeRequest(payload, deadline, roleEnvironment(f.cloud)))
}

func (f *scfFunction) invokeWith(req InvokeRequest) InvokeResponse {
	f.t.Helper()
	f.collect()
	var resp InvokeResponse
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

// TestSCFCredentialsOnlyFromEnvironment: the function's configuration has
// no credentials; they exist only in each invoke's Environment, are read
// afresh on every invoke (never cached), and a wrong set fails cleanly.
// Not parallel: HOME is pointed at an empty directory so that no
// credentials file on this machine can stand in for the Environment.
func TestSCFCredentialsOnlyFromEnvironment(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("TENCENTCLOUD_CREDENTIALS_FILE", "")
	os.Unsetenv("TENCENTCLOUD_CREDENTIALS_FILE")
	f := startSCFFunction(t, nil)
	before := f.liveKeys()
	timer := timerEvent(t, "nightly-rotate", time.Now().UTC().Format(time.RFC3339), "scheduled")
	role := f.cloud.Emu.RoleCredential()
	wrong, _ := json.Marshal(map[string]string{
		"TENCENTCLOUD_SECRETID": role.SecretID, "TENCENTCLOUD_SECRETKEY": "not-the-role-key", "TENCENTCLOUD_SESSIONTOKEN": role.Token,
	})

	// 1. No Environment: nothing to sign with, nothing called.
	resp := f.invokeWith(invokeRequest(timer, time.Now().Add(longDeadline), ""))
	if resp.Error == nil || !strings.Contains(resp.Error.Message, "TENCENTCLOUD_SECRETID") || len(resp.Payload) != 0 {
		t.Fatalf("invoke without credentials: payload %q, error %+v", resp.Payload, resp.Error)
	}
	if calls, logged := f.apiCalls(); len(calls) != 0 || logged != 0 {
		t.Errorf("API called without credentials: %v (%d logged)", calls, logged)
	}

	// 2. A wrong key in Environment: refused by the cloud, key unchanged.
	resp = f.invokeWith(invokeRequest(timer, time.Now().Add(longDeadline), string(wrong)))
	if resp.Error == nil || !strings.Contains(resp.Error.Message, "AuthFailure.SignatureFailure") {
		t.Fatalf("invoke with a wrong key: %+v", resp.Error)
	}
	if got := f.cloud.Emu.Performed(scfRefresh); got != 0 {
		t.Errorf("%d refreshes with a wrong key", got)
	}

	// 3. The right credentials in Environment replace the wrong ones: the
	// same instance now rotates (the redelivered timer is a retry of a
	// rotation that never refreshed, so it refreshes once).
	resp = f.invoke(timer, time.Now().Add(longDeadline))
	if resp.Error != nil {
		t.Fatalf("invoke with the role credentials: %+v", resp.Error)
	}
	rep := decodeReport(t, resp.Payload)
	if !rep.OK || len(rep.Zones) != len(allowedZones) {
		t.Fatalf("report: %s", resp.Payload)
	}
	for _, z := range allowedZones {
		if f.cloud.Live(z) == before[z] {
			t.Errorf("%s not rotated", z)
		}
		f.assertDelivered(z)
	}
	if got := f.cloud.Emu.Performed(scfRefresh); got != len(allowedZones) {
		t.Errorf("%d refreshes, want %d", got, len(allowedZones))
	}
	if f.cloud.Live(zoneOutside) != before[zoneOutside] {
		t.Error("a zone outside ZONE_IDS was rotated")
	}
	f.assertNoLeak()
}

// TestSCFInvoke covers timer and direct events through the runtime.
func TestSCFInvoke(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Format(time.RFC3339)
	type want struct {
		errHas   []string // InvokeResponse.Error message contains; nil = no error
		outcomes map[string]rotate.Outcome
		refresh  int      // Refresh performed so far (after priming)
		changed  []string // zones whose key changed since the start of the case
		logHas   string   // the logs contain this
		noCalls  bool     // no API call at all
	}
	tests := []struct {
		name          string
		env           map[string]string
		prime         bool
		fault         *emulator.Fault
		payloads      [][]byte      // invoked in order on the same instance
		otherInstance bool          // payloads after the first go to a new instance
		clearFaults   bool          // the fault is removed after the first payload
		deadline      time.Duration // from now; 0 = longDeadline
		want          []want        // one per payload
	}{
		{
			name:     "timer note rotates every zone",
			payloads: [][]byte{timerEvent(t, "nightly-rotate", now, "scheduled")},
			want: []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated},
				refresh: 2, changed: allowedZones}},
		},
		{
			name:     "timer empty message rotates every zone",
			payloads: [][]byte{mustJSON(t, fixtureEvent(t, "timer.json"))},
			want: []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated},
				refresh: 2, changed: allowedZones}},
		},
		{
			name:     "timer check compares and refreshes nothing",
			prime:    true,
			payloads: [][]byte{timerEvent(t, "hourly-check", now, `{"action":"check"}`)},
			want:     []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.InSync, zoneBeta: rotate.InSync}}},
		},
		{
			name:     "timer check reports drift as an invocation error",
			payloads: [][]byte{timerEvent(t, "hourly-check", now, `{"action":"check","zones":["zone-beta"]}`)},
			want:     []want{{errHas: []string{"check not ok", zoneBeta + " drift"}}},
		},
		{
			name:     "timer with a failing zone is an invocation error",
			fault:    &emulator.Fault{Action: scfDescribe, Target: zoneBeta, Code: "AuthFailure.UnauthorizedOperation"},
			payloads: [][]byte{timerEvent(t, "nightly-rotate", now, "scheduled")},
			want: []want{{errHas: []string{zoneBeta + " failed", "AuthFailure.UnauthorizedOperation"},
				refresh: 1, changed: []string{zoneAlpha}}},
		},
		{
			name: "redelivered timer does not rotate twice",
			payloads: [][]byte{
				timerEvent(t, "nightly-rotate", now, "scheduled"),
				timerEvent(t, "nightly-rotate", now, "scheduled"),
			},
			want: []want{
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
			},
		},
		{
			name: "direct rotate and its redelivery",
			payloads: [][]byte{
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
			},
			want: []want{
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, refresh: 1, changed: []string{zoneAlpha}},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, refresh: 1, changed: []string{zoneAlpha}},
			},
		},
		{
			name: "direct redelivery to another instance",
			payloads: [][]byte{
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
				[]byte(`{"action":"rotate","zones":["zone-alpha"],"rotationId":"r-1"}`),
			},
			otherInstance: true,
			want: []want{
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, refresh: 1, changed: []string{zoneAlpha}},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, refresh: 1, changed: []string{zoneAlpha}},
			},
		},
		{
			name: "redelivered timer on another instance does not rotate twice",
			payloads: [][]byte{
				timerEvent(t, "nightly-rotate", now, "scheduled"),
				timerEvent(t, "nightly-rotate", now, "scheduled"),
			},
			otherInstance: true,
			want: []want{
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
			},
		},
		{
			name:  "timer retried after a failed delivery finishes it without refreshing",
			prime: true,
			fault: &emulator.Fault{Action: "UpdateSecret", Target: strings.ReplaceAll(testkit.SecretName, "{zone}", zoneBeta), Code: "FailedOperation"},
			payloads: [][]byte{
				timerEvent(t, "nightly-rotate", now, "scheduled"),
				timerEvent(t, "nightly-rotate", now, "scheduled"),
			},
			otherInstance: true,
			clearFaults:   true,
			want: []want{
				{errHas: []string{zoneBeta + " failed", "UpdateSecret FailedOperation", "key rotated, run sync"}, refresh: 2, changed: allowedZones},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
			},
		},
		{
			name: "webhook only: redelivery remembered by the instance",
			env:  map[string]string{"SSM_SECRET_NAME": "", "SSM_VERSION_ID": ""},
			payloads: [][]byte{
				[]byte(`{"action":"rotate","rotationId":"r-hook"}`),
				[]byte(`{"action":"rotate","rotationId":"r-hook"}`),
			},
			want: []want{
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
				{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}, refresh: 2, changed: allowedZones},
			},
		},
		{
			name:     "direct rotate of a zone outside the allow-list",
			payloads: [][]byte{[]byte(`{"action":"rotate","zones":["zone-outside"]}`)},
			want:     []want{{errHas: []string{zoneOutside + " failed"}, noCalls: true}},
		},
		{
			name:     "direct dry run refreshes nothing",
			payloads: [][]byte{[]byte(`{"action":"rotate","dryRun":true}`)},
			want:     []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Planned, zoneBeta: rotate.Planned}}},
		},
		{
			name:     "direct sync delivers the live key without rotating",
			payloads: [][]byte{[]byte(`{"action":"sync"}`)},
			want:     []want{{outcomes: map[string]rotate.Outcome{zoneAlpha: rotate.Synced, zoneBeta: rotate.Synced}}},
		},
		{
			name:     "deadline already past: zones skipped",
			payloads: [][]byte{timerEvent(t, "nightly-rotate", now, "scheduled")},
			deadline: -time.Second,
			want:     []want{{errHas: []string{zoneAlpha + " skipped", zoneBeta + " skipped"}, noCalls: true}},
		},
		{
			name:     "deadline shorter than the delivery budget: zones skipped",
			payloads: [][]byte{[]byte(`{"action":"rotate","rotationId":"r-short"}`)},
			deadline: 1500 * time.Millisecond,
			want: []want{{errHas: []string{zoneAlpha + " skipped", zoneBeta + " skipped"},
				logHas: "left before the deadline, DELIVERY_WINDOW is 5s"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startSCFFunction(t, tc.env)
			if tc.prime {
				f.prime()
			}
			if tc.fault != nil {
				f.cloud.Emu.Inject(*tc.fault)
			}
			before := f.liveKeys()
			for i, payload := range tc.payloads {
				w := tc.want[i]
				if i > 0 && tc.otherInstance {
					f.newInstance()
				}
				if i > 0 && tc.clearFaults {
					f.cloud.Emu.ClearFaults()
				}
				deadline := time.Now().Add(cmp.Or(tc.deadline, longDeadline))
				resp := f.invoke(payload, deadline)
				if w.errHas == nil {
					if resp.Error != nil {
						t.Fatalf("invoke %d: error %+v", i, resp.Error)
					}
					rep := decodeReport(t, resp.Payload)
					if !rep.OK || !maps.Equal(outcomes(rep), w.outcomes) {
						t.Fatalf("invoke %d: report %s, want outcomes %v", i, resp.Payload, w.outcomes)
					}
				} else {
					if resp.Error == nil {
						t.Fatalf("invoke %d: no invocation error; payload %s", i, resp.Payload)
					}
					if len(resp.Payload) != 0 {
						t.Errorf("invoke %d: payload %q returned with the error", i, resp.Payload)
					}
					if resp.Error.Type != "ReportError" {
						t.Errorf("invoke %d: error type %q, want ReportError", i, resp.Error.Type)
					}
					for _, s := range w.errHas {
						if !strings.Contains(resp.Error.Message, s) {
							t.Errorf("invoke %d: error %q lacks %q", i, resp.Error.Message, s)
						}
					}
				}
				if got := f.cloud.Emu.Performed(scfRefresh); got != w.refresh {
					t.Errorf("invoke %d: %d refreshes performed, want %d", i, got, w.refresh)
				}
				for z, old := range before {
					changed := f.cloud.Live(z) != old
					if changed != slices.Contains(w.changed, z) {
						t.Errorf("invoke %d: %s key changed = %v, want %v", i, z, changed, !changed)
					}
				}
				for z, o := range w.outcomes {
					if o.Good() && o != rotate.Planned {
						f.assertDelivered(z)
					}
				}
				if calls, logged := f.apiCalls(); w.noCalls && (len(calls) != 0 || logged != 0) {
					t.Errorf("invoke %d: the cloud was called: %v (%d logged)", i, calls, logged)
				}
				if w.logHas != "" && !strings.Contains(f.cloud.Logs.String(), w.logHas) {
					t.Errorf("invoke %d: the logs do not say %q", i, w.logHas)
				}
				if w.outcomes[zoneAlpha] == rotate.InSync {
					for _, a := range writeActions {
						if n := f.cloud.Emu.Calls(a); n != 0 {
							t.Errorf("check called %s %d times", a, n)
						}
					}
				}
			}
			if f.cloud.Live(zoneOutside) != before[zoneOutside] {
				t.Error("a zone outside ZONE_IDS was rotated")
			}
			if _, ok := f.cloud.Emu.Secret(testkit.Region, f.cloud.SecretName(zoneOutside)); ok {
				t.Error("a secret was written for a zone outside ZONE_IDS")
			}
			f.assertNoLeak()
		})
	}
}

// httpShape builds an HTTP event of one SCF trigger from its testdata sample.
type httpShape struct {
	name  string
	build func(t *testing.T, method, path string, headers map[string]string, body []byte) []byte
}

var httpShapes = []httpShape{
	{"function URL", functionURLEvent},
	{"API Gateway", apiGatewayEvent},
}

// functionURLEvent is the SCF function URL sample with lower-case headers
// (as the function URL sends them) and a plain body.
func functionURLEvent(t *testing.T, method, path string, headers map[string]string, body []byte) []byte {
	t.Helper()
	ev := fixtureEvent(t, "scf-function-url.json")
	h := ev["headers"].(map[string]any)
	delete(h, "authorization")
	delete(h, "content-length")
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	ev["httpMethod"], ev["path"], ev["body"] = method, path, string(body)
	return mustJSON(t, ev)
}

// apiGatewayEvent is the legacy SCF API Gateway integration request sample
// with canonical header names, a stage prefix and a base64 body.
func apiGatewayEvent(t *testing.T, method, path string, headers map[string]string, body []byte) []byte {
	t.Helper()
	ev := fixtureEvent(t, "scf-apigw.json")
	h := ev["headers"].(map[string]any)
	delete(h, "Authorization")
	for k, v := range headers {
		h[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	rc := ev["requestContext"].(map[string]any)
	rc["path"], rc["httpMethod"] = path, method
	ev["httpMethod"], ev["path"] = method, "/release"+path
	ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString(body), true
	return mustJSON(t, ev)
}

type integrationResponse struct {
	StatusCode int
	Body       []byte
}

// decodeIntegration checks that payload is exactly an integration response
// with a JSON body.
func decodeIntegration(t *testing.T, payload []byte) integrationResponse {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatalf("integration response %q: %v", payload, err)
	}
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"body", "headers", "isBase64Encoded", "statusCode"}) {
		t.Errorf("integration response members %v, want body, headers, isBase64Encoded, statusCode", keys)
	}
	var r struct {
		IsBase64Encoded *bool             `json:"isBase64Encoded"`
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Body            *string           `json:"body"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		t.Fatalf("integration response %q: %v", payload, err)
	}
	if r.IsBase64Encoded == nil || *r.IsBase64Encoded {
		t.Errorf("isBase64Encoded = %s, want false", raw["isBase64Encoded"])
	}
	if !maps.Equal(refusalHeadersChecked(t, r.StatusCode, r.Headers), map[string]string{"Content-Type": "application/json"}) {
		t.Errorf("headers = %v, want Content-Type: application/json only", r.Headers)
	}
	if r.Body == nil || !json.Valid([]byte(*r.Body)) {
		t.Fatalf("body is not JSON: %s", raw["body"])
	}
	return integrationResponse{StatusCode: r.StatusCode, Body: []byte(*r.Body)}
}

// auth says how a test HTTP request authenticates.
type auth int

const (
	noAuth       auth = iota
	bearer            // Authorization: Bearer TRIGGER_TOKEN
	wrongBearer       // a bearer token that is not TRIGGER_TOKEN
	signed            // Standard Webhooks signature with TRIGGER_SECRET
	badSignature      // signed with another secret
)

// authHeaders returns the headers that authenticate body as a says.
func authHeaders(t *testing.T, a auth, token, whsec string, body []byte) (map[string]string, string) {
	t.Helper()
	sign := func(secret string) (map[string]string, string) {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		id := "msg_" + keyrotator.NewRequestID()
		now := time.Now()
		sig, err := wh.Sign(id, now, body)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{
			"content-type": "application/json", "webhook-id": id,
			"webhook-timestamp": strconv.FormatInt(now.Unix(), 10), "webhook-signature": sig,
		}, id
	}
	switch a {
	case bearer:
		return map[string]string{"content-type": "application/json", "authorization": "Bearer " + token}, ""
	case wrongBearer:
		return map[string]string{"content-type": "application/json", "authorization": "Bearer not-" + token}, ""
	case signed:
		return sign(whsec)
	case badSignature:
		return sign(testkit.NewWebhookSecret())
	}
	return map[string]string{"content-type": "application/json"}, ""
}

// TestHTTPTrigger sends HTTP events of both SCF shapes through the runtime.
func TestHTTPTrigger(t *testing.T) {
	t.Parallel()
	oversize := []byte(`{"zones":["zone-alpha"],"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	tests := []struct {
		name        string
		noTrigger   bool // neither TRIGGER_TOKEN nor TRIGGER_SECRET configured
		prime       bool
		fault       *emulator.Fault
		method      string
		path        string
		body        string
		bodyBytes   []byte // instead of body
		auth        auth
		repeat      bool          // send the identical request again; the second answer is checked
		otherInst   bool          // send the repeat to another instance
		deadline    time.Duration // 0 = longDeadline
		wantStatus  int
		wantMsg     string                    // error body contains (refusals) or a zone error contains (reports)
		wantZones   map[string]rotate.Outcome // for reports
		wantRefresh int                       // performed in total
		wantChanged []string
	}{
		{name: "bearer rotate of one zone", method: "POST", path: "/rotate", body: `{"zones":["zone-alpha"]}`, auth: bearer,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, wantRefresh: 1, wantChanged: []string{zoneAlpha}},
		{name: "signed rotate of every zone", method: "POST", path: "/rotate", body: `{"action":"rotate"}`, auth: signed,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated},
			wantRefresh: 2, wantChanged: allowedZones},
		{name: "signed request replayed", method: "POST", path: "/rotate", body: `{"action":"rotate","zones":["zone-beta"]}`, auth: signed, repeat: true,
			wantStatus: 409, wantMsg: "already been served", wantRefresh: 1, wantChanged: []string{zoneBeta}},
		{name: "signed request redelivered to another instance", method: "POST", path: "/rotate", body: `{"action":"rotate","zones":["zone-beta"]}`, auth: signed,
			repeat: true, otherInst: true,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneBeta: rotate.Rotated}, wantRefresh: 1, wantChanged: []string{zoneBeta}},
		{name: "POST sync", method: "POST", path: "/sync", auth: bearer,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Synced, zoneBeta: rotate.Synced}},
		{name: "GET check in sync", prime: true, method: "GET", path: "/check", auth: bearer,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.InSync, zoneBeta: rotate.InSync}},
		{name: "GET check with drift", method: "GET", path: "/check", body: `{"action":"check","zones":["zone-beta"]}`, auth: signed,
			wantStatus: 502, wantZones: map[string]rotate.Outcome{zoneBeta: rotate.Drifted}, wantMsg: "run sync"},
		{name: "a failing zone", method: "POST", path: "/rotate", auth: bearer,
			fault:      &emulator.Fault{Action: scfDescribe, Target: zoneBeta, Code: "AuthFailure.UnauthorizedOperation"},
			wantStatus: 502, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Failed},
			wantMsg: "AuthFailure.UnauthorizedOperation", wantRefresh: 1, wantChanged: []string{zoneAlpha}},
		{name: "deadline already past", method: "POST", path: "/rotate", auth: bearer, deadline: -time.Second,
			wantStatus: 502, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Skipped, zoneBeta: rotate.Skipped},
			wantMsg: "ran out of time"},
		{name: "deadline shorter than the delivery budget", method: "POST", path: "/rotate", auth: bearer, deadline: 1500 * time.Millisecond,
			wantStatus: 502, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Skipped, zoneBeta: rotate.Skipped},
			wantMsg: "left before the deadline, DELIVERY_WINDOW is 5s"},

		{name: "no authentication", method: "POST", path: "/rotate", auth: noAuth, wantStatus: 401, wantMsg: "authentication required"},
		{name: "wrong token", method: "POST", path: "/rotate", auth: wrongBearer, wantStatus: 401, wantMsg: "authentication required"},
		{name: "bad signature", method: "POST", path: "/rotate", auth: badSignature, wantStatus: 401, wantMsg: "authentication required"},
		{name: "neither token nor secret configured", noTrigger: true, method: "POST", path: "/rotate", auth: bearer,
			wantStatus: 401, wantMsg: "no TRIGGER_TOKEN or TRIGGER_SECRET"},
		{name: "zone outside the allow-list", method: "POST", path: "/rotate", body: `{"zones":["zone-alpha","zone-outside"]}`, auth: bearer,
			wantStatus: 403, wantMsg: zoneOutside},
		{name: "bad JSON body", method: "POST", path: "/rotate", body: `{"zones":["zone-alpha"]`, auth: bearer, wantStatus: 400, wantMsg: "not a JSON object"},
		{name: "oversize body", method: "POST", path: "/rotate", bodyBytes: oversize, auth: bearer, wantStatus: 413, wantMsg: "64 KiB"},
		{name: "oversize body before authentication", method: "POST", path: "/rotate", bodyBytes: oversize, auth: noAuth, wantStatus: 413},
		{name: "wrong method", method: "GET", path: "/rotate", auth: bearer, wantStatus: 405, wantMsg: "POST only"},
		{name: "unknown route", method: "POST", path: "/rotatex", auth: bearer, wantStatus: 404, wantMsg: "no such route"},
		{name: "signed without an action", method: "POST", path: "/rotate", auth: signed, wantStatus: 400, wantMsg: "must name its action"},
		{name: "signed with another route's action", method: "POST", path: "/rotate", body: `{"action":"check"}`, auth: signed,
			wantStatus: 400, wantMsg: `names action "check"`},
	}
	for _, shape := range httpShapes {
		for _, tc := range tests {
			t.Run(shape.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				env := map[string]string{"TRIGGER_TOKEN": "tt-" + keyrotator.NewRequestID(), "TRIGGER_SECRET": testkit.NewWebhookSecret()}
				if tc.noTrigger {
					env = map[string]string{"TRIGGER_TOKEN": "", "TRIGGER_SECRET": ""}
				}
				f := startSCFFunction(t, env)
				token, whsec := env["TRIGGER_TOKEN"], env["TRIGGER_SECRET"]
				if tc.noTrigger {
					token = "tt-" + keyrotator.NewRequestID()
					f.secrets = append(f.secrets, token)
				}
				if tc.prime {
					f.prime()
				}
				if tc.fault != nil {
					f.cloud.Emu.Inject(*tc.fault)
				}
				before := f.liveKeys()
				body := tc.bodyBytes
				if body == nil {
					body = []byte(tc.body)
				}
				headers, webhookID := authHeaders(t, tc.auth, token, whsec, body)
				payload := shape.build(t, tc.method, tc.path, headers, body)
				deadline := time.Now().Add(cmp.Or(tc.deadline, longDeadline))

				if tc.repeat {
					first := f.invoke(payload, deadline)
					if first.Error != nil || decodeIntegration(t, first.Payload).StatusCode != 200 {
						t.Fatalf("first request: %s %+v", first.Payload, first.Error)
					}
					if tc.otherInst {
						f.newInstance()
					}
				}
				callsBefore, loggedBefore := f.apiCalls()
				eventsBefore := len(f.cloud.Receiver.Events())
				resp := f.invoke(payload, deadline)
				if resp.Error != nil {
					t.Fatalf("an HTTP event got an invocation error: %+v", resp.Error)
				}
				r := decodeIntegration(t, resp.Payload)
				if r.StatusCode != tc.wantStatus {
					t.Fatalf("status %d, want %d; body %s", r.StatusCode, tc.wantStatus, r.Body)
				}

				if tc.wantZones == nil {
					// A refusal: an error body, and nothing called at all.
					var eb struct {
						OK     *bool  `json:"ok"`
						Status int    `json:"status"`
						Error  string `json:"error"`
					}
					if err := json.Unmarshal(r.Body, &eb); err != nil || eb.OK == nil || *eb.OK || eb.Status != tc.wantStatus ||
						!strings.Contains(eb.Error, tc.wantMsg) {
						t.Errorf("error body %s, want ok:false, status %d, error mentioning %q", r.Body, tc.wantStatus, tc.wantMsg)
					}
					calls, logged := f.apiCalls()
					if !maps.Equal(calls, callsBefore) || logged != loggedBefore {
						t.Errorf("a refused request called the cloud: calls %v, before %v (%d calls logged)", calls, callsBefore, logged-loggedBefore)
					}
					if !tc.repeat && len(calls) != 0 {
						t.Errorf("calls before any action ran: %v", calls)
					}
					if n := len(f.cloud.Receiver.Events()); n != eventsBefore {
						t.Errorf("a refused request sent %d webhook events", n-eventsBefore)
					}
				} else {
					rep := decodeReport(t, r.Body)
					if rep.OK != (tc.wantStatus == 200) || !maps.Equal(outcomes(rep), tc.wantZones) {
						t.Fatalf("report %s, want ok=%v and outcomes %v", r.Body, tc.wantStatus == 200, tc.wantZones)
					}
					if tc.wantStatus == 200 && !strings.Contains(string(r.Body), `"ok":true`) {
						t.Errorf("a 200 body without \"ok\":true: %s", r.Body)
					}
					wantAction := rotate.Action(strings.TrimPrefix(tc.path, "/"))
					if rep.Action != wantAction {
						t.Errorf("report action %q, want %q", rep.Action, wantAction)
					}
					if webhookID != "" && wantAction == rotate.Rotate && rep.RotationID != sink.NormalizeRotationID(webhookID) {
						t.Errorf("rotationId %q, want the webhook-id %q", rep.RotationID, webhookID)
					}
					if tc.wantMsg != "" {
						found := false
						for _, z := range rep.Zones {
							found = found || strings.Contains(z.Error, tc.wantMsg)
						}
						if !found {
							t.Errorf("no zone error mentions %q: %s", tc.wantMsg, r.Body)
						}
					}
					for z, o := range tc.wantZones {
						if o.Good() && o != rotate.InSync {
							f.assertDelivered(z)
						}
					}
					if wantAction == rotate.Check {
						for _, a := range writeActions {
							if n := f.cloud.Emu.Calls(a); n != 0 {
								t.Errorf("check called %s %d times", a, n)
							}
						}
					}
				}
				if got := f.cloud.Emu.Performed(scfRefresh); got != tc.wantRefresh {
					t.Errorf("%d refreshes performed, want %d", got, tc.wantRefresh)
				}
				for z, old := range before {
					if changed := f.cloud.Live(z) != old; changed != slices.Contains(tc.wantChanged, z) {
						t.Errorf("%s key changed = %v, want %v", z, changed, !changed)
					}
				}
				if tc.wantStatus >= 400 && tc.wantStatus < 500 && !tc.repeat {
					for _, z := range []string{zoneAlpha, zoneBeta, zoneOutside} {
						if _, ok := f.cloud.Emu.Secret(testkit.Region, f.cloud.SecretName(z)); ok {
							t.Errorf("a refused request created the secret of %s", z)
						}
					}
				}
				f.assertNoLeak()
			})
		}
	}
}

// TestHTTPSignedRetryAfterFailure: a signed request that did not succeed
// does not use up its webhook-id; the sender's retry (same id, same body)
// finishes the job on the same instance, without refreshing twice.
func TestHTTPSignedRetryAfterFailure(t *testing.T) {
	t.Parallel()
	// prime rotates just before: MIN_ROTATION_INTERVAL is not what this is about.
	env := map[string]string{"TRIGGER_SECRET": testkit.NewWebhookSecret(), "MIN_ROTATION_INTERVAL": "0"}
	f := startSCFFunction(t, env)
	f.prime()
	f.cloud.Emu.Inject(emulator.Fault{Action: "UpdateSecret", Target: f.cloud.SecretName(zoneBeta), Code: "FailedOperation"})
	body := []byte(`{"action":"rotate","zones":["zone-beta"]}`)
	headers, _ := authHeaders(t, signed, "", env["TRIGGER_SECRET"], body)
	payload := functionURLEvent(t, "POST", "/rotate", headers, body)
	deadline := time.Now().Add(longDeadline)
	refreshes := f.cloud.Emu.Performed(scfRefresh)

	first := decodeIntegration(t, f.invoke(payload, deadline).Payload)
	if first.StatusCode != 502 || !strings.Contains(string(first.Body), "key rotated, delivery incomplete") {
		t.Fatalf("first attempt: %d %s", first.StatusCode, first.Body)
	}
	f.cloud.Emu.ClearFaults()
	retry := decodeIntegration(t, f.invoke(payload, deadline).Payload)
	if retry.StatusCode != 200 {
		t.Fatalf("the sender's retry got %d %s, want 200", retry.StatusCode, retry.Body)
	}
	if got := f.cloud.Emu.Performed(scfRefresh); got != refreshes+1 {
		t.Errorf("%d refreshes for one signed request, want 1", got-refreshes)
	}
	f.assertDelivered(zoneBeta)
	// Served now: a third copy is a replay.
	if again := decodeIntegration(t, f.invoke(payload, deadline).Payload); again.StatusCode != 409 {
		t.Errorf("a served id answered %d, want 409", again.StatusCode)
	}
	f.assertNoLeak()
}

// TestSCFRegionFromInvoke: the Go1 runtime names the region in the invoke,
// not in a variable; SSM (regional) takes it from there when neither
// SSM_REGION nor TENCENTCLOUD_REGION is set, and the logs name the function.
func TestSCFRegionFromInvoke(t *testing.T) {
	t.Parallel()
	f := startSCFFunction(t, map[string]string{"TENCENTCLOUD_REGION": ""})
	resp := f.invoke([]byte(`{"action":"rotate","zones":["zone-alpha"]}`), time.Now().Add(longDeadline))
	if resp.Error != nil {
		t.Fatalf("invoke: %s", resp.Error.Message)
	}
	f.assertDelivered(zoneAlpha)
	if logs := f.cloud.Logs.String(); !strings.Contains(logs, `"functionName":"mpgw-keyrotator"`) || !strings.Contains(logs, `"namespace":"default"`) {
		t.Error("the function's logs do not name the function and namespace")
	}
}
