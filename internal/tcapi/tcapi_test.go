package tcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/ratelimit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

const (
	testZone       = "zone-tcapi"
	actionDescribe = "DescribeMultiPathGatewaySecretKey"
	actionRefresh  = "RefreshMultiPathGatewaySecretKey"
)

// fastRetry is retry.API()'s number of attempts without the waiting.
var fastRetry = testkit.FastRetry

type keyAnswer struct{ SecretKey string }

type zoneParams struct{ ZoneId string }

// newCloud serves an emulator holding testZone and returns it with a TEO
// client signing with the emulator's role credential.
func newCloud(t *testing.T) (*emulator.Emulator, *Client) {
	t.Helper()
	emu, ep := testkit.StartEmulator(t, emulator.Options{Zones: []string{testZone}})
	return emu, &Client{
		Service: "teo", Version: "2022-09-01", Endpoint: ep, Credential: testkit.RoleCredential(emu),
		Timeout: 5 * time.Second, Retry: fastRetry,
	}
}

func liveKey(t *testing.T, emu *emulator.Emulator) string {
	t.Helper()
	k, ok := emu.Key(testZone)
	if !ok {
		t.Fatal("the emulator has no key for the test zone")
	}
	return k
}

func TestCallDecodesResponse(t *testing.T) {
	emu, c := newCloud(t)
	var out keyAnswer
	if err := c.Call(context.Background(), actionDescribe, zoneParams{testZone}, &out); err != nil {
		t.Fatalf("Call: %v", err)
	}
	if out.SecretKey == "" || out.SecretKey != liveKey(t, emu) {
		t.Error("Call did not decode the Response object's SecretKey")
	}
	// out may be nil: the answer is then ignored.
	if err := c.Call(context.Background(), actionDescribe, zoneParams{testZone}, nil); err != nil {
		t.Fatalf("Call with a nil out: %v", err)
	}
	if got := emu.Calls(actionDescribe); got != 2 {
		t.Errorf("%d calls, want 2", got)
	}
}

func TestRetryableCode(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"RequestLimitExceeded", true},
		{"RequestLimitExceeded.UinLimitExceeded", true},
		{"RequestLimitExceeded.IPLimitExceeded", true},
		{"RequestLimitExceeded.GlobalRegionUinLimitExceeded", true},
		{"InternalError", true},
		{"InternalError.DbError", true},
		{"InternalError.SystemError", true},
		{"ServiceUnavailable", true},
		{"ClientError.NetworkError", true},
		{"ClientError.HttpStatusCodeError", true},

		{"AuthFailure", false},
		{"AuthFailure.SignatureFailure", false},
		{"AuthFailure.SecretIdNotFound", false},
		{"AuthFailure.TokenFailure", false},
		{"AuthFailure.UnauthorizedOperation", false},
		{"InvalidParameter", false},
		{"InvalidParameter.ParamError", false},
		{"InvalidParameterValue", false},
		{"ResourceNotFound", false},
		{"ResourceNotFound.ZoneNotFound", false},
		{"ResourceNotFound.SecretNotExist", false},
		{"OperationDenied", false},
		{"MissingParameter", false},
		{"UnauthorizedOperation", false},
		{"UnauthorizedOperation.AccessKmsError", false},
		{"LimitExceeded", false},
		{"ClientError.CredentialError", false},
		{"InternalErrorX", false},
		{"RequestLimitExceededX", false},
		{"ServiceUnavailable.Sub", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := RetryableCode(tc.code); got != tc.want {
			t.Errorf("RetryableCode(%q) = %v, want %v", tc.code, got, tc.want)
		}
		if got := (&Error{Code: tc.code}).Retryable(); got != tc.want {
			t.Errorf("Error{Code: %q}.Retryable() = %v, want %v", tc.code, got, tc.want)
		}
	}
}

// TestCallRetries: transient faults are retried until the call succeeds,
// final ones come back after exactly one call, and CallOnce never retries.
func TestCallRetries(t *testing.T) {
	tests := []struct {
		name      string
		once      bool // CallOnce instead of Call
		fault     emulator.Fault
		wantCode  string // "" = success
		wantCalls int
		retryable bool
	}{
		{name: "InternalError once is retried", fault: emulator.Fault{Code: "InternalError", Times: 1}, wantCalls: 2},
		{name: "RequestLimitExceeded sub-code is retried", fault: emulator.Fault{Code: "RequestLimitExceeded.UinLimitExceeded", Times: 2}, wantCalls: 3},
		{name: "ServiceUnavailable is retried", fault: emulator.Fault{Code: "ServiceUnavailable", Times: 1}, wantCalls: 2},
		{name: "dropped connection is retried", fault: emulator.Fault{Drop: true, Times: 1}, wantCalls: 2},
		{name: "proxy 502 page is retried", fault: emulator.Fault{HTTPStatus: 502, Times: 1}, wantCalls: 2},
		{name: "persistent InternalError uses every attempt", fault: emulator.Fault{Code: "InternalError"},
			wantCode: "InternalError", wantCalls: fastRetry.Attempts, retryable: true},
		{name: "AuthFailure is final", fault: emulator.Fault{Code: "AuthFailure.UnauthorizedOperation"},
			wantCode: "AuthFailure.UnauthorizedOperation", wantCalls: 1},
		{name: "ResourceNotFound is final", fault: emulator.Fault{Code: "ResourceNotFound"}, wantCode: "ResourceNotFound", wantCalls: 1},
		{name: "InvalidParameterValue is final", fault: emulator.Fault{Code: "InvalidParameterValue"}, wantCode: "InvalidParameterValue", wantCalls: 1},
		{name: "OperationDenied is final", fault: emulator.Fault{Code: "OperationDenied"}, wantCode: "OperationDenied", wantCalls: 1},
		{name: "LimitExceeded is final", fault: emulator.Fault{Code: "LimitExceeded"}, wantCode: "LimitExceeded", wantCalls: 1},
		{name: "CallOnce does not retry InternalError", once: true, fault: emulator.Fault{Code: "InternalError", Times: 1},
			wantCode: "InternalError", wantCalls: 1, retryable: true},
		{name: "CallOnce does not retry a dropped connection", once: true, fault: emulator.Fault{Drop: true, Times: 1},
			wantCode: "ClientError.NetworkError", wantCalls: 1, retryable: true},
		{name: "CallOnce does not retry a dropped answer", once: true, fault: emulator.Fault{Drop: true, Phase: emulator.After, Times: 1},
			wantCode: "ClientError.NetworkError", wantCalls: 1, retryable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu, c := newCloud(t)
			action := actionDescribe
			call := c.Call
			if tc.once {
				action, call = actionRefresh, c.CallOnce
			}
			tc.fault.Action = action
			emu.Inject(tc.fault)
			var out keyAnswer
			err := call(context.Background(), action, zoneParams{testZone}, &out)
			if got := emu.Calls(action); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if out.SecretKey != liveKey(t, emu) {
					t.Error("the answer after a retry is not the live key")
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.Code != tc.wantCode || Code(err) != tc.wantCode {
				t.Errorf("code %q, want %q", e.Code, tc.wantCode)
			}
			if e.Service != "teo" || e.Action != action || e.Operation() != action || e.ErrorCode() != tc.wantCode {
				t.Errorf("error names %s %s (%s %s)", e.Service, e.Action, e.Operation(), e.ErrorCode())
			}
			if got := retry.IsRetryable(err); got != tc.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tc.retryable)
			}
		})
	}
}

// TestErrorsNeverQuoteAnswers: the SDK's messages for answers it cannot use
// quote the whole body; a successful Describe's body holds the key.
func TestErrorsNeverQuoteAnswers(t *testing.T) {
	t.Run("answer of an unexpected shape", func(t *testing.T) {
		emu, c := newCloud(t)
		key := liveKey(t, emu)
		var out struct{ SecretKey int }
		err := c.CallOnce(context.Background(), actionDescribe, zoneParams{testZone}, &out)
		if Code(err) != "ClientError.DecodeError" || retry.IsRetryable(err) {
			t.Fatalf("err = %v, want a final ClientError.DecodeError: the same request would get the same answer", err)
		}
		if strings.Contains(err.Error(), key) {
			t.Error("the error quotes the answer, key included")
		}
		var m struct{ SecretKey map[string]string }
		err = c.CallOnce(context.Background(), actionDescribe, zoneParams{testZone}, &m)
		if err == nil || strings.Contains(err.Error(), key) {
			t.Errorf("err = %v", err)
		}
	})
	for _, status := range []int{200, 404, 502, 503} {
		t.Run(fmt.Sprintf("bare HTTP %d", status), func(t *testing.T) {
			emu, c := newCloud(t)
			emu.Inject(emulator.Fault{Action: actionDescribe, HTTPStatus: status})
			var out keyAnswer
			err := c.CallOnce(context.Background(), actionDescribe, zoneParams{testZone}, &out)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, body := range []string{"nginx", "<html", "<center>", "Fail to parse", "with body"} {
				if strings.Contains(msg, body) {
					t.Errorf("the error quotes the body (%q): %s", body, msg)
				}
			}
			// The SDK looks for an error envelope before it looks at the
			// status; the client recovers the status for the report.
			wantCode := "ClientError.HttpStatusCodeError"
			if status == 200 {
				wantCode = "ClientError.ParseJsonError"
			}
			if Code(err) != wantCode || (status != 200 && !strings.Contains(msg, fmt.Sprint(status))) {
				t.Errorf("code %q (%s), want %s naming the status", Code(err), msg, wantCode)
			}
			if !retry.IsRetryable(err) {
				t.Error("a proxy's error page is not retryable")
			}
		})
	}
	t.Run("an After fault on a read loses the answer, not the key", func(t *testing.T) {
		emu, c := newCloud(t)
		emu.Inject(emulator.Fault{Action: actionRefresh, Phase: emulator.After, HTTPStatus: 504})
		err := c.CallOnce(context.Background(), actionRefresh, zoneParams{testZone}, &keyAnswer{})
		if err == nil || strings.Contains(err.Error(), liveKey(t, emu)) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestDeadlineDuringDelayIsNotRetried(t *testing.T) {
	emu, c := newCloud(t)
	emu.Inject(emulator.Fault{Action: actionDescribe, Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := c.Call(ctx, actionDescribe, zoneParams{testZone}, &keyAnswer{})
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if retry.IsRetryable(err) {
		t.Error("running out of time is classified as retryable")
	}
	if got := emu.Calls(actionDescribe); got != 1 {
		t.Errorf("%d calls, want 1", got)
	}
}

func TestCanceledContextSendsNothing(t *testing.T) {
	emu, c := newCloud(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Call(ctx, actionDescribe, zoneParams{testZone}, &keyAnswer{})
	if err == nil || retry.IsRetryable(err) {
		t.Errorf("err = %v", err)
	}
	if got := emu.Calls(actionDescribe); got != 0 {
		t.Errorf("%d calls after cancel", got)
	}
}

func TestMissingCredential(t *testing.T) {
	emu, c := newCloud(t)
	c.Credential = nil
	err := c.Call(context.Background(), actionDescribe, zoneParams{testZone}, &keyAnswer{})
	if Code(err) != "ClientError.CredentialError" || retry.IsRetryable(err) {
		t.Errorf("err = %v", err)
	}
	if emu.Calls(actionDescribe) != 0 {
		t.Error("sent a request without credentials")
	}
}

func TestWrongCredentialIsFinal(t *testing.T) {
	emu, c := newCloud(t)
	role := emu.RoleCredential()
	c.Credential = common.NewTokenCredential(role.SecretID, "not-the-key", role.Token)
	err := c.Call(context.Background(), actionDescribe, zoneParams{testZone}, &keyAnswer{})
	if Code(err) != "AuthFailure.SignatureFailure" || retry.IsRetryable(err) {
		t.Errorf("err = %v", err)
	}
	if strings.Contains(err.Error(), role.SecretKey) || strings.Contains(err.Error(), role.Token) {
		t.Error("the error shows the credential")
	}
}

// TestRegionBreakerStaysOff: the SDK's region breaker, when on, sends calls
// to a backup host after a few; every call must reach the endpoint.
func TestRegionBreakerStaysOff(t *testing.T) {
	emu, c := newCloud(t)
	for i := range 10 {
		if err := c.Call(context.Background(), actionDescribe, zoneParams{testZone}, &keyAnswer{}); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if got := emu.Calls(actionDescribe); got != 10 {
		t.Errorf("the endpoint saw %d of 10 calls", got)
	}
}

func TestErrorFormat(t *testing.T) {
	emu, c := newCloud(t)
	emu.Inject(emulator.Fault{Action: actionDescribe, Code: "ResourceNotFound", Message: "no such thing"})
	err := c.Call(context.Background(), actionDescribe, zoneParams{testZone}, &keyAnswer{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
	if e.RequestID == "" {
		t.Error("no RequestId")
	}
	msg := err.Error()
	for _, want := range []string{"teo", actionDescribe, "ResourceNotFound", "no such thing", "RequestId " + e.RequestID} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if !strings.HasPrefix(msg, "teo "+actionDescribe+": ResourceNotFound") {
		t.Errorf("message %q does not start with service, action and code", msg)
	}

	// Built by hand: every part is optional but service, action and code.
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Service: "ssm", Action: "UpdateSecret", Code: "InternalError"}, "ssm UpdateSecret: InternalError"},
		{&Error{Service: "ssm", Action: "UpdateSecret", Code: "InternalError", Message: "m", RequestID: "r-1"}, "ssm UpdateSecret: InternalError: m (RequestId r-1)"},
		{&Error{Service: "sts", Action: "AssumeRole", Code: "ClientError.NetworkError", Message: "no answer", cause: errors.New("EOF")}, "sts AssumeRole: ClientError.NetworkError: no answer: EOF"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// acquire takes a slot of action as Call does, the answer coming back at
// once.
func acquire(l *Limits, ctx context.Context, action string) error {
	done, err := l.Acquire(ctx, action)
	done()
	return err
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("nil never waits", func(t *testing.T) {
		var l *Limits
		if err := acquire(l, ctx, "teo.A"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("actions have separate limiters", func(t *testing.T) {
		l := NewLimits(1, nil)
		// One request per second: the first of each action passes at once.
		for _, a := range []string{"teo.A", "teo.B", "ssm.A"} {
			short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
			err := acquire(l, short, a)
			cancel()
			if err != nil {
				t.Errorf("%s: first request waited: %v", a, err)
			}
		}
		// The second of the same action would wait about a second.
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if err := acquire(l, short, "teo.A"); err == nil {
			t.Error("a second request in the same second did not wait")
		}
	})
	// At 0.01/s a second send waits 100 s: a send-by time 50 s away tells
	// the limiters apart without measuring time.
	inFifty := func() context.Context { return ratelimit.WithSendBy(ctx, time.Now().Add(50*time.Second)) }
	t.Run("per action rate", func(t *testing.T) {
		l := NewLimits(0.01, map[string]float64{"ssm.GetSecretValue": 1000})
		for i := range 1000 {
			if err := acquire(l, inFifty(), "ssm.GetSecretValue"); err != nil {
				t.Fatalf("request %d at the per-action rate: %v", i+1, err)
			}
		}
		if err := acquire(l, inFifty(), "ssm.DescribeSecret"); err != nil {
			t.Fatal(err)
		}
		if err := acquire(l, inFifty(), "ssm.DescribeSecret"); !errors.Is(err, ratelimit.ErrNoTime) {
			t.Errorf("second request at the default rate: %v, want ErrNoTime", err)
		}
	})
	t.Run("Throttled slows only its action", func(t *testing.T) {
		l := NewLimits(0.01, nil)
		l.Throttled("teo.A")
		if err := acquire(l, inFifty(), "teo.A"); !errors.Is(err, ratelimit.ErrNoTime) {
			t.Errorf("throttled action: %v, want ErrNoTime", err)
		}
		if err := acquire(l, inFifty(), "teo.B"); err != nil {
			t.Errorf("other action: %v", err)
		}
		var none *Limits
		none.Throttled("teo.A")
	})
	t.Run("Acquire honours ctx", func(t *testing.T) {
		l := NewLimits(0.001, nil)
		if err := acquire(l, ctx, "teo.A"); err != nil {
			t.Fatal(err)
		}
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		if err := acquire(l, canceled, "teo.A"); err == nil {
			t.Error("Acquire on a canceled context returned nil")
		}
	})
	t.Run("a client waiting for its limit sends nothing past the deadline", func(t *testing.T) {
		emu, c := newCloud(t)
		c.Limits = NewLimits(0.001, nil)
		if err := c.Call(ctx, actionDescribe, zoneParams{testZone}, &keyAnswer{}); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := c.Call(short, actionDescribe, zoneParams{testZone}, &keyAnswer{})
		if !errors.Is(err, ratelimit.ErrNoTime) || !strings.Contains(err.Error(), "rate limit") || retry.IsRetryable(err) {
			t.Errorf("err = %v", err)
		}
		if got := emu.Calls(actionDescribe); got != 1 {
			t.Errorf("%d calls, want 1", got)
		}
	})
}

// TestForCopiesSettings: For keeps every setting but the service and the
// version, and leaves its receiver as it was.
func TestForCopiesSettings(t *testing.T) {
	base := &Client{
		Service: "teo", Version: "2022-09-01", Endpoint: endpoint.Endpoint{Scheme: "https", Host: "api.example.com"},
		Region: "ap-guangzhou", Credential: common.NewCredential("AKIDfor", "key"), Limits: NewLimits(1, nil),
		Timeout: time.Second, Retry: fastRetry, Transport: http.DefaultTransport, Logger: slog.New(slog.DiscardHandler),
	}
	got := base.For("ssm", "2019-09-23")
	if base.Service != "teo" || base.Version != "2022-09-01" {
		t.Errorf("For changed its receiver: %s %s", base.Service, base.Version)
	}
	if got.Service != "ssm" || got.Version != "2019-09-23" {
		t.Errorf("For = %s %s", got.Service, got.Version)
	}
	want, have := reflect.ValueOf(base).Elem(), reflect.ValueOf(got).Elem()
	for i := range want.NumField() {
		f := want.Type().Field(i)
		if !f.IsExported() || f.Name == "Service" || f.Name == "Version" {
			continue
		}
		if !reflect.DeepEqual(want.Field(i).Interface(), have.Field(i).Interface()) {
			t.Errorf("For did not copy %s", f.Name)
		}
	}
}

// TestSDKClientsReused: invocations of a warm instance with the same
// endpoint, region and credential reuse one SDK client; a renewed
// credential gets its own.
func TestSDKClientsReused(t *testing.T) {
	ep := endpoint.Endpoint{Scheme: "https", Host: "teo.example.com"}
	newClient := func(secretKey string) *Client {
		return &Client{Service: "teo", Endpoint: ep, Credential: common.NewTokenCredential("AKIDreuse", secretKey, "token")}
	}
	a, b := newClient("key-one"), newClient("key-one")
	if a.client() != b.client() {
		t.Error("two clients with the same credential built two SDK clients")
	}
	if renewed := newClient("key-two"); renewed.client() == a.client() {
		t.Error("a renewed credential reused the SDK client of the old one")
	}
	withTransport := newClient("key-one")
	withTransport.Transport = http.DefaultTransport
	if withTransport.client() == a.client() {
		t.Error("a client with its own transport shared the SDK client")
	}
}

// A CAM refusal names the action and resource the credentials lack and the
// policy file, in the message only: the code and action the report and the
// fault matrix read are CAM's.
func TestUnauthorizedNamesTheCAMGrant(t *testing.T) {
	tests := []struct {
		name, service, version, action, region string
		params                                 any
		code                                   string
		want                                   []string
		hint                                   bool
	}{
		{name: "TEO refresh", service: "teo", version: "2022-09-01", action: actionRefresh, params: zoneParams{testZone},
			code: "UnauthorizedOperation", hint: true,
			want: []string{"teo:" + actionRefresh, "qcs::teo::uin/<uin>:zone/" + testZone, "cam-policy.json", "cam-policy-fallback.json"}},
		{name: "TEO describe, common code", service: "teo", version: "2022-09-01", action: actionDescribe, params: zoneParams{testZone},
			code: "AuthFailure.UnauthorizedOperation", hint: true,
			want: []string{"teo:" + actionDescribe, "qcs::teo::uin/<uin>:zone/" + testZone, "cam-policy-fallback.json"}},
		{name: "TEO product sub-code", service: "teo", version: "2022-09-01", action: actionDescribe, params: zoneParams{testZone},
			code: "UnauthorizedOperation.CamUnauthorized", hint: true, want: []string{"teo:" + actionDescribe}},
		{name: "SSM update", service: "ssm", version: "2019-09-23", action: "UpdateSecret", region: "ap-guangzhou",
			params: struct{ SecretName, VersionId, SecretString string }{"mpgw-key-zone-x", "current", "v"},
			code:   "UnauthorizedOperation", hint: true,
			want: []string{"ssm:UpdateSecret", "qcs::ssm:ap-guangzhou:uin/<uin>:secret/creatorUin/*/mpgw-key-zone-x", "cam-policy.json"}},
		{name: "SSM create", service: "ssm", version: "2019-09-23", action: "CreateSecret", region: "ap-guangzhou",
			params: struct{ SecretName, VersionId, SecretString string }{"mpgw-key-zone-x", "current", "v"},
			code:   "AuthFailure.UnauthorizedOperation", hint: true,
			want: []string{"ssm:CreateSecret", "qcs::ssm::uin/<uin>:secret/*"}},
		{name: "SSM KMS refusal is not CAM's", service: "ssm", version: "2019-09-23", action: "GetSecretValue", region: "ap-guangzhou",
			params: struct{ SecretName, VersionId string }{"mpgw-key-zone-x", "current"},
			code:   "UnauthorizedOperation.AccessKmsError"},
		{name: "other codes get no CAM hint", service: "teo", version: "2022-09-01", action: actionDescribe, params: zoneParams{testZone},
			code: "ResourceNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu, c := newCloud(t)
			c.Service, c.Version, c.Region = tc.service, tc.version, tc.region
			emu.Inject(emulator.Fault{Action: tc.action, Code: tc.code})
			err := c.Call(context.Background(), tc.action, tc.params, nil)
			if Code(err) != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
			var e *Error
			if !errors.As(err, &e) || e.Operation() != tc.action || e.ErrorCode() != tc.code {
				t.Fatalf("report fields %v", err)
			}
			msg := err.Error()
			if got := strings.Contains(msg, "CAM denied"); got != tc.hint {
				t.Errorf("CAM hint = %v, want %v: %q", got, tc.hint, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
			if !strings.HasPrefix(msg, tc.service+" "+tc.action+": "+tc.code) {
				t.Errorf("message %q does not start with service, action and code", msg)
			}
			if emu.Calls(tc.action) != 1 {
				t.Errorf("%d calls, want 1 (final)", emu.Calls(tc.action))
			}
		})
	}
}

// TestRefusalNeverQuotesTheSecretSent: a service that quotes a refused
// parameter in its message (an InvalidParameterValue about SecretKey) does
// not put the key into the error.
func TestRefusalNeverQuotesTheSecretSent(t *testing.T) {
	emu, c := newCloud(t)
	const key = "c2VudGluZWwta2V5LXRoYXQtbXVzdC1uZXZlci1wcmludC0wMTIzNDU2Nzg5"
	emu.Inject(emulator.Fault{Action: "ModifyMultiPathGatewaySecretKey", Code: "InvalidParameterValue",
		Message: "The SecretKey " + key + " is not valid.", Times: 1})
	err := c.CallOnce(context.Background(), "ModifyMultiPathGatewaySecretKey", struct{ ZoneId, SecretKey string }{testZone, key}, nil)
	if err == nil || Code(err) != "InvalidParameterValue" {
		t.Fatalf("err = %v, want the refusal", err)
	}
	if strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error %q quotes the key sent", err)
	}
}
