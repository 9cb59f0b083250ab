package awssm_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/awssm"
)

// recorder answers every request with status and a JSON error, and keeps
// what it received.
type recorder struct {
	mu     sync.Mutex
	reqs   []*http.Request
	status int
	body   string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	status, body := r.status, r.body
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (r *recorder) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*http.Request(nil), r.reqs...)
}

const (
	testKeyID  = "AKIATESTKEYID0000001"
	testSecret = "test-secret-access-key-SENTINEL-0001"
	testToken  = "test-session-token-SENTINEL-0001"
)

func TestNewAPIConfiguresFromVariables(t *testing.T) {
	rec := &recorder{status: 500, body: `{"__type":"InternalServiceError","Message":"boom"}`}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	other := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(other.Close)

	tests := []struct {
		name       string
		env        map[string]string
		wantRegion string
		wantToken  string
	}{
		{"AWS_REGION and the service endpoint", map[string]string{
			"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-east-1",
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": srv.URL, "AWS_ENDPOINT_URL": other.URL,
			"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret, "AWS_SESSION_TOKEN": testToken,
		}, "eu-west-3", testToken},
		{"AWS_DEFAULT_REGION and the global endpoint, no session token", map[string]string{
			"AWS_DEFAULT_REGION": "ap-southeast-2", "AWS_ENDPOINT_URL": srv.URL,
			"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret,
		}, "ap-southeast-2", ""},
		// Read as config reads them: blank is unset, space around is cut.
		{"blank AWS_REGION and service endpoint, padded values", map[string]string{
			"AWS_REGION": "  ", "AWS_DEFAULT_REGION": " us-east-1\n",
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": " ", "AWS_ENDPOINT_URL": " " + srv.URL + " ",
			"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret,
		}, "us-east-1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			api, err := awssm.NewAPI(func(k string) string { return tc.env[k] }, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := api.Options().Region; got != tc.wantRegion {
				t.Errorf("region %q, want %q", got, tc.wantRegion)
			}
			_, err = api.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
			if err == nil {
				t.Fatal("DescribeSecret succeeded against a server answering 500")
			}
			reqs := rec.requests()[before:]
			// The SDK's retries are off: one request for one call, even for
			// an InternalServiceError it would retry itself.
			if len(reqs) != 1 {
				t.Fatalf("%d requests for one call, want 1", len(reqs))
			}
			r := reqs[0]
			if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.DescribeSecret" {
				t.Errorf("X-Amz-Target %q", got)
			}
			auth := r.Header.Get("Authorization")
			if !strings.Contains(auth, "Credential="+testKeyID+"/") || !strings.Contains(auth, "/"+tc.wantRegion+"/secretsmanager/aws4_request") {
				t.Errorf("Authorization %q: want key %s, region %s", auth, testKeyID, tc.wantRegion)
			}
			if got := r.Header.Get("X-Amz-Security-Token"); got != tc.wantToken {
				t.Errorf("X-Amz-Security-Token %q, want %q", got, tc.wantToken)
			}
		})
	}
}

func TestNewAPIFallsBackToTheDefaultChain(t *testing.T) {
	// No key variables: the rest of the SDK's chain, resolved on first use.
	// Shared files are pointed at nothing so the test does not depend on
	// the machine.
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	api, err := awssm.NewAPI(func(k string) string { return map[string]string{"AWS_REGION": "us-east-1"}[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if api.Options().Credentials == nil {
		t.Fatal("no credentials provider from the default chain")
	}
}

func TestNewAPIErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no region", map[string]string{"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret}, "AWS_REGION"},
		{"service endpoint not a URL", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://[::1"}, "AWS_ENDPOINT_URL_SECRETS_MANAGER"},
		{"http to a remote host", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://secretsmanager.example.com"}, "AWS_ENDPOINT_URL"},
		{"endpoint with a path", map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "https://example.com/api"}, "AWS_ENDPOINT_URL"},
		{"key id without secret", map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": testKeyID}, "AWS_SECRET_ACCESS_KEY"},
		{"secret without key id", map[string]string{"AWS_REGION": "us-east-1", "AWS_SECRET_ACCESS_KEY": testSecret}, "AWS_ACCESS_KEY_ID"},
		{"CA bundle missing", map[string]string{"AWS_REGION": "us-east-1", "AWS_CA_BUNDLE": "/nonexistent/ca.pem"}, "AWS_CA_BUNDLE"},
		{"token alone", map[string]string{"AWS_REGION": "us-east-1", "AWS_SESSION_TOKEN": testToken}, "AWS_SESSION_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := awssm.NewAPI(func(k string) string { return tc.env[k] }, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
			for _, s := range []string{testSecret, testToken} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q holds a credential", err)
				}
			}
		})
	}
}

func TestNewAPIAcceptsHTTPOnLoopbackOnly(t *testing.T) {
	for _, ep := range []string{"http://127.0.0.1:4566", "http://localhost:4566", "http://[::1]:4566", "https://secretsmanager.example.com"} {
		env := map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": ep,
			"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret}
		api, err := awssm.NewAPI(func(k string) string { return env[k] }, nil)
		if err != nil {
			t.Errorf("%s: %v", ep, err)
			continue
		}
		if got := aws.ToString(api.Options().BaseEndpoint); got != ep {
			t.Errorf("BaseEndpoint %q, want %q", got, ep)
		}
	}
}

// A network failure surfaces as a retryable *awssm.Error naming the action.
func TestNetworkFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": url,
		"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret}
	api, err := awssm.NewAPI(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := awssm.New(api, "mpgw-{zone}")
	s.Retry = retry.Policy{Attempts: 2}
	_, err = s.Inspect(context.Background(), "zone-1")
	var e *awssm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *awssm.Error", err, err)
	}
	if e.ErrorCode() != awssm.CodeNetwork || !retry.IsRetryable(err) || e.Secret != "mpgw-zone-1" {
		t.Errorf("error %q: code %s, retryable %v", err, e.ErrorCode(), retry.IsRetryable(err))
	}
	if op := e.Operation(); op != awssm.ActionGet && op != awssm.ActionDescribe {
		t.Errorf("operation %q", op)
	}
}

// TestCABundleClientIsReused: AWS_CA_BUNDLE's client trusts the bundle and
// is made once per bundle, so warm invocations reuse its connections.
func TestCABundleClientIsReused(t *testing.T) {
	srv := httptest.NewTLSServer(&recorder{status: 400, body: `{"__type":"ResourceNotFoundException","Message":"no"}`})
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, block, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_CA_BUNDLE": path, "AWS_ENDPOINT_URL": srv.URL,
		"AWS_ACCESS_KEY_ID": testKeyID, "AWS_SECRET_ACCESS_KEY": testSecret}
	var clients []aws.HTTPClient
	for range 2 {
		api, err := awssm.NewAPI(func(k string) string { return env[k] }, nil)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, api.Options().HTTPClient)
		_, err = api.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") { // the answer came: TLS trusted the bundle
			t.Fatalf("DescribeSecret over TLS trusting the bundle: %v", err)
		}
	}
	if clients[0] != clients[1] {
		t.Error("a second NewAPI made a second client for the same bundle")
	}
}
