package emulator

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

type ssmStep struct {
	action string
	params map[string]any
	region string // default testRegion
	want   string
	check  func(t *testing.T, res map[string]any)
}

// callIn sends action to region with the permanent credential.
func (f *fixture) callIn(region, action string, params map[string]any) (map[string]any, error) {
	return send(context.Background(), f.client(f.emu.PermanentCredential(), region), action, params)
}

func runSSMSteps(t *testing.T, f *fixture, steps []ssmStep) {
	t.Helper()
	for i, s := range steps {
		region := s.region
		if region == "" {
			region = testRegion
		}
		res, err := f.callIn(region, s.action, s.params)
		if got := errCode(err); got != s.want {
			t.Fatalf("step %d %s: code %q, want %q (%v)", i+1, s.action, got, s.want, err)
		}
		for _, p := range []string{"SecretString", "SecretBinary"} {
			if v, _ := s.params[p].(string); err != nil && len(v) > 3 && strings.Contains(errMessage(err), v) {
				t.Fatalf("step %d %s: error message contains the secret value", i+1, s.action)
			}
		}
		if err == nil && s.check != nil {
			s.check(t, res)
		}
	}
}

// field checks one output field.
func field(name string, want any) func(*testing.T, map[string]any) {
	return func(t *testing.T, res map[string]any) {
		t.Helper()
		if got := res[name]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
}

func versionIDs(want ...any) func(*testing.T, map[string]any) {
	return func(t *testing.T, res map[string]any) {
		t.Helper()
		var got []any
		for _, v := range res["Versions"].([]any) {
			got = append(got, v.(map[string]any)["VersionId"])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Versions = %v, want %v", got, want)
		}
	}
}

func secretArgs(n string, more ...any) map[string]any {
	p := map[string]any{"SecretName": n}
	for i := 0; i+1 < len(more); i += 2 {
		p[more[i].(string)] = more[i+1]
	}
	return p
}

func TestSSMScenarios(t *testing.T) {
	seeded := SecretState{Region: testRegion, Name: "seeded", Versions: []Version{{ID: "v1", Value: "seeded-value"}}}
	disabled := SecretState{Region: testRegion, Name: "disabled", Status: StatusDisabled, Versions: []Version{{ID: "v1", Value: "disabled-value"}}}
	bin := base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 250, 251, 252})

	scenarios := []struct {
		name  string
		steps []ssmStep
	}{
		{name: "create, put, update, get, list, describe", steps: []ssmStep{
			{action: "CreateSecret", params: secretArgs("mpgw-key", "SecretString", "value-1", "Description", "gateway key",
				"Tags", []map[string]string{{"TagKey": "team", "TagValue": "edge"}}),
				check: func(t *testing.T, res map[string]any) {
					field("VersionId", "SSM_Current")(t, res)
					field("TagCode", 0.0)(t, res)
					field("TagMsg", "")(t, res)
				}},
			{action: "GetSecretValue", params: secretArgs("mpgw-key", "VersionId", "SSM_Current"), check: func(t *testing.T, res map[string]any) {
				field("SecretString", "value-1")(t, res)
				field("SecretBinary", "")(t, res)
			}},
			{action: "PutSecretValue", params: secretArgs("mpgw-key", "VersionId", "v2", "SecretString", "value-2"), check: field("VersionId", "v2")},
			{action: "UpdateSecret", params: secretArgs("mpgw-key", "VersionId", "v2", "SecretString", "value-2b")},
			{action: "GetSecretValue", params: secretArgs("mpgw-key", "VersionId", "v2"), check: field("SecretString", "value-2b")},
			{action: "UpdateSecret", params: secretArgs("mpgw-key", "VersionId", "v3", "SecretString", "value-3"), want: "ResourceNotFound"},
			{action: "GetSecretValue", params: secretArgs("mpgw-key", "VersionId", "v3"), want: "ResourceNotFound"},
			{action: "ListSecretVersionIds", params: secretArgs("mpgw-key"), check: versionIDs("SSM_Current", "v2")},
			{action: "DescribeSecret", params: secretArgs("mpgw-key"), check: func(t *testing.T, res map[string]any) {
				field("Status", "Enabled")(t, res)
				field("Description", "gateway key")(t, res)
				field("SecretType", 0.0)(t, res)
				field("KmsKeyId", "")(t, res)
				field("RotationStatus", false)(t, res)
				field("DeleteTime", 0.0)(t, res)
			}},
			{action: "UpdateDescription", params: secretArgs("mpgw-key", "Description", "rotated daily")},
			{action: "DescribeSecret", params: secretArgs("mpgw-key"), check: field("Description", "rotated daily")},
			{action: "DeleteSecretVersion", params: secretArgs("mpgw-key", "VersionId", "SSM_Current")},
			{action: "ListSecretVersionIds", params: secretArgs("mpgw-key"), check: versionIDs("v2")},
			{action: "DeleteSecretVersion", params: secretArgs("mpgw-key", "VersionId", "SSM_Current"), want: "ResourceNotFound"},
		}},
		{name: "binary value", steps: []ssmStep{
			{action: "CreateSecret", params: secretArgs("bin", "VersionId", "b1", "SecretBinary", bin)},
			{action: "GetSecretValue", params: secretArgs("bin", "VersionId", "b1"), check: func(t *testing.T, res map[string]any) {
				field("SecretBinary", bin)(t, res)
				field("SecretString", "")(t, res)
			}},
		}},
		{name: "ten versions at most", steps: func() []ssmStep {
			steps := []ssmStep{{action: "CreateSecret", params: secretArgs("capped", "VersionId", "v1", "SecretString", "x")}}
			for i := 2; i <= 10; i++ {
				steps = append(steps, ssmStep{action: "PutSecretValue", params: secretArgs("capped", "VersionId", fmt.Sprintf("v%d", i), "SecretString", "x")})
			}
			return append(steps,
				ssmStep{action: "PutSecretValue", params: secretArgs("capped", "VersionId", "v11", "SecretString", "x"), want: "LimitExceeded"},
				ssmStep{action: "DeleteSecretVersion", params: secretArgs("capped", "VersionId", "v1")},
				ssmStep{action: "PutSecretValue", params: secretArgs("capped", "VersionId", "v11", "SecretString", "x")},
				ssmStep{action: "ListSecretVersionIds", params: secretArgs("capped"), check: versionIDs("v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11")},
			)
		}()},
		{name: "names and versions are unique", steps: []ssmStep{
			{action: "CreateSecret", params: secretArgs("dup", "SecretString", "x")},
			{action: "CreateSecret", params: secretArgs("dup", "SecretString", "y"), want: "ResourceInUse.SecretExists"},
			{action: "CreateSecret", params: secretArgs("dup", "SecretString", "y"), region: "ap-shanghai"},
			{action: "PutSecretValue", params: secretArgs("dup", "VersionId", "SSM_Current", "SecretString", "y"), want: "ResourceInUse.VersionIdExists"},
			{action: "GetSecretValue", params: secretArgs("dup", "VersionId", "SSM_Current"), check: field("SecretString", "x")},
		}},
		{name: "status rules", steps: []ssmStep{
			{action: "DeleteSecret", params: secretArgs("seeded"), want: "OperationDenied"},
			{action: "RestoreSecret", params: secretArgs("seeded"), want: "OperationDenied"},
			{action: "DisableSecret", params: secretArgs("seeded")},
			{action: "GetSecretValue", params: secretArgs("seeded", "VersionId", "v1"), want: "ResourceUnavailable.ResourceDisabled"},
			{action: "PutSecretValue", params: secretArgs("seeded", "VersionId", "v2", "SecretString", "while-disabled")},
			{action: "UpdateSecret", params: secretArgs("seeded", "VersionId", "v2", "SecretString", "still-disabled")},
			{action: "UpdateDescription", params: secretArgs("seeded", "Description", "disabled")},
			{action: "DeleteSecret", params: secretArgs("seeded", "RecoveryWindowInDays", 7)},
			{action: "DescribeSecret", params: secretArgs("seeded"), check: field("Status", "PendingDelete")},
			{action: "GetSecretValue", params: secretArgs("seeded", "VersionId", "v1"), want: "ResourceUnavailable.ResourcePendingDeleted"},
			{action: "PutSecretValue", params: secretArgs("seeded", "VersionId", "v3", "SecretString", "while-pending"), want: "OperationDenied"},
			{action: "UpdateSecret", params: secretArgs("seeded", "VersionId", "v1", "SecretString", "while-pending"), want: "OperationDenied"},
			{action: "UpdateDescription", params: secretArgs("seeded", "Description", "pending"), want: "OperationDenied"},
			{action: "EnableSecret", params: secretArgs("seeded"), want: "OperationDenied"},
			{action: "DisableSecret", params: secretArgs("seeded"), want: "OperationDenied"},
			{action: "DeleteSecret", params: secretArgs("seeded"), want: "OperationDenied"},
			{action: "DeleteSecretVersion", params: secretArgs("seeded", "VersionId", "v2")},
			{action: "RestoreSecret", params: secretArgs("seeded")},
			{action: "DescribeSecret", params: secretArgs("seeded"), check: func(t *testing.T, res map[string]any) {
				field("Status", "Disabled")(t, res)
				field("DeleteTime", 0.0)(t, res)
			}},
			{action: "EnableSecret", params: secretArgs("seeded")},
			{action: "GetSecretValue", params: secretArgs("seeded", "VersionId", "v1"), check: field("SecretString", "seeded-value")},
		}},
		{name: "immediate deletion", steps: []ssmStep{
			{action: "DeleteSecret", params: secretArgs("disabled", "RecoveryWindowInDays", 0)},
			{action: "DescribeSecret", params: secretArgs("disabled"), want: "ResourceNotFound"},
			{action: "GetSecretValue", params: secretArgs("disabled", "VersionId", "v1"), want: "ResourceNotFound.SecretNotExist"},
			{action: "CreateSecret", params: secretArgs("disabled", "SecretString", "again")},
		}},
		{name: "unknown secret", steps: []ssmStep{
			{action: "GetSecretValue", params: secretArgs("nope", "VersionId", "v1"), want: "ResourceNotFound.SecretNotExist"},
			{action: "DescribeSecret", params: secretArgs("nope"), want: "ResourceNotFound"},
			{action: "PutSecretValue", params: secretArgs("nope", "VersionId", "v1", "SecretString", "x"), want: "ResourceNotFound"},
			{action: "UpdateSecret", params: secretArgs("nope", "VersionId", "v1", "SecretString", "x"), want: "ResourceNotFound"},
			{action: "ListSecretVersionIds", params: secretArgs("nope"), want: "ResourceNotFound"},
			{action: "GetSecretValue", params: secretArgs("seeded", "VersionId", "v1"), region: "ap-shanghai", want: "ResourceNotFound.SecretNotExist"},
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.emu.PutSecret(seeded)
			f.emu.PutSecret(disabled)
			runSSMSteps(t, f, sc.steps)
		})
	}
}

func TestSSMValidation(t *testing.T) {
	tests := []struct {
		name   string
		action string
		params map[string]any
		want   string
	}{
		{name: "name with space", action: "CreateSecret", params: secretArgs("bad name", "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "name with dot", action: "CreateSecret", params: secretArgs("bad.name", "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "name starting with dash", action: "CreateSecret", params: secretArgs("-lead", "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "name starting with underscore", action: "CreateSecret", params: secretArgs("_lead", "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "name of 129 bytes", action: "CreateSecret", params: secretArgs(strings.Repeat("n", 129), "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "name of 128 bytes", action: "CreateSecret", params: secretArgs(strings.Repeat("n", 128), "SecretString", "x")},
		{name: "name with dash and underscore", action: "CreateSecret", params: secretArgs("a-b_C9", "SecretString", "x")},
		{name: "non-ASCII name", action: "CreateSecret", params: secretArgs("schlüssel", "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "missing name", action: "CreateSecret", params: map[string]any{"SecretString": "x"}, want: "MissingParameter"},
		{name: "version with space", action: "CreateSecret", params: secretArgs("n", "VersionId", "v 1", "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "version starting with dot", action: "CreateSecret", params: secretArgs("n", "VersionId", ".v1", "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "version of 65 bytes", action: "CreateSecret", params: secretArgs("n", "VersionId", strings.Repeat("v", 65), "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "version with dot, dash, underscore", action: "CreateSecret", params: secretArgs("n", "VersionId", "v1.2-3_x", "SecretString", "x")},
		{name: "both values", action: "CreateSecret", params: secretArgs("n", "SecretString", "x", "SecretBinary", "eA=="), want: "InvalidParameterValue"},
		{name: "no value", action: "CreateSecret", params: secretArgs("n"), want: "InvalidParameterValue"},
		{name: "empty string value", action: "CreateSecret", params: secretArgs("n", "SecretString", ""), want: "InvalidParameterValue"},
		{name: "binary not base64", action: "CreateSecret", params: secretArgs("n", "SecretBinary", "not base64!"), want: "InvalidParameterValue"},
		{name: "value of 32 KiB", action: "CreateSecret", params: secretArgs("n", "SecretString", strings.Repeat("v", 32<<10))},
		{name: "value over 32 KiB", action: "CreateSecret", params: secretArgs("n", "SecretString", strings.Repeat("v", 32<<10+1)), want: "InvalidParameterValue"},
		{name: "binary over 32 KiB", action: "CreateSecret", params: secretArgs("n", "SecretBinary", base64.StdEncoding.EncodeToString(make([]byte, 32<<10+1))), want: "InvalidParameterValue"},
		{name: "description over 2048 bytes", action: "CreateSecret", params: secretArgs("n", "SecretString", "x", "Description", strings.Repeat("d", 2049)), want: "InvalidParameterValue"},
		{name: "duplicate tag keys", action: "CreateSecret", params: secretArgs("n", "SecretString", "x", "Tags", []map[string]string{{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}}), want: "InvalidParameterValue.TagKeysDuplicated"},
		{name: "tags of the wrong type", action: "CreateSecret", params: secretArgs("n", "SecretString", "x", "Tags", "team=edge"), want: "InvalidParameter"},
		{name: "product secret type", action: "CreateSecret", params: secretArgs("n", "SecretString", "x", "SecretType", 1), want: "InvalidParameterValue"},
		{name: "put without version", action: "PutSecretValue", params: secretArgs("seeded", "SecretString", "x"), want: "MissingParameter"},
		{name: "put with bad version", action: "PutSecretValue", params: secretArgs("seeded", "VersionId", "v/2", "SecretString", "x"), want: "InvalidParameterValue"},
		{name: "get without version", action: "GetSecretValue", params: secretArgs("seeded"), want: "MissingParameter"},
		{name: "update description without description", action: "UpdateDescription", params: secretArgs("seeded"), want: "MissingParameter"},
		{name: "update description to empty", action: "UpdateDescription", params: secretArgs("seeded", "Description", "")},
		{name: "recovery window over 30 days", action: "DeleteSecret", params: secretArgs("seeded", "RecoveryWindowInDays", 31), want: "InvalidParameterValue"},
		{name: "negative recovery window", action: "DeleteSecret", params: secretArgs("seeded", "RecoveryWindowInDays", -1), want: "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.emu.PutSecret(SecretState{Region: testRegion, Name: "seeded", Versions: []Version{{ID: "v1", Value: "x"}}})
			runSSMSteps(t, f, []ssmStep{{action: tt.action, params: tt.params, want: tt.want}})
		})
	}
}

func TestSSMMissingRegion(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := f.callIn("", "CreateSecret", secretArgs("n", "SecretString", "x"))
	wantCode(t, err, "MissingParameter")
	if !strings.Contains(errMessage(err), "Region") {
		t.Errorf("message %q does not name Region", errMessage(err))
	}
	if len(f.emu.allSecrets()) != 0 {
		t.Error("a secret was created without a region")
	}
}

func TestSSMSecretsPerRegionLimit(t *testing.T) {
	f := newFixture(t, Options{})
	for i := range 1000 {
		f.emu.PutSecret(SecretState{Region: testRegion, Name: fmt.Sprintf("s%d", i), Versions: []Version{{ID: "v1", Value: "x"}}})
	}
	runSSMSteps(t, f, []ssmStep{
		{action: "CreateSecret", params: secretArgs("one-more", "SecretString", "x"), want: "LimitExceeded"},
		{action: "CreateSecret", params: secretArgs("one-more", "SecretString", "x"), region: "ap-shanghai"},
	})
}

// TestSSMState checks what the inspection methods report after API calls,
// and that a scheduled deletion happens on the emulator clock.
func TestSSMState(t *testing.T) {
	f := newFixture(t, Options{})
	created := f.clock.Now()
	runSSMSteps(t, f, []ssmStep{
		{action: "CreateSecret", params: secretArgs("k", "VersionId", "v1", "SecretString", "one", "Tags", []map[string]string{{"TagKey": "team", "TagValue": "edge"}})},
		{action: "DisableSecret", params: secretArgs("k")},
		{action: "DeleteSecret", params: secretArgs("k", "RecoveryWindowInDays", 1), check: field("DeleteTime", float64(created.Add(24*time.Hour).Unix()))},
	})
	s, ok := f.emu.Secret(testRegion, "k")
	if !ok {
		t.Fatal("secret missing")
	}
	want := SecretState{
		Region: testRegion, Name: "k", Status: StatusPendingDelete,
		Tags:     map[string]string{"team": "edge"},
		Versions: []Version{{ID: "v1", Value: "one", Created: created}},
		Created:  created, DeleteTime: created.Add(24 * time.Hour),
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Secret = %+v\nwant     %+v", s, want)
	}
	s.Tags["team"] = "changed"
	s.Versions[0].Value = "changed"
	if again, _ := f.emu.Secret(testRegion, "k"); again.Tags["team"] != "edge" || again.Versions[0].Value != "one" {
		t.Error("Secret returned shared state, not a copy")
	}

	f.clock.Advance(24*time.Hour - time.Second)
	if _, ok := f.emu.Secret(testRegion, "k"); !ok {
		t.Fatal("secret deleted before its DeleteTime")
	}
	f.clock.Advance(time.Second)
	if _, ok := f.emu.Secret(testRegion, "k"); ok || len(f.emu.allSecrets()) != 0 {
		t.Fatal("secret still there after its DeleteTime")
	}
}

func TestSetSecretStatus(t *testing.T) {
	f := newFixture(t, Options{})
	f.emu.PutSecret(SecretState{Region: testRegion, Name: "k", Versions: []Version{{ID: "v1", Value: "x"}}})
	tests := []struct {
		status  string
		wantErr bool
		getCode string
	}{
		{status: StatusDisabled, getCode: "ResourceUnavailable.ResourceDisabled"},
		{status: StatusPendingDelete, getCode: "ResourceUnavailable.ResourcePendingDeleted"},
		{status: StatusEnabled},
		{status: "Creating", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			if err := f.emu.setSecretStatus(testRegion, "k", tt.status); (err != nil) != tt.wantErr {
				t.Fatalf("setSecretStatus: %v", err)
			}
			_, err := f.call("GetSecretValue", secretArgs("k", "VersionId", "v1"))
			wantCode(t, err, tt.getCode)
		})
	}
	if err := f.emu.setSecretStatus(testRegion, "nope", StatusEnabled); err == nil {
		t.Error("setSecretStatus of an unknown secret succeeded")
	}
}
