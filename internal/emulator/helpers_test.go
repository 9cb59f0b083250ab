package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smithy "github.com/aws/smithy-go"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

const testRegion = "ap-guangzhou"

// fakeClock is the emulator clock of a test. It starts at the real time,
// because the SDK stamps requests with time.Now and the emulator refuses a
// skew over 5 minutes; it only moves when the test moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fixture is an emulator behind an httptest server, on a frozen clock.
type fixture struct {
	t     *testing.T
	emu   *Emulator
	clock *fakeClock
	srv   *httptest.Server
	host  string // host:port, the SDK's Endpoint
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	clock := newFakeClock()
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	e := New(opts)
	srv := httptest.NewServer(e)
	f := &fixture{t: t, emu: e, clock: clock, srv: srv, host: strings.TrimPrefix(srv.URL, "http://")}
	t.Cleanup(f.close)
	return f
}

// close ends injected delays and waits for every handler to return, so that
// what handlers do after answering (logging) is visible to the test.
func (f *fixture) close() {
	_ = f.emu.Close()
	f.srv.Close()
}

// client is an SDK client for cred. region "" leaves X-TC-Region out.
func (f *fixture) client(cred Credential, region string, configure ...func(*profile.ClientProfile)) *common.Client {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = f.host
	cpf.HttpProfile.Scheme = "HTTP"
	for _, c := range configure {
		c(cpf)
	}
	return common.NewCommonClient(sdkCredential(cred), region, cpf)
}

func sdkCredential(c Credential) common.CredentialIface {
	if c.Token != "" {
		return common.NewTokenCredential(c.SecretID, c.SecretKey, c.Token)
	}
	return common.NewCredential(c.SecretID, c.SecretKey)
}

// catalog tells tests which service an action belongs to.
var catalog = newEndpoints(-1)

// regionFor is the region a test sends: none for TEO, testRegion otherwise.
func regionFor(action string) string {
	if ep := catalog[action]; ep != nil && ep.service == "teo" {
		return ""
	}
	return testRegion
}

// call sends action with the permanent credential.
func (f *fixture) call(action string, params map[string]any) (map[string]any, error) {
	f.t.Helper()
	return send(context.Background(), f.client(f.emu.PermanentCredential(), regionFor(action)), action, params)
}

// send sends action through client and returns the inside of the Response
// envelope.
func send(ctx context.Context, client *common.Client, action string, params map[string]any) (map[string]any, error) {
	svc := "teo"
	if ep := catalog[action]; ep != nil {
		svc = ep.service
	}
	return sendTo(ctx, client, svc, services[svc].version, action, params)
}

func sendTo(ctx context.Context, client *common.Client, svc, version, action string, params map[string]any) (map[string]any, error) {
	if params == nil {
		params = map[string]any{}
	}
	req := tchttp.NewCommonRequest(svc, version, action)
	if err := req.SetActionParameters(params); err != nil {
		return nil, err
	}
	req.SetContext(ctx)
	resp := tchttp.NewCommonResponse()
	if err := client.Send(req, resp); err != nil {
		return nil, err
	}
	var env struct{ Response map[string]any }
	if err := json.Unmarshal(resp.GetBody(), &env); err != nil {
		return nil, err
	}
	return env.Response, nil
}

// errCode is the error code of an SDK error or of an emulator apiError,
// "" for nil.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var sdkErr *tcerrors.TencentCloudSDKError
	if errors.As(err, &sdkErr) {
		return sdkErr.Code
	}
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae.Code
	}
	return "non-API error: " + err.Error()
}

func errMessage(err error) string {
	var sdkErr *tcerrors.TencentCloudSDKError
	if errors.As(err, &sdkErr) {
		return sdkErr.Message
	}
	return ""
}

func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := errCode(err); got != want {
		t.Fatalf("error code = %q, want %q (err: %v)", got, want, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// alter returns a transport that changes each request after the SDK has
// signed it.
func alter(change func(r *http.Request, body []byte) []byte) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		body = change(r, body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = nil
		return http.DefaultTransport.RoundTrip(r)
	})
}

// state is the control surface's state dump, decoded and as sent.
func (f *fixture) state(t *testing.T) (stateView, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	f.emu.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_emulator/state", nil))
	var state stateView
	if err := json.Unmarshal(rec.Body.Bytes(), &state); err != nil {
		t.Fatalf("state = %s (%v)", rec.Body, err)
	}
	return state, rec.Body.Bytes()
}

// --- AWS ---

const awsTestRegion = "us-east-1"

// smClient is the real Secrets Manager client of aws-sdk-go-v2 pointed at
// the fixture, with retries off.
func (f *fixture) smClient(cred AWSCredential, configure ...func(*secretsmanager.Options)) *secretsmanager.Client {
	opts := secretsmanager.Options{
		Region:       awsTestRegion,
		BaseEndpoint: aws.String(f.srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey, SessionToken: cred.SessionToken}, nil
		}),
		RetryMaxAttempts: 1,
	}
	return secretsmanager.New(opts, configure...)
}

// sm is a client with the emulator's own AWS credential.
func (f *fixture) sm(configure ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return f.smClient(f.emu.AWSCredential(), configure...)
}

// awsCode is the error code of an SDK error, "" for nil.
func awsCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "non-API error: " + err.Error()
}

func wantAWSCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := awsCode(err); got != want {
		t.Fatalf("error code = %q, want %q (err: %v)", got, want, err)
	}
}

// token returns a valid ClientRequestToken derived from s.
func token(s string) *string {
	const pad = "00000000000000000000000000000000"
	if len(s) < 32 {
		s += pad[:32-len(s)]
	}
	return aws.String(s)
}

// newSecretFixture is a fixture holding the AWS secret "s" with value
// (ClientRequestToken token(tok)), and a client with the emulator's AWS
// credential.
func newSecretFixture(t *testing.T, value, tok string) (*fixture, *secretsmanager.Client) {
	t.Helper()
	f := newFixture(t, Options{})
	sm := f.sm()
	createSecret(t, sm, "s", value, tok)
	return f, sm
}

func createSecret(t *testing.T, sm *secretsmanager.Client, name, value, tok string) {
	t.Helper()
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value), ClientRequestToken: token(tok),
	}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
}

func stagesOf(t *testing.T, e *Emulator, name string) map[string][]string {
	t.Helper()
	s, ok := e.AWSSecret(awsTestRegion, name)
	if !ok {
		t.Fatalf("no secret %s", name)
	}
	out := map[string][]string{}
	for _, v := range s.Versions {
		st := slices.Clone(v.Stages)
		slices.Sort(st)
		out[strings.TrimRight(v.ID, "0")] = st
	}
	return out
}

func equalStages(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}
