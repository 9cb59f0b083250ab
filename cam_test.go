package keyrotator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

// TestCAMPolicyGrantsExactlyTheActionsUsed drives every path that calls an
// API (first rotation creating the secret, a secret without the version, a
// steady rotation, sync, check, in both rotation modes) and compares the actions the emulator saw
// with the ones cam-policy.json grants: nothing missing, nothing extra.
func TestCAMPolicyGrantsExactlyTheActionsUsed(t *testing.T) {
	t.Parallel()
	granted := policyActions(t, "cam-policy.json")
	if fallback := policyActions(t, "cam-policy-fallback.json"); !slices.Equal(fallback, granted) {
		t.Errorf("cam-policy-fallback.json grants\n  %s\ncam-policy.json grants\n  %s", strings.Join(fallback, " "), strings.Join(granted, " "))
	}

	zones := []string{"zone-cam1", "zone-cam2"}
	c := testkit.NewCloud(t, zones, testkit.WithWebhook())
	c.Emu.PutSecret(emulator.SecretState{Region: testkit.Region, Name: c.SecretName("zone-cam2"), Status: emulator.StatusEnabled,
		Versions: []emulator.Version{{ID: "other", Value: "x", Created: time.Now()}}})
	h := handlerkit.New(c)
	for _, mode := range []string{"refresh", "staged"} {
		_ = c.Setenv("ROTATION_MODE", mode)
		for _, a := range []rotate.Action{rotate.Rotate, rotate.Rotate, rotate.Sync, rotate.Check} {
			if rep, err := h.Run(context.Background(), rotate.Request{Action: a}); err != nil || !rep.OK {
				t.Fatalf("%s mode, %s: %v %s", mode, a, err, reportJSON(t, rep))
			}
		}
	}
	// Every action the emulator served, with its service, whatever it is:
	// a new call can never be missed.
	used := c.Actions()
	if !slices.Equal(used, granted) {
		t.Errorf("the function calls\n  %s\nthe policy grants\n  %s", strings.Join(used, " "), strings.Join(granted, " "))
	}
}

type camPolicy struct {
	Version   string
	Statement []struct {
		Effect   string
		Action   []string
		Resource []string
	}
}

func readPolicy(t *testing.T, file string) camPolicy {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var policy camPolicy
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&policy); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if policy.Version != "2.0" {
		t.Errorf("%s: version %q, want 2.0", file, policy.Version)
	}
	return policy
}

// policyActions are the actions file grants, sorted.
func policyActions(t *testing.T, file string) []string {
	t.Helper()
	var granted []string
	for _, st := range readPolicy(t, file).Statement {
		if st.Effect != "allow" || len(st.Resource) == 0 {
			t.Errorf("%s: statement %v: want allow on resources", file, st.Action)
		}
		granted = append(granted, st.Action...)
	}
	slices.Sort(granted)
	return granted
}

// TestCAMPolicyResourceForms checks every resource of both policy files
// against the CAM resource formats (reference ssm-secrets-manager.md §6,
// teo-multipath-gateway-key.md §5): TEO zones as qcs::teo::uin/<uin>:zone/<id>
// (empty region) in cam-policy.json and "*" in the fallback; SSM secrets as
// qcs::ssm:<region>:uin/<uin>:secret/creatorUin/*/<name> (the creator of a
// secret the role's session creates is not documented); CreateSecret on
// qcs::ssm::uin/<uin>:secret/*. One owner UIN throughout.
func TestCAMPolicyResourceForms(t *testing.T) {
	t.Parallel()
	var (
		teoZone   = regexp.MustCompile(`^qcs::teo::uin/([0-9]+):zone/zone-[a-z0-9]+$`)
		ssmSecret = regexp.MustCompile(`^qcs::ssm:[a-z]+-[a-z0-9-]+:uin/([0-9]+):secret/creatorUin/\*/[A-Za-z0-9_-]+$`)
		ssmCreate = regexp.MustCompile(`^qcs::ssm::uin/([0-9]+):secret/\*$`)
	)
	tests := []struct {
		file    string
		teoStar bool // TEO actions on "*"
	}{
		{"cam-policy.json", false},
		{"cam-policy-fallback.json", true},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			uins := map[string]bool{}
			for _, st := range readPolicy(t, tc.file).Statement {
				service, _, _ := strings.Cut(st.Action[0], ":")
				for _, a := range st.Action {
					if !strings.HasPrefix(a, service+":") {
						t.Errorf("statement mixes services: %v", st.Action)
					}
				}
				form := map[string]*regexp.Regexp{"teo": teoZone, "ssm": ssmSecret}[service]
				if service == "ssm" && slices.Contains(st.Action, "ssm:CreateSecret") {
					if len(st.Action) != 1 {
						t.Errorf("CreateSecret shares its statement with %v: it needs the creation resource only", st.Action)
					}
					form = ssmCreate
				}
				if form == nil {
					t.Errorf("unexpected service %q", service)
					continue
				}
				for _, r := range st.Resource {
					if service == "teo" && tc.teoStar {
						if r != "*" || len(st.Resource) != 1 {
							t.Errorf("fallback TEO resource %q, want only \"*\"", r)
						}
						continue
					}
					m := form.FindStringSubmatch(r)
					if m == nil {
						t.Errorf("%v: resource %q is not of the form %s", st.Action, r, form)
						continue
					}
					uins[m[1]] = true
				}
			}
			if len(uins) != 1 {
				t.Errorf("owner UINs %v, want one", slices.Collect(maps.Keys(uins)))
			}
		})
	}
}
