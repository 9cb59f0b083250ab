package keyrotator_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

// TestCAMPolicyGrantsExactlyTheActionsUsed drives every path that calls an
// API (first rotation creating the secret, a secret without the version, a
// steady rotation, sync, check) and compares the actions the emulator saw
// with the ones cam-policy.json grants: nothing missing, nothing extra.
func TestCAMPolicyGrantsExactlyTheActionsUsed(t *testing.T) {
	raw, err := os.ReadFile("cam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal(raw, &policy); err != nil {
		t.Fatalf("cam-policy.json: %v", err)
	}
	var granted []string
	for _, st := range policy.Statement {
		if st.Effect != "allow" || len(st.Resource) == 0 || slices.Contains(st.Resource, "*") {
			t.Errorf("statement %v: want allow on named resources", st.Action)
		}
		granted = append(granted, st.Action...)
	}

	zones := []string{"zone-cam1", "zone-cam2"}
	c := testkit.NewCloud(t, zones, testkit.WithWebhook())
	c.Emu.PutSecret(emulator.SecretState{Region: testkit.Region, Name: c.SecretName("zone-cam2"), Status: emulator.StatusEnabled,
		Versions: []emulator.Version{{ID: "other", Value: "x", Created: time.Now()}}})
	h := c.Handler()
	for _, a := range []rotate.Action{rotate.Rotate, rotate.Rotate, rotate.Sync, rotate.Check} {
		if rep, err := h.Run(context.Background(), rotate.Request{Action: a}); err != nil || !rep.OK {
			t.Fatalf("%s: %v %s", a, err, reportJSON(t, rep))
		}
	}
	candidates := map[string][]string{
		"teo": {"RefreshMultiPathGatewaySecretKey", "DescribeMultiPathGatewaySecretKey", "CreateMultiPathGatewaySecretKey", "ModifyMultiPathGatewaySecretKey"},
		"ssm": {"CreateSecret", "PutSecretValue", "UpdateSecret", "GetSecretValue", "DescribeSecret", "ListSecretVersionIds",
			"UpdateDescription", "DeleteSecretVersion", "DisableSecret", "EnableSecret", "DeleteSecret", "RestoreSecret"},
		"sts": {"AssumeRole"},
	}
	var used []string
	for service, actions := range candidates {
		for _, a := range actions {
			if c.Emu.Calls(a) > 0 {
				used = append(used, service+":"+a)
			}
		}
	}
	slices.Sort(used)
	slices.Sort(granted)
	if !slices.Equal(used, granted) {
		t.Errorf("the function calls\n  %s\nthe policy grants\n  %s", strings.Join(used, " "), strings.Join(granted, " "))
	}
}
