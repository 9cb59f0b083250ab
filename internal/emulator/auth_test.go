package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// The project test vector of tc3-signing-and-errors.md §2.
const (
	vectorSecretID  = "AKIDEXAMPLE"
	vectorSecretKey = "EXAMPLESECRETKEY"
	vectorTimestamp = 1735689600
	vectorHost      = "teo.tencentcloudapi.com"
	vectorZone      = "zone-27q0p0bal192"
	vectorBody      = `{"ZoneId":"zone-27q0p0bal192"}`
	vectorSignature = "5ff1f162d90a9bdee7ef26b28318e339913b7b749f9914e3fa355813e967edc3"
	vectorAuth      = "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2025-01-01/teo/tc3_request, SignedHeaders=content-type;host, Signature=" + vectorSignature
)

func vectorEmulator(now time.Time) *Emulator {
	e := New(Options{Now: func() time.Time { return now }, Zones: []string{vectorZone}})
	e.AddCredential(Credential{SecretID: vectorSecretID, SecretKey: vectorSecretKey})
	return e
}

func vectorRequest(authorization string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://"+vectorHost+"/", strings.NewReader(vectorBody))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-TC-Timestamp", "1735689600")
	r.Header.Set("X-TC-Action", "DescribeMultiPathGatewaySecretKey")
	r.Header.Set("X-TC-Version", "2022-09-01")
	r.Header.Set("Authorization", authorization)
	return r
}

func TestProjectVectorSteps(t *testing.T) {
	r := vectorRequest(vectorAuth)
	bodyHash := sha256Hex([]byte(vectorBody))
	if want := "b2a52e7d98c2c3c71b6afa8e278e75596e815c0176cd24085239ae90e6f94940"; bodyHash != want {
		t.Errorf("body hash = %s, want %s", bodyHash, want)
	}
	canonical := canonicalRequest(r, []string{"content-type", "host"}, bodyHash)
	if got, want := sha256Hex([]byte(canonical)), "c92ceeae1d652d5d44411ba68344c48899dd15d122b0bb70f5af02c1cc117295"; got != want {
		t.Errorf("canonical request hash = %s, want %s\n%s", got, want, canonical)
	}
	sig := tc3Signature(vectorSecretKey, "2025-01-01", "teo", stringToSign("1735689600", "2025-01-01/teo/tc3_request", canonical))
	if sig != vectorSignature {
		t.Errorf("signature = %s, want %s", sig, vectorSignature)
	}
}

// TestVerify runs the verifier on the project vector with a fixed clock,
// and on variants of it.
func TestVerify(t *testing.T) {
	signedAt := time.Unix(vectorTimestamp, 0)
	tests := []struct {
		name   string
		now    time.Time
		change func(r *http.Request) // applied to the vector request
		body   string                // replaces the received body if set
		want   string
	}{
		{name: "project vector", now: signedAt},
		{name: "clock 4m59s ahead", now: signedAt.Add(4*time.Minute + 59*time.Second)},
		{name: "clock 5m behind", now: signedAt.Add(-5 * time.Minute)},
		{name: "clock 10m ahead", now: signedAt.Add(10 * time.Minute), want: "AuthFailure.SignatureExpire"},
		{name: "clock 10m behind", now: signedAt.Add(-10 * time.Minute), want: "AuthFailure.SignatureExpire"},
		{name: "tampered body", now: signedAt, body: `{"ZoneId":"zone-27q0p0bal193"}`, want: "AuthFailure.SignatureFailure"},
		{name: "other host", now: signedAt, change: func(r *http.Request) { r.Host = "teo.intl.tencentcloudapi.com" }, want: "AuthFailure.SignatureFailure"},
		{name: "host with port", now: signedAt, change: func(r *http.Request) { r.Host = vectorHost + ":443" }, want: "AuthFailure.SignatureFailure"},
		{name: "other content type", now: signedAt, change: func(r *http.Request) { r.Header.Set("Content-Type", "application/json; charset=utf-8") }, want: "AuthFailure.SignatureFailure"},
		{name: "header values are lowercased", now: signedAt, change: func(r *http.Request) { r.Header.Set("Content-Type", " Application/JSON ") }},
		{name: "unsigned payload header", now: signedAt, change: func(r *http.Request) { r.Header.Set("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD") }, want: "AuthFailure.SignatureFailure"},
		{name: "timestamp changed", now: signedAt, change: func(r *http.Request) { r.Header.Set("X-TC-Timestamp", "1735689601") }, want: "AuthFailure.SignatureFailure"},
		{name: "scope date is not the timestamp's", now: signedAt, change: func(r *http.Request) { r.Header.Set("X-TC-Timestamp", "1735689599") }, want: "AuthFailure.SignatureFailure"},
		{name: "timestamp missing", now: signedAt, change: func(r *http.Request) { r.Header.Del("X-TC-Timestamp") }, want: "MissingParameter"},
		{name: "timestamp not a number", now: signedAt, change: func(r *http.Request) { r.Header.Set("X-TC-Timestamp", "2025-01-01") }, want: "InvalidParameter"},
		{name: "unknown SecretId", now: signedAt, change: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(vectorAuth, "AKIDEXAMPLE", "AKIDOTHER", 1))
		}, want: "AuthFailure.SecretIdNotFound"},
		{name: "wrong signature", now: signedAt, change: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(vectorAuth, "Signature=5", "Signature=6", 1))
		}, want: "AuthFailure.SignatureFailure"},
		{name: "garbage", now: signedAt, change: func(r *http.Request) { r.Header.Set("Authorization", "garbage") }, want: "AuthFailure.InvalidAuthorization"},
		{name: "missing", now: signedAt, change: func(r *http.Request) { r.Header.Del("Authorization") }, want: "AuthFailure.InvalidAuthorization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := vectorEmulator(tt.now)
			r := vectorRequest(vectorAuth)
			if tt.change != nil {
				tt.change(r)
			}
			body := vectorBody
			if tt.body != "" {
				body = tt.body
			}
			svc, err := e.authenticate(r, []byte(body))
			wantCode(t, err, tt.want)
			if err == nil && svc != "teo" {
				t.Errorf("service = %q, want teo", svc)
			}
		})
	}
}

// TestVectorThroughHandler sends the vector request through ServeHTTP.
func TestVectorThroughHandler(t *testing.T) {
	e := vectorEmulator(time.Unix(vectorTimestamp, 0))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, vectorRequest(vectorAuth))

	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var env struct {
		Response struct {
			SecretKey string
			RequestId string
			Error     *struct{ Code, Message string }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	if env.Response.Error != nil {
		t.Fatalf("error %+v", env.Response.Error)
	}
	if key, _ := e.Key(vectorZone); env.Response.SecretKey != key {
		t.Errorf("Describe did not return the zone's key")
	}
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !uuid4.MatchString(env.Response.RequestId) {
		t.Errorf("RequestId %q is not a UUID v4", env.Response.RequestId)
	}
}

// TestAuthWithSDK sends real SDK-signed requests that the emulator must
// accept or reject.
func TestAuthWithSDK(t *testing.T) {
	// The fixture has zones zone-a and zone-b and a role credential that
	// lives 1 minute.
	permanent, role := (*Emulator).PermanentCredential, (*Emulator).RoleCredential
	// signedBy is a client signing with cred after edit changed it.
	signedBy := func(cred func(*Emulator) Credential, edit func(*Credential)) func(*fixture) *common.Client {
		return func(f *fixture) *common.Client {
			c := cred(f.emu)
			edit(&c)
			return f.client(c, "")
		}
	}
	unchanged := func(*Credential) {}
	// later is a client signing with cred after the emulator clock moved by d.
	later := func(d time.Duration, cred func(*Emulator) Credential) func(*fixture) *common.Client {
		return func(f *fixture) *common.Client {
			f.clock.Advance(d)
			return f.client(cred(f.emu), "")
		}
	}
	// altered is a client with the permanent key whose requests change
	// after signing.
	altered := func(change func(r *http.Request, b []byte) []byte) func(*fixture) *common.Client {
		return func(f *fixture) *common.Client {
			return f.client(f.emu.PermanentCredential(), "").WithHttpTransport(alter(change))
		}
	}
	tests := []struct {
		name   string
		client func(f *fixture) *common.Client // the client under test
		want   string
	}{
		{name: "permanent key", client: signedBy(permanent, unchanged)},
		{name: "role credential with token", client: signedBy(role, unchanged)},
		{name: "added credential", client: func(f *fixture) *common.Client {
			c := Credential{SecretID: "AKIDadded", SecretKey: "added-secret-key"}
			f.emu.AddCredential(c)
			return f.client(c, "")
		}},
		{name: "unsigned payload", client: func(f *fixture) *common.Client {
			return f.client(f.emu.PermanentCredential(), "", func(p *profile.ClientProfile) { p.UnsignedPayload = true })
		}},
		{name: "region sent to TEO is ignored", client: func(f *fixture) *common.Client {
			return f.client(f.emu.PermanentCredential(), testRegion)
		}},
		{name: "tampered body", client: altered(func(_ *http.Request, b []byte) []byte {
			return bytes.Replace(b, []byte("zone-a"), []byte("zone-b"), 1)
		}), want: "AuthFailure.SignatureFailure"},
		{name: "changed signed header", client: altered(func(r *http.Request, b []byte) []byte {
			r.Header.Set("Content-Type", "text/plain")
			return b
		}), want: "AuthFailure.SignatureFailure"},
		{name: "wrong secret key", client: signedBy(permanent, func(c *Credential) { c.SecretKey = "not-the-secret-key" }),
			want: "AuthFailure.SignatureFailure"},
		{name: "unknown SecretId", client: signedBy(permanent, func(c *Credential) { c.SecretID = "AKIDunknown" }),
			want: "AuthFailure.SecretIdNotFound"},
		{name: "temporary credential without token", client: signedBy(role, func(c *Credential) { c.Token = "" }),
			want: "AuthFailure.TokenFailure"},
		{name: "temporary credential with wrong token", client: signedBy(role, func(c *Credential) { c.Token = "wrong-token" }),
			want: "AuthFailure.TokenFailure"},
		{name: "expired token", client: later(61*time.Second, role), want: "AuthFailure.TokenFailure"},
		{name: "emulator clock 10 minutes ahead", client: later(10*time.Minute, permanent), want: "AuthFailure.SignatureExpire"},
		{name: "emulator clock 10 minutes behind", client: later(-10*time.Minute, permanent), want: "AuthFailure.SignatureExpire"},
		{name: "garbage Authorization", client: altered(func(r *http.Request, b []byte) []byte {
			r.Header.Set("Authorization", "TC3-HMAC-SHA256 garbage")
			return b
		}), want: "AuthFailure.InvalidAuthorization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{Zones: []string{"zone-a", "zone-b"}, CredentialTTL: time.Minute})
			_, err := send(context.Background(), tt.client(f), "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})
			wantCode(t, err, tt.want)
			wantCalls := 1
			if tt.want != "" {
				wantCalls = 0 // an unauthenticated request is not a call
			}
			if got := f.emu.Calls("DescribeMultiPathGatewaySecretKey"); got != wantCalls {
				t.Errorf("Calls = %d, want %d", got, wantCalls)
			}
		})
	}
}

// TestReplayAccepted resends the exact bytes the SDK signed, as the SDK
// itself does on a retry.
func TestReplayAccepted(t *testing.T) {
	f := newFixture(t, Options{Zones: []string{"zone-a"}})
	var firstAnswer []byte
	twice := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		sendCopy := func() (*http.Response, error) {
			c := r.Clone(r.Context())
			c.Body = io.NopCloser(bytes.NewReader(body))
			return http.DefaultTransport.RoundTrip(c)
		}
		resp, err := sendCopy()
		if err != nil {
			return nil, err
		}
		firstAnswer, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		return sendCopy()
	})
	client := f.client(f.emu.PermanentCredential(), "").WithHttpTransport(twice)
	if _, err := send(context.Background(), client, "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"}); err != nil {
		t.Fatalf("replayed request: %v", err)
	}
	if bytes.Contains(firstAnswer, []byte(`"Error"`)) {
		t.Fatalf("first request failed: %s", firstAnswer)
	}
	if got := f.emu.Performed("DescribeMultiPathGatewaySecretKey"); got != 2 {
		t.Errorf("Performed = %d, want 2", got)
	}
}

// TestProtocolErrors covers what is checked after authentication and
// before the action: product, version, action, body, size, method.
func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name                 string
		svc, version, action string
		params               map[string]any
		body                 string // replaces the (unsigned) body if set
		want                 string
	}{
		{name: "unknown version", svc: "teo", version: "2020-01-01", action: "DescribeMultiPathGatewaySecretKey", want: "NoSuchVersion"},
		{name: "ssm version on teo", svc: "teo", version: "2019-09-23", action: "DescribeMultiPathGatewaySecretKey", want: "NoSuchVersion"},
		{name: "unknown action", svc: "teo", version: "2022-09-01", action: "DescribeZones", want: "InvalidAction"},
		{name: "action of another service", svc: "teo", version: "2022-09-01", action: "CreateSecret", want: "InvalidAction"},
		{name: "unknown product", svc: "cvm", version: "2017-03-12", action: "DescribeInstances", want: "NoSuchProduct"},
		{name: "body is an array", svc: "teo", version: "2022-09-01", action: "DescribeMultiPathGatewaySecretKey", body: `["zone-a"]`, want: "InvalidParameter"},
		{name: "body is not JSON", svc: "teo", version: "2022-09-01", action: "DescribeMultiPathGatewaySecretKey", body: `ZoneId=zone-a`, want: "InvalidParameter"},
		{name: "parameter of the wrong type", svc: "teo", version: "2022-09-01", action: "DescribeMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": 42}, want: "InvalidParameter"},
		{name: "unknown parameters are ignored", svc: "teo", version: "2022-09-01", action: "DescribeMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "Extra": true}},
		{name: "body over 1 MiB", svc: "teo", version: "2022-09-01", action: "DescribeMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "Padding": strings.Repeat("x", 1<<20)}, want: "RequestSizeLimitExceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{Zones: []string{"zone-a"}})
			client := f.client(f.emu.PermanentCredential(), "", func(p *profile.ClientProfile) { p.UnsignedPayload = tt.body != "" })
			if tt.body != "" {
				client.WithHttpTransport(alter(func(_ *http.Request, _ []byte) []byte { return []byte(tt.body) }))
			}
			params := tt.params
			if params == nil {
				params = map[string]any{"ZoneId": "zone-a"}
			}
			_, err := sendTo(context.Background(), client, tt.svc, tt.version, tt.action, params)
			wantCode(t, err, tt.want)
		})
	}
}

func TestNonPostIsUnsupported(t *testing.T) {
	f := newFixture(t, Options{})
	resp, err := http.Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Response struct{ Error struct{ Code string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || env.Response.Error.Code != "UnsupportedProtocol" {
		t.Errorf("status %d, code %q; want 200 UnsupportedProtocol", resp.StatusCode, env.Response.Error.Code)
	}
}
