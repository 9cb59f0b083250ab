package keyrotator_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/credentials"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

const (
	roleARN      = "qcs::cam::uin/100000000001:roleName/mpgw-keyrotator"
	otherRoleARN = "qcs::cam::uin/100000000001:roleName/another-rotator"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// roleCloud is a cloud whose function assumes ROLE_ARN with the execution
// role's credentials, and a Handler whose role cache runs on a fake clock.
func roleCloud(t *testing.T, zones []string, env map[string]string) (*testkit.Cloud, *fakeClock, func(context.Context) (rotate.Report, error)) {
	t.Helper()
	c := testkit.NewCloud(t, zones, testkit.WithEnv(env), testkit.WithEmulator(emulator.Options{Roles: []string{roleARN, otherRoleARN}}))
	clk := &fakeClock{now: time.Now()}
	h := handlerkit.New(c)
	h.Roles = &credentials.RoleCache{Now: clk.Now}
	// A function name STS would refuse as a session name unless cleaned.
	ctx := scf.NewContext(context.Background(), scf.Invocation{FunctionName: "mpgw key/rotator", Namespace: "default", Region: testkit.Region})
	return c, clk, func(context.Context) (rotate.Report, error) {
		return h.Run(ctx, rotate.Request{Action: rotate.Rotate})
	}
}

func TestAssumedRoleLastsAcrossWarmInvocations(t *testing.T) {
	t.Parallel()
	zones := []string{"zone-role1", "zone-role2"}
	c, clk, run := roleCloud(t, zones, map[string]string{"ROLE_ARN": roleARN})
	base := c.Emu.RoleCredential()
	var outputs []string
	for i := range 5 {
		rep, err := run(context.Background())
		if err != nil || !rep.OK {
			t.Fatalf("invocation %d: %v %s", i, err, reportJSON(t, rep))
		}
		outputs = append(outputs, reportJSON(t, rep))
		clk.advance(time.Minute)
	}
	if got := c.Emu.Calls("AssumeRole"); got != 1 {
		t.Errorf("5 warm invocations made %d AssumeRole calls, want 1", got)
	}
	signers := c.Emu.Signers()
	if signers[base.SecretID] != 1 {
		t.Errorf("the base credentials signed %d requests, want 1 (AssumeRole only)", signers[base.SecretID])
	}
	assumed := otherSigners(signers, base.SecretID)
	if len(assumed) != 1 {
		t.Fatalf("TEO and SSM were called with %d credentials, want the one assumed", len(assumed))
	}
	if n := signers[assumed[0]]; n < 5*len(zones)*2 {
		t.Errorf("the assumed credentials signed only %d requests", n)
	}

	// Within 5 minutes of their expiry (STS issues them for an hour), the
	// credentials are replaced before the next invocation uses them.
	clk.advance(credentials.AssumeRoleSeconds*time.Second - credentials.RefreshBefore - 5*time.Minute + time.Second)
	if rep, err := run(context.Background()); err != nil || !rep.OK {
		t.Fatalf("after expiry: %v %s", err, reportJSON(t, rep))
	} else {
		outputs = append(outputs, reportJSON(t, rep))
	}
	if got := c.Emu.Calls("AssumeRole"); got != 2 {
		t.Errorf("AssumeRole calls = %d after the credentials neared expiry, want 2", got)
	}
	signers = c.Emu.Signers()
	assumed = otherSigners(signers, base.SecretID)
	if len(assumed) != 2 {
		t.Errorf("%d assumed credentials used, want 2", len(assumed))
	}

	// Nothing secret in the logs or reports: the base and assumed keys and tokens.
	secrets := []string{base.SecretKey, base.Token}
	for _, id := range assumed {
		cred, ok := c.Emu.Credential(id)
		if !ok {
			t.Fatalf("no credential %s in the emulator", id)
		}
		secrets = append(secrets, cred.SecretKey, cred.Token)
	}
	secrets = append(secrets, c.Keys(zones)...)
	testkit.AssertNoLeak(t, secrets, append(outputs, c.Logs.String())...)
}

func otherSigners(signers map[string]int, except string) []string {
	var out []string
	for id := range signers {
		if id != except {
			out = append(out, id)
		}
	}
	return out
}

// Another role, or other base credentials (SCF renews the execution role's),
// gets its own credentials.
func TestAssumedRoleCacheKeys(t *testing.T) {
	t.Parallel()
	c, _, run := roleCloud(t, []string{"zone-role3"}, map[string]string{"ROLE_ARN": roleARN})
	steps := []struct {
		name      string
		change    func()
		wantCalls int
	}{
		{"first invocation", func() {}, 1},
		{"same role, same base", func() {}, 1},
		{"another role", func() { _ = c.Setenv("ROLE_ARN", otherRoleARN) }, 2},
		{"back to the first role", func() { _ = c.Setenv("ROLE_ARN", roleARN) }, 2},
		{"renewed base credentials", func() {
			renewed := emulator.Credential{SecretID: "AKIDrenewed0001", SecretKey: "renewed-secret-key-0001", Token: "renewed-token-0001"}
			c.Emu.AddCredential(renewed)
			_ = c.Setenv("TENCENTCLOUD_SECRETID", renewed.SecretID)
			_ = c.Setenv("TENCENTCLOUD_SECRETKEY", renewed.SecretKey)
			_ = c.Setenv("TENCENTCLOUD_SESSIONTOKEN", renewed.Token)
		}, 3},
	}
	for _, st := range steps {
		st.change()
		if rep, err := run(context.Background()); err != nil || !rep.OK {
			t.Fatalf("%s: %v %s", st.name, err, reportJSON(t, rep))
		}
		if got := c.Emu.Calls("AssumeRole"); got != st.wantCalls {
			t.Errorf("%s: AssumeRole calls = %d, want %d", st.name, got, st.wantCalls)
		}
	}
}

func TestAssumeRoleFailureNamesROLE_ARN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, role string
		fault      *emulator.Fault
		want       []string
		wantCalls  int
	}{
		{name: "role does not exist", role: "qcs::cam::uin/100000000001:roleName/missing",
			want: []string{"ROLE_ARN", "ResourceNotFound.RoleNotFound", "does not exist"}, wantCalls: 1},
		{name: "trust policy refuses", role: roleARN, fault: &emulator.Fault{Action: "AssumeRole", Code: "AuthFailure.UnauthorizedOperation"},
			want: []string{"ROLE_ARN", roleARN, "AuthFailure.UnauthorizedOperation", "trust policy", "sts:AssumeRole"}, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, run := roleCloud(t, []string{"zone-role4"}, map[string]string{"ROLE_ARN": tc.role})
			if tc.fault != nil {
				c.Emu.Inject(*tc.fault)
			}
			_, err := run(context.Background())
			if err == nil {
				t.Fatal("the invocation succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			if got := c.Emu.Calls("AssumeRole"); got != tc.wantCalls {
				t.Errorf("AssumeRole calls = %d, want %d (a final error is not retried)", got, tc.wantCalls)
			}
			if c.Emu.Calls("RefreshMultiPathGatewaySecretKey") != 0 {
				t.Error("refreshed without the role")
			}
			base := c.Emu.RoleCredential()
			raw, _ := json.Marshal(err.Error())
			testkit.AssertNoLeak(t, []string{base.SecretKey, base.Token}, string(raw), c.Logs.String())
		})
	}
}
