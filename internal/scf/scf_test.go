package scf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/rpc"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/logbuf"
)

// Local copies of the wire messages, declared as scf-go-lib declares them. The
// tests talk to the server only through these, so they prove that gob matches
// the server's types by field name, as it must for the real platform.
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
		Path  string
		Line  int32
		Label string
	}
	InvokeResponse_Error struct {
		Message    string
		Type       string
		StackTrace []*InvokeResponse_Error_StackFrame
		ShouldExit bool
	}
	InvokeResponse struct {
		Payload []byte
		Error   *InvokeResponse_Error
	}
)

// serve, dial and start are the SCF set-up that the root package's
// end-to-end tests share: serve runs a server on loopback until the test
// ends (and checks that Serve then returned net.ErrClosed), dial connects a
// client, start does both.
var (
	serve = testkit.ServeSCF
	dial  = testkit.DialSCF
	start = testkit.StartSCF
)

func invoke(t *testing.T, c *rpc.Client, req InvokeRequest) InvokeResponse {
	t.Helper()
	var resp InvokeResponse
	if err := c.Call("Function.Invoke", req, &resp); err != nil {
		t.Fatalf("Function.Invoke: %v", err)
	}
	return resp
}

// sent is a handler that hands its context to the test, which reads it after
// the call: a channel, because the RPC round trip is invisible to the race
// detector.
func sent(ch chan<- context.Context, h scf.HandlerFunc) scf.HandlerFunc {
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		ch <- ctx
		return h(ctx, payload)
	}
}

func echo(_ context.Context, payload []byte) ([]byte, error) { return payload, nil }

func TestPing(t *testing.T) {
	t.Parallel()
	c := start(t, &scf.Server{Handler: scf.HandlerFunc(echo)})
	if err := c.Call("Function.Ping", PingRequest{}, &PingResponse{}); err != nil {
		t.Fatalf("Function.Ping: %v", err)
	}
}

func TestServeWithoutHandler(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := (&scf.Server{}).Serve(l); err == nil {
		t.Fatal("Serve with a nil Handler succeeded")
	}
}

func TestInvokeEchoesPayloadAndInvocation(t *testing.T) {
	t.Parallel()
	ctxs := make(chan context.Context, 1)
	c := start(t, &scf.Server{
		Handler: sent(ctxs, echo),
		Setenv:  func(string, string) error { return nil },
	})
	deadline := time.Now().Add(time.Minute)
	req := InvokeRequest{
		Payload:               []byte(`{"Type":"Timer","Message":"scheduled"}`),
		RequestId:             "req-1",
		TraceId:               "trace-1",
		Deadline:              InvokeRequest_Timestamp{Seconds: deadline.Unix(), Nanos: int64(deadline.Nanosecond())},
		InvokedFunctionUnique: "qcs::scf:ap-guangzhou:uin/1:namespace/default/function/rotator",
		Namespace:             "default",
		FunctionName:          "rotator",
		FunctionVersion:       "$LATEST",
		MemoryLimitInMb:       128,
		TimeLimitInMs:         60000,
		Environment:           `{"ZONE_ID":"zone-1"}`,
		TencentcloudRegion:    "ap-guangzhou",
		TencentcloudAppID:     "1250000000",
		TencentcloudUin:       "100000000001",
	}

	resp := invoke(t, c, req)
	if resp.Error != nil {
		t.Fatalf("unexpected error %+v", resp.Error)
	}
	if !bytes.Equal(resp.Payload, req.Payload) {
		t.Errorf("payload = %q, want %q", resp.Payload, req.Payload)
	}
	got, ok := scf.FromContext(<-ctxs)
	if !ok {
		t.Fatal("no Invocation in the handler's context")
	}
	want := scf.Invocation{
		RequestID:             "req-1",
		TraceID:               "trace-1",
		FunctionName:          "rotator",
		FunctionVersion:       "$LATEST",
		Namespace:             "default",
		Region:                "ap-guangzhou",
		AppID:                 "1250000000",
		Uin:                   "100000000001",
		InvokedFunctionUnique: req.InvokedFunctionUnique,
		MemoryLimitInMB:       128,
		TimeLimitInMs:         60000,
		Deadline:              time.Unix(deadline.Unix(), int64(deadline.Nanosecond())).UTC(),
		Environment:           map[string]string{"ZONE_ID": "zone-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Invocation = %+v\nwant %+v", got, want)
	}
}

func TestContextRoundTrip(t *testing.T) {
	t.Parallel()
	if _, ok := scf.FromContext(context.Background()); ok {
		t.Error("FromContext found an Invocation in an empty context")
	}
	inv := scf.Invocation{RequestID: "r"}
	if got, ok := scf.FromContext(scf.NewContext(context.Background(), inv)); !ok || got.RequestID != "r" {
		t.Errorf("FromContext = %+v, %v", got, ok)
	}
}

// TestInvocationNeverPrintsItsEnvironment: the role's secret key and token
// in Environment stay out of every way an Invocation can be printed.
func TestInvocationNeverPrintsItsEnvironment(t *testing.T) {
	t.Parallel()
	inv := scf.Invocation{RequestID: "r", Environment: map[string]string{"TENCENTCLOUD_SECRETKEY": "SENTINEL-KEY", "TENCENTCLOUD_SESSIONTOKEN": "SENTINEL-TOKEN"}}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "invocation", inv)
	asJSON, _ := json.Marshal(struct{ I scf.Invocation }{inv})
	for _, out := range []string{fmt.Sprint(inv), fmt.Sprintf("%v %+v %#v %s", inv, inv, inv, inv), logs.String(), string(asJSON)} {
		if strings.Contains(out, "SENTINEL") {
			t.Errorf("the invocation printed its Environment: %s", out)
		}
	}
}

// TestEnvironmentAppliedToProcess uses the default Setenv, as in production:
// the handler must see the platform's fresh credentials through os.Getenv.
// t.Setenv restores the process environment afterwards (and keeps the test
// sequential).
func TestEnvironmentAppliedToProcess(t *testing.T) {
	const idVar, tokenVar = "SCF_TEST_SECRETID", "SCF_TEST_SESSIONTOKEN"
	t.Setenv(idVar, "stale-id")
	t.Setenv(tokenVar, "stale-token")

	c := start(t, &scf.Server{Handler: scf.HandlerFunc(func(context.Context, []byte) ([]byte, error) {
		return []byte(os.Getenv(idVar) + "/" + os.Getenv(tokenVar)), nil
	})})
	resp := invoke(t, c, InvokeRequest{
		RequestId:   "req-env",
		Environment: fmt.Sprintf(`{%q:"fresh-id",%q:"fresh-token"}`, idVar, tokenVar),
	})
	if resp.Error != nil {
		t.Fatalf("unexpected error %+v", resp.Error)
	}
	if got, want := string(resp.Payload), "fresh-id/fresh-token"; got != want {
		t.Errorf("handler saw %q, want %q", got, want)
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		environment string
		failKey     string // Setenv fails for this key
		wantSet     map[string]string
		wantErrType string
		wantErrText string
	}{
		{name: "none", wantSet: map[string]string{}},
		{
			name:        "credentials",
			environment: `{"TENCENTCLOUD_SECRETID":"AKIDx","TENCENTCLOUD_SECRETKEY":"sk","TENCENTCLOUD_SESSIONTOKEN":"tok"}`,
			wantSet:     map[string]string{"TENCENTCLOUD_SECRETID": "AKIDx", "TENCENTCLOUD_SECRETKEY": "sk", "TENCENTCLOUD_SESSIONTOKEN": "tok"},
		},
		{name: "invalid JSON", environment: `{"A":`, wantErrType: "SyntaxError", wantErrText: "Environment"},
		{name: "not string values", environment: `{"A":1}`, wantErrType: "UnmarshalTypeError", wantErrText: "Environment"},
		{
			name:        "setenv fails",
			environment: `{"BAD":"secret-value"}`,
			failKey:     "BAD",
			wantErrType: "errorString",
			wantErrText: `"BAD"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu  sync.Mutex
				env = map[string]string{}
			)
			setenv := func(k, v string) error {
				if k == tt.failKey {
					return errors.New("refused")
				}
				mu.Lock()
				defer mu.Unlock()
				env[k] = v
				return nil
			}
			// The handler reports what had been set when it started.
			seen := make(chan map[string]string, 1)
			var called atomic.Bool
			c := start(t, &scf.Server{Setenv: setenv, Handler: scf.HandlerFunc(func(context.Context, []byte) ([]byte, error) {
				called.Store(true)
				mu.Lock()
				defer mu.Unlock()
				seen <- maps.Clone(env)
				return nil, nil
			})})

			resp := invoke(t, c, InvokeRequest{RequestId: "req", Environment: tt.environment})

			if tt.wantErrType == "" {
				if resp.Error != nil {
					t.Fatalf("unexpected error %+v", resp.Error)
				}
				if got := <-seen; !maps.Equal(got, tt.wantSet) {
					t.Errorf("handler started with %v, want %v", got, tt.wantSet)
				}
				return
			}
			if resp.Error == nil {
				t.Fatal("no error")
			}
			if resp.Error.Type != tt.wantErrType || !strings.Contains(resp.Error.Message, tt.wantErrText) {
				t.Errorf("error = %q (%s), want type %s mentioning %s", resp.Error.Message, resp.Error.Type, tt.wantErrType, tt.wantErrText)
			}
			if strings.Contains(resp.Error.Message, "secret-value") {
				t.Errorf("error message %q leaks a variable's value", resp.Error.Message)
			}
			if called.Load() {
				t.Error("handler ran despite the Environment failure")
			}
		})
	}
}

func TestLogging(t *testing.T) {
	t.Parallel()
	var out logbuf.Buffer
	c := start(t, &scf.Server{
		Handler: scf.HandlerFunc(echo),
		Logger:  slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Setenv:  func(string, string) error { return nil },
	})
	invoke(t, c, InvokeRequest{
		RequestId:    "req-log",
		FunctionName: "rotator",
		Namespace:    "default",
		Environment:  `{"TENCENTCLOUD_SECRETKEY":"very-secret"}`,
	})

	logged := out.String()
	if strings.Contains(logged, "very-secret") {
		t.Fatalf("log leaks an environment value:\n%s", logged)
	}
	if !strings.Contains(logged, "TENCENTCLOUD_SECRETKEY") {
		t.Errorf("log does not name the applied variable:\n%s", logged)
	}
	var infos []map[string]any
	for line := range strings.Lines(logged) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] == "INFO" {
			infos = append(infos, rec)
		}
	}
	if len(infos) != 1 {
		t.Fatalf("got %d info lines, want 1:\n%s", len(infos), logged)
	}
	rec := infos[0]
	for k, want := range map[string]any{"requestId": "req-log", "functionName": "rotator", "namespace": "default", "error": false} {
		if rec[k] != want {
			t.Errorf("log %s = %v, want %v", k, rec[k], want)
		}
	}
	if _, ok := rec["duration"]; !ok {
		t.Errorf("log has no duration: %v", rec)
	}
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	future := time.Now().Add(time.Hour)
	past := time.Now().Add(-time.Second)
	tests := []struct {
		name     string
		deadline InvokeRequest_Timestamp
		want     time.Time // zero: no deadline
		expired  bool
	}{
		{"future", InvokeRequest_Timestamp{future.Unix(), int64(future.Nanosecond())}, future, false},
		{"past", InvokeRequest_Timestamp{past.Unix(), int64(past.Nanosecond())}, past, true},
		{"none", InvokeRequest_Timestamp{}, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := make(chan error, 1)
			ctxs := make(chan context.Context, 1)
			c := start(t, &scf.Server{Handler: sent(ctxs, func(ctx context.Context, _ []byte) ([]byte, error) {
				errs <- ctx.Err()
				return nil, nil
			})})

			invoke(t, c, InvokeRequest{RequestId: "req", Deadline: tt.deadline})

			ctx := <-ctxs
			got, ok := ctx.Deadline()
			if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
				t.Errorf("ctx.Deadline() = %v, %v; want %v", got, ok, tt.want)
			}
			if inv, _ := scf.FromContext(ctx); !inv.Deadline.Equal(tt.want) {
				t.Errorf("Invocation.Deadline = %v, want %v", inv.Deadline, tt.want)
			}
			if err := <-errs; (err != nil) != tt.expired || (tt.expired && !errors.Is(err, context.DeadlineExceeded)) {
				t.Errorf("ctx.Err() in handler = %v, want expired=%v", err, tt.expired)
			}
			if ctx.Err() == nil {
				t.Error("context still live after Invoke returned")
			}
		})
	}
}

type pointerErr struct{}

func (*pointerErr) Error() string { return "pointer error" }

type valueErr string

func (e valueErr) Error() string { return string(e) }

func TestHandlerError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		wantType string
	}{
		{"errors.New", errors.New("upstream said no"), "errorString"},
		{"wrapped", fmt.Errorf("rotate: %w", errors.New("x")), "wrapError"},
		{"pointer type", &pointerErr{}, "pointerErr"},
		{"value type", valueErr("value error"), "valueErr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := start(t, &scf.Server{Handler: scf.HandlerFunc(func(context.Context, []byte) ([]byte, error) {
				return []byte(`"partial"`), tt.err
			})})
			resp := invoke(t, c, InvokeRequest{RequestId: "req"})
			want := &InvokeResponse_Error{Message: tt.err.Error(), Type: tt.wantType}
			if !reflect.DeepEqual(resp.Error, want) {
				t.Errorf("Error = %+v, want %+v", resp.Error, want)
			}
			if resp.Payload != nil {
				t.Errorf("payload %q returned with an error", resp.Payload)
			}
		})
	}
}

// recurse panics depth frames deep, to exceed the reported stack's limit.
func recurse(depth int) {
	if depth == 0 {
		panic("deep")
	}
	recurse(depth - 1)
}

func TestPanic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		panic       func()
		wantMessage string
		wantType    string
		wantFrames  int // 0: any number up to 32
	}{
		{"string", func() { panic("boom") }, "panic: boom", "string", 0},
		{"error", func() { panic(valueErr("bad state")) }, "panic: bad state", "valueErr", 0},
		{"unnamed type", func() { panic([]int{1}) }, "panic: [1]", "panic", 0},
		{"deep", func() { recurse(100) }, "panic: deep", "string", 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			c := start(t, &scf.Server{Handler: scf.HandlerFunc(func(context.Context, []byte) ([]byte, error) {
				if calls.Add(1) == 1 {
					tt.panic()
				}
				return []byte(`"ok"`), nil
			})})

			resp := invoke(t, c, InvokeRequest{RequestId: "req-panic"})
			e := resp.Error
			if e == nil {
				t.Fatal("no error after a panic")
			}
			if e.Message != tt.wantMessage || e.Type != tt.wantType || !e.ShouldExit {
				t.Errorf("Error = %q (%s) ShouldExit=%v, want %q (%s) ShouldExit=true", e.Message, e.Type, e.ShouldExit, tt.wantMessage, tt.wantType)
			}
			n := len(e.StackTrace)
			if n == 0 || n > 32 || (tt.wantFrames != 0 && n != tt.wantFrames) {
				t.Fatalf("%d stack frames, want 1..32 (exactly %d if set)", n, tt.wantFrames)
			}
			// The first frame is the code that panicked, not the recovery.
			if top := e.StackTrace[0]; !strings.Contains(top.Label, "scf_test.") || top.Line == 0 || top.Path == "" {
				t.Errorf("top frame = %+v, want the test's panicking function", top)
			}

			if resp := invoke(t, c, InvokeRequest{RequestId: "req-after"}); resp.Error != nil || string(resp.Payload) != `"ok"` {
				t.Errorf("call after the panic = %q, %+v", resp.Payload, resp.Error)
			}
		})
	}
}

func TestInvocationsSerialised(t *testing.T) {
	t.Parallel()
	const clients, callsEach = 8, 25
	var inFlight, total atomic.Int32
	var overlapped atomic.Bool
	addr := serve(t, &scf.Server{Handler: scf.HandlerFunc(func(context.Context, []byte) ([]byte, error) {
		if inFlight.Add(1) > 1 {
			overlapped.Store(true)
		}
		// Yield while "in flight" so an unserialised server would let other
		// invocations in.
		for range 50 {
			runtime.Gosched()
		}
		inFlight.Add(-1)
		total.Add(1)
		return nil, nil
	})})

	var wg sync.WaitGroup
	for range clients {
		c := dial(t, addr)
		wg.Go(func() {
			for range callsEach {
				var resp InvokeResponse
				if err := c.Call("Function.Invoke", InvokeRequest{RequestId: "req"}, &resp); err != nil || resp.Error != nil {
					t.Errorf("Invoke: %v, %+v", err, resp.Error)
				}
			}
		})
	}
	wg.Wait()

	if overlapped.Load() {
		t.Error("invocations overlapped")
	}
	if got := total.Load(); got != clients*callsEach {
		t.Errorf("%d invocations ran, want %d", got, clients*callsEach)
	}
}

func TestAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		port    string
		want    string
		wantErr bool
	}{
		{name: "missing", wantErr: true},
		{name: "non-numeric", port: "http", wantErr: true},
		{name: "negative", port: "-1", wantErr: true},
		{name: "zero", port: "0", wantErr: true},
		{name: "out of range", port: "65536", wantErr: true},
		{name: "ok", port: "9001", want: "0.0.0.0:9001"},
		{name: "leading zero", port: "09001", want: "0.0.0.0:9001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := scf.Addr(func(key string) string {
				if key != scf.PortEnv {
					t.Errorf("read %s, want %s", key, scf.PortEnv)
				}
				return tt.port
			})
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "_LAMBDA_SERVER_PORT") {
					t.Errorf("Addr = %q, %v; want an error naming _LAMBDA_SERVER_PORT", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Addr = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
