package credentials

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

const (
	testRole  = "qcs::cam::uin/100000000001:roleName/mpgw-keyrotator"
	otherRole = "qcs::cam::uin/100000000001:roleName/someone-else"
	roleZone  = "zone-role01"
)

func stsCloud(t *testing.T) (*emulator.Emulator, endpoint.Endpoint) {
	t.Helper()
	return testkit.StartEmulator(t, emulator.Options{Zones: []string{roleZone}, Roles: []string{testRole}})
}

func permanent(emu *emulator.Emulator) Credential {
	p := emu.PermanentCredential()
	return Credential{common.NewCredential(p.SecretID, p.SecretKey), "TENCENTCLOUD_SECRET_ID/TENCENTCLOUD_SECRET_KEY"}
}

// describe calls TEO through tcapi with cred and returns the zone's key.
func describe(t *testing.T, ep endpoint.Endpoint, cred common.CredentialIface) (string, error) {
	t.Helper()
	c := &tcapi.Client{Service: "teo", Version: "2022-09-01", Endpoint: ep, Credential: cred,
		Retry: retry.Policy{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond}}
	var out struct{ SecretKey string }
	err := c.Call(context.Background(), "DescribeMultiPathGatewaySecretKey", map[string]string{"ZoneId": roleZone}, &out)
	return out.SecretKey, err
}

func TestAssumeRole(t *testing.T) {
	emu, ep := stsCloud(t)
	base := permanent(emu)
	for _, region := range []string{"ap-guangzhou", "" /* defaults: STS needs one */} {
		client := &tcapi.Client{Endpoint: ep, Region: region}
		cred, _, err := assumeRole(context.Background(), client, base, testRole, "mpgw-keyrotator-test", time.Now())
		if err != nil {
			t.Fatalf("AssumeRole (region %q): %v", region, err)
		}
		if client.Service != "" || client.Region != region || client.Credential != nil {
			t.Error("AssumeRole changed the client it was given")
		}
		if cred.GetToken() == "" || cred.GetSecretId() == "" || cred.GetSecretKey() == "" {
			t.Fatal("incomplete temporary credentials")
		}
		if cred.GetSecretId() == base.GetSecretId() {
			t.Error("the base credentials came back")
		}
		if !strings.Contains(cred.Source, "ROLE_ARN") || !strings.Contains(cred.Source, base.Source) {
			t.Errorf("Source %q", cred.Source)
		}
		if strings.Contains(cred.Source, cred.GetSecretKey()) || strings.Contains(cred.Source, cred.GetToken()) {
			t.Error("Source shows a credential value")
		}
		key, err := describe(t, ep, cred)
		if err != nil {
			t.Fatalf("TEO with the role's credentials: %v", err)
		}
		if want, _ := emu.Key(roleZone); key != want {
			t.Error("Describe with the role's credentials did not answer the live key")
		}
	}
	if got := emu.Performed("AssumeRole"); got != 2 {
		t.Errorf("AssumeRole performed %d times, want 2", got)
	}
	// Without the token the temporary key pair is refused.
	cred, _, err := assumeRole(context.Background(), &tcapi.Client{Endpoint: ep, Region: ""}, base, testRole, "mpgw-keyrotator-test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := describe(t, ep, common.NewCredential(cred.GetSecretId(), cred.GetSecretKey())); err == nil {
		t.Error("the temporary key worked without its token")
	}
}

func TestAssumeRoleErrors(t *testing.T) {
	tests := []struct {
		name, role, session string
		fault               *emulator.Fault
		base                func(*emulator.Emulator) Credential
		wantCode            string
		wantCalls           int
		wantRemedy          string
	}{
		{name: "role not in the account", role: otherRole, session: "mpgw-keyrotator-test",
			wantCode: "ResourceNotFound.RoleNotFound", wantCalls: 1, wantRemedy: "does not exist"},
		{name: "malformed session name", role: testRole, session: "x",
			wantCode: "InvalidParameter.ParamError", wantCalls: 1},
		{name: "trust policy refuses", role: testRole, session: "mpgw-keyrotator-test",
			fault:    &emulator.Fault{Action: "AssumeRole", Code: "UnauthorizedOperation"},
			wantCode: "UnauthorizedOperation", wantCalls: 1, wantRemedy: "trust policy"},
		{name: "CAM refuses the caller", role: testRole, session: "mpgw-keyrotator-test",
			fault:    &emulator.Fault{Action: "AssumeRole", Code: "AuthFailure.UnauthorizedOperation"},
			wantCode: "AuthFailure.UnauthorizedOperation", wantCalls: 1, wantRemedy: "sts:AssumeRole"},
		{name: "wrong base key", role: testRole, session: "mpgw-keyrotator-test",
			base: func(e *emulator.Emulator) Credential {
				return Credential{common.NewCredential(e.PermanentCredential().SecretID, "wrong"), "test"}
			},
			wantCode: "AuthFailure.SignatureFailure", wantCalls: 0 /* refused before the action is counted */},
		{name: "STS unavailable", role: testRole, session: "mpgw-keyrotator-test",
			fault: &emulator.Fault{Action: "AssumeRole", Code: "InternalError.SystemError"}, wantCode: "InternalError.SystemError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu, ep := stsCloud(t)
			base := permanent(emu)
			if tc.base != nil {
				base = tc.base(emu)
			}
			if tc.fault != nil {
				emu.Inject(*tc.fault)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cred, _, err := assumeRole(ctx, &tcapi.Client{Endpoint: ep, Region: "ap-guangzhou"}, base, tc.role, tc.session, time.Now())
			if err == nil {
				t.Fatalf("AssumeRole succeeded: %s", cred.Source)
			}
			msg := err.Error()
			for _, want := range []string{"ROLE_ARN", tc.role, tc.wantCode, tc.wantRemedy} {
				if !strings.Contains(msg, want) {
					t.Errorf("%q lacks %q", msg, want)
				}
			}
			if tcapi.Code(err) != tc.wantCode {
				t.Errorf("code %q, want %q", tcapi.Code(err), tc.wantCode)
			}
			if cred.CredentialIface != nil {
				t.Error("credentials returned with an error")
			}
			if (tc.fault == nil || tc.wantCalls != 0) && emu.Calls("AssumeRole") != tc.wantCalls {
				t.Errorf("AssumeRole called %d times, want %d (final errors are not retried)", emu.Calls("AssumeRole"), tc.wantCalls)
			}
			p := emu.PermanentCredential()
			if strings.Contains(msg, p.SecretKey) || strings.Contains(msg, base.GetSecretKey()) {
				t.Error("the error shows a key")
			}
		})
	}
}

func TestAssumeRoleRetriesTransientFailures(t *testing.T) {
	emu, ep := stsCloud(t)
	emu.Inject(emulator.Fault{Action: "AssumeRole", Code: "RequestLimitExceeded", Times: 1})
	cred, _, err := assumeRole(context.Background(), &tcapi.Client{Endpoint: ep, Region: ""}, permanent(emu), testRole, "mpgw-keyrotator-test", time.Now())
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	if emu.Calls("AssumeRole") != 2 || emu.Performed("AssumeRole") != 1 {
		t.Errorf("calls %d performed %d", emu.Calls("AssumeRole"), emu.Performed("AssumeRole"))
	}
	if _, err := describe(t, ep, cred); err != nil {
		t.Errorf("Describe: %v", err)
	}
}
