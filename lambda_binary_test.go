package keyrotator_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

// runtimeAPI is a minimal Lambda Runtime API (2018-06-01) on loopback: it
// hands out queued events on /next with the headers Lambda sends and
// collects what the function posts back.
type runtimeAPI struct {
	t       *testing.T
	addr    string
	events  chan []byte
	results chan runtimeResult
	done    chan struct{}

	mu        sync.Mutex
	n         int
	initError string
}

type runtimeResult struct {
	requestID string
	kind      string // "response" or "error"
	body      []byte
	errorType string // Lambda-Runtime-Function-Error-Type of an error
}

const (
	runtimePrefix = "/2018-06-01/runtime/"
	functionARN   = "arn:aws:lambda:eu-west-1:123456789012:function:mpgw-keyrotator"
)

func startRuntimeAPI(t *testing.T) *runtimeAPI {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := &runtimeAPI{t: t, addr: l.Addr().String(), events: make(chan []byte, 1), results: make(chan runtimeResult, 4), done: make(chan struct{})}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		close(api.done) // releases a pending /next
		_ = srv.Close()
	})
	return api
}

func (api *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, runtimePrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20)) // Lambda's payload limit
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		var ev []byte
		select {
		case ev = <-api.events:
		case <-api.done:
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		api.mu.Lock()
		api.n++
		id := fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", api.n)
		api.mu.Unlock()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(realisticDeadline).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", functionARN)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e;Parent=0123456789abcdef;Sampled=0")
		_, _ = w.Write(ev)
	case r.Method == http.MethodPost && path == "init/error":
		api.mu.Lock()
		api.initError = string(body)
		api.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		id, kind, ok := strings.Cut(strings.TrimPrefix(path, "invocation/"), "/")
		if !ok || (kind != "response" && kind != "error") {
			http.NotFound(w, r)
			return
		}
		api.results <- runtimeResult{requestID: id, kind: kind, body: body, errorType: r.Header.Get("Lambda-Runtime-Function-Error-Type")}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

// invoke queues payload and waits, bounded, for the function's answer.
func (api *runtimeAPI) invoke(payload []byte, exited <-chan struct{}, stderr *testkit.Buffer) runtimeResult {
	api.t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case api.events <- payload:
	case <-exited:
		api.t.Fatalf("the function exited (init error %q)\nstderr:\n%s", api.initErr(), stderr.String())
	case <-timeout.C:
		api.t.Fatalf("the function never asked for the next invocation\nstderr:\n%s", stderr.String())
	}
	select {
	case res := <-api.results:
		return res
	case <-exited:
		api.t.Fatalf("the function exited during the invocation (init error %q)\nstderr:\n%s", api.initErr(), stderr.String())
	case <-timeout.C:
		api.t.Fatalf("no answer to the invocation within 30s\nstderr:\n%s", stderr.String())
	}
	panic("unreachable")
}

func (api *runtimeAPI) initErr() string {
	api.mu.Lock()
	defer api.mu.Unlock()
	return api.initError
}

// TestBuiltBootstrapServesLambda builds the function for this machine (or
// takes KEYROTATOR_BOOTSTRAP, CI: the bootstrap of build.sh's Lambda
// package) and starts it as Lambda's provided.al2023 runtime does:
// AWS_LAMBDA_RUNTIME_API and the function's configuration, against the
// emulator with the SSM and webhook sinks. Each invocation goes through a
// local Runtime API.
func TestBuiltBootstrapServesLambda(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function binary")
	}
	t.Parallel()
	zones := []string{"zone-lam1", "zone-lam2"}
	c := testkit.NewCloud(t, append(slices.Clone(zones), zoneOutside), testkit.WithWebhook(), testkit.WithAWS())
	before := map[string]string{}
	for _, z := range zones {
		before[z] = c.Live(z)
	}

	// KEYROTATOR_BOOTSTRAP tests a shipped artifact; otherwise the run's
	// one build (the same binary serves SCF and Lambda).
	bin := functionBinary(t, "KEYROTATOR_BOOTSTRAP")
	api := startRuntimeAPI(t)
	token := "tt-" + strings.Repeat("7", 16)
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + api.addr,
		"AWS_LAMBDA_FUNCTION_NAME=mpgw-keyrotator",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"ZONE_IDS=" + strings.Join(zones, ","),
		"TRIGGER_TOKEN=" + token,
	}
	for _, k := range []string{"TEO_ENDPOINT", "SSM_ENDPOINT", "SSM_SECRET_NAME", "SSM_VERSION_ID", "TENCENTCLOUD_REGION",
		"TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN", "WEBHOOK_URL", "WEBHOOK_SECRET",
		// On Lambda the role's AWS keys and the region are these variables.
		"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_SECRET_ID", "AWS_ENDPOINT_URL_SECRETS_MANAGER"} {
		env = append(env, k+"="+c.Getenv(k))
	}
	p := startProcess(t, bin, env)
	stdout, stderr, exited := p.stdout, p.stderr, p.exited

	secrets := []string{c.Emu.RoleCredential().SecretKey, c.Emu.RoleCredential().Token, c.Getenv("WEBHOOK_SECRET"), token,
		c.Emu.AWSCredential().SecretAccessKey, c.Emu.AWSCredential().SessionToken}
	for _, k := range before {
		secrets = append(secrets, k)
	}
	call := func(payload []byte) runtimeResult {
		t.Helper()
		res := api.invoke(payload, exited, stderr)
		secrets = append(secrets, c.Keys(zones)...)
		testkit.AssertNoLeak(t, secrets, string(res.body), stdout.String(), stderr.String(), c.Logs.String())
		return res
	}

	// A direct rotate: the report on /response, every zone rotated and delivered.
	res := call([]byte(`{"action":"rotate","rotationId":"lambda-bin-1"}`))
	if res.kind != "response" {
		t.Fatalf("direct rotate answered on /%s: %s\nstderr:\n%s", res.kind, res.body, stderr.String())
	}
	rep := decodeReport(t, res.body)
	if !rep.OK || len(rep.Zones) != len(zones) || rep.RequestID != res.requestID {
		t.Fatalf("report (request %s): %s", res.requestID, res.body)
	}
	for _, z := range rep.Zones {
		hook, _ := c.Receiver.Key(z.ZoneID)
		assertRotated(t, c, z, before[z.ZoneID], map[string]string{
			"the webhook receiver": hook.Reveal(), "AWSCURRENT": c.AWSStaged(z.ZoneID, emulator.StageCurrent)})
	}

	// A zone outside ZONE_IDS asked for directly: an invocation error on
	// /error that names it, and nothing refreshed.
	refreshes := c.Emu.Performed(actionRefresh)
	res = call([]byte(`{"action":"rotate","zones":["zone-outside"]}`))
	var fnErr struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if res.kind != "error" || json.Unmarshal(res.body, &fnErr) != nil || !strings.Contains(fnErr.Message, zoneOutside) {
		t.Errorf("a zone outside ZONE_IDS answered on /%s: %s", res.kind, res.body)
	}
	if n := c.Emu.Performed(actionRefresh) - refreshes; n != 0 {
		t.Errorf("%d refreshes for a zone outside ZONE_IDS", n)
	}

	// An HTTP API (payload 2.0) check: a v2 response, the report in its body.
	ev := fixtureEvent(t, "aws-http-v2.json")
	ev["headers"].(map[string]any)["authorization"] = "Bearer " + token
	res = call(mustJSON(t, ev))
	if res.kind != "response" {
		t.Fatalf("HTTP API event answered on /%s: %s", res.kind, res.body)
	}
	var v2 events.APIGatewayV2HTTPResponse
	dec := json.NewDecoder(strings.NewReader(string(res.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v2); err != nil || v2.StatusCode != 200 || v2.Headers["Content-Type"] != "application/json" || v2.IsBase64Encoded {
		t.Fatalf("HTTP API answer %s (%v), want a 200 APIGatewayV2HTTPResponse", res.body, err)
	}
	if rep := decodeReport(t, []byte(v2.Body)); !rep.OK || rep.Action != rotate.Check || len(rep.Zones) != len(zones) {
		t.Errorf("check report %s", v2.Body)
	}

	if e := api.initErr(); e != "" {
		t.Errorf("init error posted: %s", e)
	}
	p.stop() // every line the answers were written after is in stderr now
	logs := stderr.String()
	for _, want := range []string{`"functionName":"mpgw-keyrotator"`, `"region":"` + testkit.AWSRegion + `"`, `"requestId":"` + res.requestID + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
}
