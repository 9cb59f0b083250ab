package emulator

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/logbuf"
)

func startedClient(t *testing.T, e *Emulator, cred Credential, region string) *common.Client {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(e.URL(), "http://")
	cpf.HttpProfile.Scheme = "HTTP"
	return common.NewCommonClient(sdkCredential(cred), region, cpf)
}

func controlRequest(t *testing.T, e *Emulator, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestControlSurface(t *testing.T) {
	e, err := Start("127.0.0.1:0", Options{Zones: []string{"zone-a"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if !strings.HasPrefix(e.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL() = %q", e.URL())
	}
	teo := startedClient(t, e, e.PermanentCredential(), "")
	ssm := startedClient(t, e, e.RoleCredential(), testRegion)
	zone := map[string]any{"ZoneId": "zone-a"}

	res, err := send(context.Background(), teo, refresh, zone)
	if err != nil {
		t.Fatal(err)
	}
	key := res["SecretKey"].(string)
	if _, err := send(context.Background(), ssm, "CreateSecret", secretArgs("mpgw", "SecretString", key)); err != nil {
		t.Fatal(err)
	}
	e.PutSecret(SecretState{Region: testRegion, Name: "seeded", Versions: []Version{{ID: "v1", Value: "seeded-secret-value"}}})
	res, err = send(context.Background(), ssm, "AssumeRole", map[string]any{"RoleArn": testRole, "RoleSessionName": "s1"})
	if err != nil {
		t.Fatal(err)
	}
	assumed := res["Credentials"].(map[string]any)

	t.Run("state", func(t *testing.T) {
		status, body := controlRequest(t, e, http.MethodGet, "/_emulator/state", "")
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		for what, v := range map[string]string{
			"zone key":              key,
			"seeded secret value":   "seeded-secret-value",
			"permanent secret key":  e.PermanentCredential().SecretKey,
			"role secret key":       e.RoleCredential().SecretKey,
			"role token":            e.RoleCredential().Token,
			"assumed secret key":    assumed["TmpSecretKey"].(string),
			"assumed session token": assumed["Token"].(string),
		} {
			if strings.Contains(body, v) {
				t.Errorf("state contains the %s", what)
			}
		}
		var state stateView
		if err := json.Unmarshal([]byte(body), &state); err != nil {
			t.Fatal(err)
		}
		if len(state.Zones) != 1 || state.Zones[0].KeyFingerprint != secret.Fingerprint(key) {
			t.Errorf("zones = %+v, want zone-a with the key's fingerprint", state.Zones)
		}
		if len(state.Secrets) != 2 || state.Secrets[0].Versions[0].Fingerprint != secret.Fingerprint(key) {
			t.Errorf("secrets = %+v", state.Secrets)
		}
		if state.Calls[refresh] != 1 || state.Performed[refresh] != 1 || state.Calls["CreateSecret"] != 1 {
			t.Errorf("calls %v, performed %v", state.Calls, state.Performed)
		}
	})

	t.Run("faults", func(t *testing.T) {
		status, body := controlRequest(t, e, http.MethodPost, "/_emulator/faults",
			`{"action":"RefreshMultiPathGatewaySecretKey","target":"zone-a","phase":"after","code":"InternalError","times":1,"delay":"5ms"}`)
		if status != http.StatusNoContent {
			t.Fatalf("status %d: %s", status, body)
		}
		before, _ := e.Key("zone-a")
		_, err := send(context.Background(), teo, refresh, zone)
		wantCode(t, err, "InternalError")
		if after, _ := e.Key("zone-a"); after == before {
			t.Error("an After fault did not let the refresh happen")
		}

		if status, body := controlRequest(t, e, http.MethodPost, "/_emulator/faults", `{"Action":"DescribeMultiPathGatewaySecretKey","Target":"zone-x","Delay":5}`); status != http.StatusNoContent {
			t.Fatalf("delay in milliseconds: status %d: %s", status, body)
		}
		if status, body := controlRequest(t, e, http.MethodPost, "/_emulator/faults", `{"action":"DescribeMultiPathGatewaySecretKey","code":"ServiceUnavailable"}`); status != http.StatusNoContent {
			t.Fatalf("status %d: %s", status, body)
		}
		_, err = send(context.Background(), teo, "DescribeMultiPathGatewaySecretKey", zone)
		wantCode(t, err, "ServiceUnavailable")
		if status, _ := controlRequest(t, e, http.MethodDelete, "/_emulator/faults", ""); status != http.StatusNoContent {
			t.Fatalf("DELETE status %d", status)
		}
		_, err = send(context.Background(), teo, "DescribeMultiPathGatewaySecretKey", zone)
		wantCode(t, err, "")
	})

	t.Run("invalid faults", func(t *testing.T) {
		for _, body := range []string{
			`{"code":"InternalError"}`,
			`{"action":"NoSuchAction","code":"InternalError"}`,
			`{"action":"RefreshMultiPathGatewaySecretKey","code":"InternalError","delay":"soon"}`,
			`{"action":"RefreshMultiPathGatewaySecretKey","code":"InternalError","phase":"during"}`,
			`{"action":"RefreshMultiPathGatewaySecretKey","code":"InternalError","colour":"red"}`,
			`not json`,
		} {
			if status, _ := controlRequest(t, e, http.MethodPost, "/_emulator/faults", body); status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400", body, status)
			}
		}
	})

	t.Run("zones", func(t *testing.T) {
		status, body := controlRequest(t, e, http.MethodPost, "/_emulator/zones", `{"zoneId":"zone-new"}`)
		k, ok := e.Key("zone-new")
		if status != http.StatusCreated || !ok || !strings.Contains(body, secret.Fingerprint(k)) || strings.Contains(body, k) {
			t.Errorf("status %d, body %s", status, body)
		}
		if status, _ := controlRequest(t, e, http.MethodPost, "/_emulator/zones", `{"zoneId":"zone-empty","withoutKey":true}`); status != http.StatusCreated {
			t.Errorf("without key: status %d", status)
		}
		_, err := send(context.Background(), teo, "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-empty"})
		wantCode(t, err, "ResourceNotFound")
		if status, _ := controlRequest(t, e, http.MethodPost, "/_emulator/zones", `{}`); status != http.StatusBadRequest {
			t.Errorf("no zoneId: status %d", status)
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		if status, _ := controlRequest(t, e, http.MethodGet, "/_emulator/nope", ""); status != http.StatusNotFound {
			t.Errorf("status %d, want 404", status)
		}
	})
}

// syncBuffer is the shared test log buffer, under the name this package's
// tests (aws_test.go too) use.
type syncBuffer = logbuf.Buffer

// TestLogNeverShowsSecrets logs one line per call, with no key, secret
// value, secret key, token or signature in it.
func TestLogNeverShowsSecrets(t *testing.T) {
	var out syncBuffer
	f := newFixture(t, Options{Zones: []string{"zone-a"}, Logger: slog.New(slog.NewJSONHandler(&out, nil))})
	var signatures []string
	capture := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		signatures = append(signatures, r.Header.Get("Authorization"))
		return http.DefaultTransport.RoundTrip(r)
	})
	teo := f.client(f.emu.RoleCredential(), "").WithHttpTransport(capture)
	ssm := f.client(f.emu.PermanentCredential(), testRegion).WithHttpTransport(capture)
	newKey := keyOfBytes(32)

	refreshed, err := send(context.Background(), teo, refresh, map[string]any{"ZoneId": "zone-a"})
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		client *common.Client
		action string
		params map[string]any
	}{
		{teo, "ModifyMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a", "SecretKey": newKey}},
		{teo, "ModifyMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a", "SecretKey": "short-key"}},
		{ssm, "CreateSecret", secretArgs("k", "SecretString", "the-secret-string")},
		{ssm, "GetSecretValue", secretArgs("k", "VersionId", "SSM_Current")},
		{ssm, "AssumeRole", map[string]any{"RoleArn": testRole, "RoleSessionName": "s1"}},
	}
	var assumed map[string]any
	for _, c := range calls {
		res, _ := send(context.Background(), c.client, c.action, c.params)
		if c.action == "AssumeRole" {
			assumed = res["Credentials"].(map[string]any)
		}
	}
	f.close() // waits for the handlers, which log after answering

	logged := out.String()
	if lines := strings.Count(logged, "\n"); lines != len(calls)+1 {
		t.Errorf("%d log lines for %d calls:\n%s", lines, len(calls)+1, logged)
	}
	secrets := []string{
		refreshed["SecretKey"].(string), newKey, "short-key", "the-secret-string",
		f.emu.RoleCredential().SecretKey, f.emu.RoleCredential().Token, f.emu.PermanentCredential().SecretKey,
		assumed["TmpSecretKey"].(string), assumed["Token"].(string),
	}
	for _, a := range signatures {
		secrets = append(secrets, a[strings.LastIndex(a, "=")+1:])
	}
	for _, s := range secrets {
		if strings.Contains(logged, s) {
			t.Errorf("log contains a secret (%s)", secret.Fingerprint(s))
		}
	}
	if !strings.Contains(logged, `"action":"RefreshMultiPathGatewaySecretKey"`) || !strings.Contains(logged, `"code":"InvalidParameterValue"`) {
		t.Errorf("log lacks action or code:\n%s", logged)
	}
}
