package emulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// smWithTransport is a client whose requests change alters after the SDK
// has signed them.
func (f *fixture) smWithTransport(cred AWSCredential, change func(r *http.Request, body []byte) []byte) *secretsmanager.Client {
	return f.smClient(cred, func(o *secretsmanager.Options) {
		o.HTTPClient = &http.Client{Transport: alter(change)}
	})
}

// TestAWSSignatureFailures: each way a request can fail authentication,
// with the error type AWS sends.
func TestAWSSignatureFailures(t *testing.T) {
	f := newFixture(t, Options{})
	good := f.emu.AWSCredential()
	f.emu.addAWSCredential(AWSCredential{AccessKeyID: "AKIAPERMANENT0000001", SecretAccessKey: "permanent-secret"})
	f.emu.addAWSCredential(AWSCredential{AccessKeyID: "ASIAEXPIRED000000001", SecretAccessKey: "expired-secret",
		SessionToken: "expired-token", Expires: f.clock.Now().Add(-time.Second)})
	with := func(mod func(*AWSCredential)) AWSCredential { c := good; mod(&c); return c }

	tests := []struct {
		name   string
		client *secretsmanager.Client
		want   string
	}{
		{"unknown key", f.smClient(with(func(c *AWSCredential) { c.AccessKeyID = "ASIAUNKNOWN000000000" })), "UnrecognizedClientException"},
		{"wrong secret key", f.smClient(with(func(c *AWSCredential) { c.SecretAccessKey = "wrong" })), "InvalidSignatureException"},
		{"wrong token", f.smClient(with(func(c *AWSCredential) { c.SessionToken = "wrong" })), "UnrecognizedClientException"},
		{"missing token", f.smClient(with(func(c *AWSCredential) { c.SessionToken = "" })), "UnrecognizedClientException"},
		{"expired token", f.smClient(AWSCredential{AccessKeyID: "ASIAEXPIRED000000001", SecretAccessKey: "expired-secret", SessionToken: "expired-token"}), "ExpiredTokenException"},
		{"wrong service in scope", f.smWithTransport(good, func(r *http.Request, body []byte) []byte {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/secretsmanager/", "/kms/", 1))
			return body
		}), "InvalidSignatureException"},
		{"malformed region in scope", f.smWithTransport(good, func(r *http.Request, body []byte) []byte {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/US_EAST/", 1))
			return body
		}), "InvalidSignatureException"},
		{"content hash of another body", f.smWithTransport(good, func(r *http.Request, body []byte) []byte {
			r.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte("{}")))
			return body
		}), "InvalidSignatureException"},
		{"tampered body", f.smWithTransport(good, func(_ *http.Request, body []byte) []byte {
			return bytes.Replace(body, []byte(`"SecretId":"s"`), []byte(`"SecretId":"t"`), 1)
		}), "InvalidSignatureException"},
		{"no authorization", f.smWithTransport(good, func(r *http.Request, body []byte) []byte {
			r.Header.Del("Authorization")
			return body
		}), "MissingAuthenticationTokenException"},
		{"truncated authorization", f.smWithTransport(good, func(r *http.Request, body []byte) []byte {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:strings.Index(h, ", Signature=")])
			return body
		}), "IncompleteSignatureException"},
		{"permanent key", f.smClient(AWSCredential{AccessKeyID: "AKIAPERMANENT0000001", SecretAccessKey: "permanent-secret"}), "ResourceNotFoundException"},
		{"good", f.sm(), "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, want := tt.client, tt.want
			_, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
			wantAWSCode(t, err, want)
		})
	}
}

// TestAWSClockSkewFollowsEmulatorClock: the emulator clock decides.
func TestAWSClockSkewFollowsEmulatorClock(t *testing.T) {
	f := newFixture(t, Options{})
	f.clock.Advance(6 * time.Minute)
	_, err := f.sm().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	wantAWSCode(t, err, "InvalidSignatureException")
	if !strings.Contains(err.Error(), "Signature expired") {
		t.Errorf("message %q does not say the signature expired", err)
	}
	f.clock.Advance(-12 * time.Minute)
	_, err = f.sm().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if !strings.Contains(err.Error(), "Signature not yet current") {
		t.Errorf("message %q does not say the signature is not yet current", err)
	}
}

// TestAWSFaults: Before, After and Drop faults on an AWS action, with the
// counters.
func TestAWSFaults(t *testing.T) {
	const action = "secretsmanager.PutSecretValue"
	tests := []struct {
		name          string
		fault         Fault
		wantCode      string // "" for a transport error
		wantPerformed int
		wantVersions  int
	}{
		{"before", Fault{Action: action, Phase: Before, Code: "InternalServiceError"}, "InternalServiceError", 0, 1},
		{"after", Fault{Action: action, Phase: After, Code: "InternalServiceError"}, "InternalServiceError", 1, 2},
		{"throttling before", Fault{Action: action, Code: "ThrottlingException"}, "ThrottlingException", 0, 1},
		{"drop after", Fault{Action: action, Phase: After, Drop: true}, "", 1, 2},
		{"http 502", Fault{Action: action, HTTPStatus: 502}, "", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, sm := newSecretFixture(t, "v1", "a")
			f.emu.ResetCounters()
			tt.fault.Times = 1
			f.emu.Inject(tt.fault)
			_, err := sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v2"), ClientRequestToken: token("b")})
			if err == nil {
				t.Fatal("faulted call succeeded")
			}
			if tt.wantCode != "" {
				wantAWSCode(t, err, tt.wantCode)
			}
			if tt.name == "after" {
				var ise *types.InternalServiceError
				if !errors.As(err, &ise) {
					t.Errorf("error %T is not *types.InternalServiceError", err)
				}
			}
			if got := f.emu.Calls(action); got != 1 {
				t.Errorf("Calls = %d, want 1", got)
			}
			if got := f.emu.Performed(action); got != tt.wantPerformed {
				t.Errorf("Performed = %d, want %d", got, tt.wantPerformed)
			}
			if s, _ := f.emu.AWSSecret(awsTestRegion, "s"); len(s.Versions) != tt.wantVersions {
				t.Errorf("versions = %d, want %d", len(s.Versions), tt.wantVersions)
			}
			// The fault ran out: the retry with the same token succeeds.
			if _, err := sm.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v2"), ClientRequestToken: token("b")}); err != nil {
				t.Errorf("retry: %v", err)
			}
		})
	}
}

// TestAWSRateLimit: the 51st write in one second on a frozen clock is
// throttled, counted, and the window frees up a second later.
func TestAWSRateLimit(t *testing.T) {
	f, sm := newSecretFixture(t, "v0", "init")
	ctx := context.Background()
	f.clock.Advance(time.Second)
	for i := range 50 {
		if _, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("s"), Tags: []types.Tag{{Key: aws.String("n"), Value: aws.String("x")}}}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// TagResource and UntagResource share their quota.
	_, err := sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String("s"), TagKeys: []string{"n"}})
	wantAWSCode(t, err, "ThrottlingException")
	if got := f.emu.Throttled(); got != 1 {
		t.Errorf("Throttled = %d, want 1", got)
	}
	// Another quota is not affected.
	if _, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); err != nil {
		t.Errorf("GetSecretValue: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String("s"), TagKeys: []string{"n"}}); err != nil {
		t.Errorf("after a second: %v", err)
	}
}

// TestAWSNoSecretsInAnswersOrLogs: neither error answers, the log nor the
// state dump carry a secret value, key, token or signature.
func TestAWSNoSecretsInAnswersOrLogs(t *testing.T) {
	var logs syncBuffer
	f := newFixture(t, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	cred := f.emu.AWSCredential()
	const value = "super-secret-value-0123456789"
	var answers syncBuffer
	var signatures []string
	var sigMu sync.Mutex
	record := func(r *http.Request, body []byte) []byte {
		h := r.Header.Get("Authorization")
		sigMu.Lock()
		signatures = append(signatures, h[strings.LastIndex(h, "=")+1:])
		sigMu.Unlock()
		return body
	}
	tap := func(cred AWSCredential) *secretsmanager.Client {
		return f.smClient(cred, func(o *secretsmanager.Options) {
			o.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				body, _ := io.ReadAll(r.Body)
				record(r, body)
				r = r.Clone(r.Context())
				r.Body = io.NopCloser(bytes.NewReader(body))
				resp, err := http.DefaultTransport.RoundTrip(r)
				if err == nil && resp.StatusCode != 200 {
					b, _ := io.ReadAll(resp.Body)
					answers.Write(b)
					for k, v := range resp.Header {
						answers.Write([]byte(k + ": " + strings.Join(v, ",") + "\n"))
					}
					resp.Body = io.NopCloser(bytes.NewReader(b))
				}
				return resp, err
			})}
		})
	}
	sm := tap(cred)
	ctx := context.Background()
	createSecret(t, sm, "s", value, "a")
	_, _ = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(value + "x"), ClientRequestToken: token("a")})
	_, _ = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(value + "y"), ClientRequestToken: token("a")})
	_, _ = tap(AWSCredential{AccessKeyID: cred.AccessKeyID, SecretAccessKey: "wrong", SessionToken: cred.SessionToken}).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	_, _ = tap(AWSCredential{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey, SessionToken: "bad-token-bad-token"}).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	f.emu.Inject(Fault{Action: "secretsmanager.GetSecretValue", Phase: After, Code: "InternalServiceError", Times: 1})
	_, _ = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})

	state, stateBody := f.state(t)
	if len(state.AWSSecrets) != 1 || state.AWSSecrets[0].Versions[0].Fingerprint == "" {
		t.Fatalf("state = %s", stateBody)
	}

	f.close()
	secrets := []string{value, cred.SecretAccessKey, cred.SessionToken, "bad-token-bad-token"}
	sigMu.Lock()
	secrets = append(secrets, signatures...)
	sigMu.Unlock()
	for where, text := range map[string]string{"answers": answers.String(), "logs": logs.String(), "state": string(stateBody)} {
		if text == "" && where != "state" {
			t.Errorf("no %s recorded", where)
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contain a secret (%d characters)", where, len(s))
			}
		}
	}
	if !strings.Contains(logs.String(), `"action":"secretsmanager.GetSecretValue"`) {
		t.Errorf("logs lack the AWS action: %s", logs.String())
	}
}

// TestAWSLoadDefaultConfig uses the SDK's standard configuration with the
// variables `function emulator` prints.
func TestAWSLoadDefaultConfig(t *testing.T) {
	f := newFixture(t, Options{})
	cred := f.emu.AWSCredential()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": cred.AccessKeyID, "AWS_SECRET_ACCESS_KEY": cred.SecretAccessKey, "AWS_SESSION_TOKEN": cred.SessionToken,
		"AWS_REGION": awsTestRegion, "AWS_ENDPOINT_URL_SECRETS_MANAGER": f.srv.URL,
		"AWS_CONFIG_FILE": t.TempDir() + "/none", "AWS_SHARED_CREDENTIALS_FILE": t.TempDir() + "/none", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	if _, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String("cfg"), SecretString: aws.String("v")}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if _, ok := f.emu.AWSSecret(awsTestRegion, "cfg"); !ok {
		t.Fatal("the secret was not created in the emulator")
	}
}
