// Package testkit sets up the function against the built-in emulator for
// tests: a cloud with zones, the function's environment, webhook receivers
// that misbehave on demand, and a log buffer to scan for leaked keys.
//
// It does not import the root package, so that the tests of the lower
// packages can use it too; handlerkit builds the function's Handler on a
// Cloud.
package testkit

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/envmap"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/logbuf"
)

// Region of the emulated SSM secrets.
const Region = "ap-guangzhou"

// SecretName is the SSM_SECRET_NAME template the cloud configures.
const SecretName = "mpgw-key-{zone}"

// VersionID is the SSM_VERSION_ID the cloud configures.
const VersionID = "current"

// AWSRegion and AWSSecretID are the AWS Secrets Manager configuration of
// WithAWS.
const (
	AWSRegion   = "us-east-1"
	AWSSecretID = "mpgw/{zone}"
)

// FastRetry is the production number of attempts of an API call or a
// webhook delivery (4) without the waiting: tests that are not about timing
// use it so that a transient fault costs milliseconds.
var FastRetry = retry.Policy{Attempts: 4, Initial: time.Millisecond, Max: 5 * time.Millisecond}

// Cloud is an emulator, optionally a webhook receiver, and the function's
// environment pointing at them.
type Cloud struct {
	Emu      *emulator.Emulator
	Receiver *webhook.Receiver // nil unless WithWebhook
	Hook     *HookFault        // makes the receiver misbehave; nil unless WithWebhook
	env      *envmap.Env
	Logs     *Buffer
}

// Option adjusts a Cloud before it starts.
type Option func(*setup)

type setup struct {
	ssm, webhook, aws bool
	emuOpts           emulator.Options
	env               map[string]string
}

// WithWebhook adds a Standard Webhooks receiver and configures WEBHOOK_URL.
func WithWebhook() Option { return func(s *setup) { s.webhook = true } }

// WithAWS adds the AWS Secrets Manager sink: AWS_SECRET_ID, the region, the
// emulator's AWS credentials and endpoint.
func WithAWS() Option { return func(s *setup) { s.aws = true } }

// WithoutSSM leaves SSM_SECRET_NAME unset.
func WithoutSSM() Option { return func(s *setup) { s.ssm = false } }

// WithEnv sets extra variables ("" deletes).
func WithEnv(kv map[string]string) Option {
	return func(s *setup) { maps.Copy(s.env, kv) }
}

// WithEmulator changes the emulator's options (Zones are set by NewCloud).
func WithEmulator(o emulator.Options) Option { return func(s *setup) { s.emuOpts = o } }

// StartEmulator serves a new emulator on loopback until the test ends (then
// closes both) and returns it with its endpoint: the set-up of every test
// that talks to the emulator through a client of its own.
func StartEmulator(t testing.TB, o emulator.Options) (*emulator.Emulator, endpoint.Endpoint) {
	t.Helper()
	emu := emulator.New(o)
	return emu, serve(t, emu)
}

// serve serves emu on loopback until the test ends, then closes it, and
// returns the endpoint.
func serve(t testing.TB, emu *emulator.Emulator) endpoint.Endpoint {
	t.Helper()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { emu.Close() })
	ep, err := endpoint.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// RoleCredential is emu's role (temporary) credential as the SDK signs with it.
func RoleCredential(emu *emulator.Emulator) *common.Credential {
	role := emu.RoleCredential()
	return common.NewTokenCredential(role.SecretID, role.SecretKey, role.Token)
}

// NewCloud starts an emulator holding zones and returns the environment of a
// function configured for them with the role (temporary) credentials.
func NewCloud(t testing.TB, zones []string, opts ...Option) *Cloud {
	t.Helper()
	s := &setup{ssm: true, env: map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	s.emuOpts.Zones = zones
	c := &Cloud{Logs: &Buffer{}}
	s.emuOpts.Logger = slog.New(slog.NewJSONHandler(c.Logs, nil))
	c.Emu = emulator.New(s.emuOpts)
	url := serve(t, c.Emu).URL()
	role := c.Emu.RoleCredential()
	vars := map[string]string{
		"ZONE_IDS":                  strings.Join(zones, ","),
		"TEO_ENDPOINT":              url,
		"SSM_ENDPOINT":              url,
		"STS_ENDPOINT":              url,
		"TENCENTCLOUD_REGION":       Region,
		"TENCENTCLOUD_SECRETID":     role.SecretID,
		"TENCENTCLOUD_SECRETKEY":    role.SecretKey,
		"TENCENTCLOUD_SESSIONTOKEN": role.Token,
	}
	if s.ssm {
		vars["SSM_SECRET_NAME"] = SecretName
		vars["SSM_VERSION_ID"] = VersionID
	}
	if s.aws {
		cred := c.Emu.AWSCredential()
		vars["AWS_SECRET_ID"] = AWSSecretID
		vars["AWS_REGION"] = AWSRegion
		vars["AWS_ACCESS_KEY_ID"] = cred.AccessKeyID
		vars["AWS_SECRET_ACCESS_KEY"] = cred.SecretAccessKey
		vars["AWS_SESSION_TOKEN"] = cred.SessionToken
		vars["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = url
	}
	if s.webhook {
		secret := NewWebhookSecret()
		recv, err := webhook.NewReceiver(secret)
		if err != nil {
			t.Fatal(err)
		}
		c.Hook = &HookFault{}
		hook := httptest.NewServer(c.Hook.wrap(recv))
		t.Cleanup(hook.Close)
		t.Cleanup(c.Hook.Clear) // release hanging requests before the server closes
		c.Receiver = recv
		vars["WEBHOOK_URL"] = hook.URL + "/hook"
		vars["WEBHOOK_SECRET"] = secret
	}
	for k, v := range s.env {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	c.env = envmap.New(vars)
	return c
}

// NewWebhookSecret returns a fresh whsec_ secret.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// Getenv reads the function's environment (safe for concurrent use).
func (c *Cloud) Getenv(k string) string { return c.env.Get(k) }

// Setenv changes the function's environment (safe for concurrent use).
func (c *Cloud) Setenv(k, v string) error { return c.env.Set(k, v) }

// Actions is every action the function sent to the cloud since it
// started, as its policy names it ("teo:RefreshMultiPathGatewaySecretKey",
// "secretsmanager:GetSecretValue"), sorted: what its role must be granted.
// It reads the emulator's call log, so call it before any ResetCounters.
func (c *Cloud) Actions() []string { return c.actions(func(string) bool { return true }) }

// AWSActions is Actions without the Tencent Cloud ones: what the function's
// AWS role must be granted.
func (c *Cloud) AWSActions() []string {
	return c.actions(func(service string) bool { return service == "secretsmanager" })
}

func (c *Cloud) actions(keep func(service string) bool) []string {
	seen := map[string]bool{}
	for _, call := range c.Emu.CallLog() {
		if keep(call.Service) {
			seen[call.PolicyAction()] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// SecretName is the SSM secret of zone.
func (c *Cloud) SecretName(zone string) string {
	return config.ForZone(SecretName, zone)
}

// SSMValue is what consumers would read from zone's secret ("" if none).
func (c *Cloud) SSMValue(zone string) string {
	s, ok := c.Emu.Secret(Region, c.SecretName(zone))
	if !ok {
		return ""
	}
	for _, v := range s.Versions {
		if v.ID == VersionID {
			return v.Value
		}
	}
	return ""
}

// AWSName is the AWS secret of zone.
func (c *Cloud) AWSName(zone string) string {
	return config.ForZone(AWSSecretID, zone)
}

// AWSStaged is the value of zone's AWS secret that holds stage (AWSCURRENT,
// AWSPREVIOUS), "" if none.
func (c *Cloud) AWSStaged(zone, stage string) string {
	s, ok := c.Emu.AWSSecret(AWSRegion, c.AWSName(zone))
	if !ok {
		return ""
	}
	for _, v := range s.Versions {
		if slices.Contains(v.Stages, stage) {
			return v.Value
		}
	}
	return ""
}

// Live is zone's live key in TEO.
func (c *Cloud) Live(zone string) string {
	k, _ := c.Emu.Key(zone)
	return k
}

// Keys returns every key the emulator has ever held for zones right now and
// every SSM value: the values no output may contain.
func (c *Cloud) Keys(zones []string) []string {
	var keys []string
	for _, z := range zones {
		if k := c.Live(z); k != "" {
			keys = append(keys, k)
		}
		if v := c.SSMValue(z); v != "" {
			keys = append(keys, v)
		}
		if s, ok := c.Emu.AWSSecret(AWSRegion, c.AWSName(z)); ok {
			for _, v := range s.Versions {
				keys = append(keys, v.Value)
			}
		}
	}
	return keys
}

// AssertNoLeak fails the test if any of secrets appears in any of outputs.
func AssertNoLeak(t testing.TB, secrets []string, outputs ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for i, out := range outputs {
			if strings.Contains(out, s) {
				t.Errorf("output %d leaks a secret (fingerprint-free check): ...%s...", i, excerpt(out, s))
			}
		}
	}
}

func excerpt(out, s string) string {
	i := strings.Index(out, s)
	start := max(0, i-60)
	return strings.ReplaceAll(out[start:i], "\n", " ") + "<SECRET>"
}

// Buffer is a bytes.Buffer safe for concurrent writers (logbuf's, for the
// tests that import testkit).
type Buffer = logbuf.Buffer

// HookFault makes the webhook endpoint fail the way real ones do.
type HookFault struct {
	mu        sync.Mutex
	mode      HookMode
	status    int
	remaining int // < 0: until cleared
	release   chan struct{}
}

// HookMode is how the webhook endpoint fails.
type HookMode int

const (
	HookOK     HookMode = iota
	HookStatus          // answer with a status (e.g. 503)
	HookHang            // never answer (until the client gives up or the fault is cleared)
	HookDrop            // close the connection without an answer
)

// Set makes the next times requests fail in mode (times < 0: every request).
func (f *HookFault) Set(mode HookMode, status, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.status, f.remaining = mode, status, times
	if f.release == nil {
		f.release = make(chan struct{})
	}
}

// Clear ends the fault and releases hanging requests.
func (f *HookFault) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = HookOK
	if f.release != nil {
		close(f.release)
		f.release = nil
	}
}

func (f *HookFault) take() (HookMode, int, chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mode == HookOK || f.remaining == 0 {
		return HookOK, 0, nil
	}
	if f.remaining > 0 {
		f.remaining--
	}
	return f.mode, f.status, f.release
}

func (f *HookFault) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode, status, release := f.take()
		switch mode {
		case HookStatus:
			w.WriteHeader(status)
			return
		case HookHang:
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		case HookDrop:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		next.ServeHTTP(w, r)
	})
}
