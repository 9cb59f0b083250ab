package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

// brief is the part of a LoggedCall the tests compare.
type brief struct {
	Action, Target, Code string
	Performed            bool
	Written              []string
	Stage                string
}

func briefs(log []LoggedCall) []brief {
	out := make([]brief, len(log))
	for i, c := range log {
		out[i] = brief{c.Action, c.Target, c.Code, c.Performed, c.Written, c.Stage}
	}
	return out
}

func fps(values ...string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = secret.Fingerprint(v)
	}
	return out
}

func mustCall(t *testing.T, f *fixture, action string, params map[string]any) map[string]any {
	t.Helper()
	res, err := f.call(action, params)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return res
}

// stagedRotation drives the calls of a staged rotation of zone-a to key
// through SSM and AWS, and returns the key that was live before.
func stagedRotation(t *testing.T, f *fixture, key string) {
	t.Helper()
	ctx := context.Background()
	sm := f.sm()
	mustCall(t, f, "PutSecretValue", secretArgs("mpgw", "VersionId", "pending", "SecretString", key))
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("mpgw"), SecretString: aws.String(key),
		ClientRequestToken: token("new"), VersionStages: []string{StagePending}}); err != nil {
		t.Fatal(err)
	}
	mustCall(t, f, "ModifyMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a", "SecretKey": key})
	mustCall(t, f, "UpdateSecret", secretArgs("mpgw", "VersionId", "current", "SecretString", key))
	mustCall(t, f, "DeleteSecretVersion", secretArgs("mpgw", "VersionId", "pending"))
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("mpgw"),
		VersionStage: aws.String(StageCurrent), MoveToVersionId: token("new"), RemoveFromVersionId: token("old")}); err != nil {
		t.Fatal(err)
	}
}

func seedStagedFixture(t *testing.T) (*fixture, string) {
	t.Helper()
	f := newFixture(t, Options{})
	old := keyOfBytes(32)
	f.emu.SetKey("zone-a", old)
	f.emu.PutSecret(SecretState{Region: testRegion, Name: "mpgw", Versions: []Version{{ID: "current", Value: old}}})
	f.emu.PutAWSSecret(AWSSecretState{Region: awsTestRegion, Name: "mpgw",
		Versions: []AWSVersion{{ID: *token("old"), Value: old, Stages: []string{StageCurrent}}}})
	return f, old
}

// TestCallLogOrder: the log lists the calls in order, with what each wrote.
func TestCallLogOrder(t *testing.T) {
	f, _ := seedStagedFixture(t)
	key := keyOfBytes(40)
	stagedRotation(t, f, key)
	mustCall(t, f, "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})

	log := f.emu.CallLog()
	want := []brief{
		{"PutSecretValue", "mpgw", "", true, fps(key), "pending"},
		{"secretsmanager.PutSecretValue", "mpgw", "", true, fps(key), StagePending},
		{"ModifyMultiPathGatewaySecretKey", "zone-a", "", true, fps(key), ""},
		{"UpdateSecret", "mpgw", "", true, fps(key), "current"},
		{"DeleteSecretVersion", "mpgw", "", true, nil, "pending"},
		{"secretsmanager.UpdateSecretVersionStage", "mpgw", "", true, nil, StageCurrent},
		{"DescribeMultiPathGatewaySecretKey", "zone-a", "", true, nil, ""},
	}
	if got := briefs(log); !reflect.DeepEqual(got, want) {
		t.Fatalf("call log:\n got  %+v\n want %+v", got, want)
	}
	for i, c := range log {
		if c.Seq != i+1 {
			t.Fatalf("entry %d has Seq %d", i, c.Seq)
		}
	}
	if err := f.emu.LiveKeysStoredFirst(); err != nil {
		t.Fatalf("LiveKeysStoredFirst on a staged rotation: %v", err)
	}

	// CallLog is a copy.
	log[0].Written[0] = "changed"
	log[0].Action = "changed"
	if again := f.emu.CallLog(); again[0].Action != "PutSecretValue" || again[0].Written[0] != secret.Fingerprint(key) {
		t.Fatalf("CallLog shares memory with the emulator: %+v", again[0])
	}
}

// TestCallLogWrites covers what each writing action records.
func TestCallLogWrites(t *testing.T) {
	f := newFixture(t, Options{})
	f.emu.AddZoneWithoutKey("zone-gen")
	f.emu.AddZoneWithoutKey("zone-set")
	f.emu.AddZone("zone-r")
	ctx := context.Background()
	sm := f.sm()

	mustCall(t, f, "CreateSecret", secretArgs("s1", "SecretString", "value-1"))
	mustCall(t, f, "CreateSecret", secretArgs("s2", "VersionId", "v1", "SecretBinary", "AAAA"))
	mustCall(t, f, "CreateMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-gen"})
	generated, _ := f.emu.Key("zone-gen")
	set := keyOfBytes(48)
	mustCall(t, f, "CreateMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-set", "SecretKey": set})
	refreshed := mustCall(t, f, "RefreshMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-r"})["SecretKey"].(string)
	createSecret(t, sm, "a1", "aws-value", "a")
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("a1"), SecretString: aws.String("aws-2"),
		ClientRequestToken: token("b"), VersionStages: []string{"X", StageCurrent}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("a1"),
		VersionStage: aws.String("X"), RemoveFromVersionId: token("b")}); err != nil {
		t.Fatal(err)
	}

	want := []brief{
		{"CreateSecret", "s1", "", true, fps("value-1"), defaultVersionID},
		{"CreateSecret", "s2", "", true, nil, "v1"},
		{"CreateMultiPathGatewaySecretKey", "zone-gen", "", true, fps(generated), ""},
		{"CreateMultiPathGatewaySecretKey", "zone-set", "", true, fps(set), ""},
		{"RefreshMultiPathGatewaySecretKey", "zone-r", "", true, fps(refreshed), ""},
		{"secretsmanager.CreateSecret", "a1", "", true, fps("aws-value"), StageCurrent},
		{"secretsmanager.PutSecretValue", "a1", "", true, fps("aws-2"), StageCurrent + ",X"},
		{"secretsmanager.UpdateSecretVersionStage", "a1", "", true, nil, "X"},
	}
	if got := briefs(f.emu.CallLog()); !reflect.DeepEqual(got, want) {
		t.Fatalf("call log:\n got  %+v\n want %+v", got, want)
	}
}

// TestCallLogFaultsAndFailures: refused and faulted calls are logged with
// their code; only performed ones carry Written.
func TestCallLogFaultsAndFailures(t *testing.T) {
	f, _ := seedStagedFixture(t)
	key := keyOfBytes(40)
	sm := f.sm()
	ctx := context.Background()

	f.emu.Inject(Fault{Action: "PutSecretValue", Code: "InternalError", Times: 1})
	f.emu.Inject(Fault{Action: "UpdateSecret", Phase: After, Drop: true, Times: 1})
	f.emu.Inject(Fault{Action: "secretsmanager.PutSecretValue", HTTPStatus: 502, Times: 1})

	_, err := f.call("PutSecretValue", secretArgs("mpgw", "VersionId", "pending", "SecretString", key))
	wantCode(t, err, "InternalError")
	_, err = f.call("ModifyMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a", "SecretKey": "too-short"})
	wantCode(t, err, "InvalidParameterValue")
	f.emu.Inject(Fault{Action: "ModifyMultiPathGatewaySecretKey", Phase: After, Code: "InternalError", Times: 1})
	_, err = f.call("ModifyMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a", "SecretKey": key})
	wantCode(t, err, "InternalError")
	if _, err := f.call("UpdateSecret", secretArgs("mpgw", "VersionId", "current", "SecretString", key)); err == nil {
		t.Fatal("dropped UpdateSecret succeeded")
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("mpgw"), SecretString: aws.String(key)}); err == nil {
		t.Fatal("502 PutSecretValue succeeded")
	}
	_, err = sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
	wantAWSCode(t, err, "ResourceNotFoundException")
	// Not counted in Calls, so not logged: an authentication failure.
	bad := f.emu.PermanentCredential()
	bad.SecretKey = "wrong"
	if _, err := send(ctx, f.client(bad, testRegion), "GetSecretValue", secretArgs("mpgw", "VersionId", "current")); err == nil {
		t.Fatal("bad signature accepted")
	}

	want := []brief{
		{"PutSecretValue", "mpgw", "InternalError", false, nil, ""},
		{"ModifyMultiPathGatewaySecretKey", "zone-a", "InvalidParameterValue", false, nil, ""},
		{"ModifyMultiPathGatewaySecretKey", "zone-a", "InternalError", true, fps(key), ""},
		{"UpdateSecret", "mpgw", "dropped", true, fps(key), "current"},
		{"secretsmanager.PutSecretValue", "mpgw", "HTTP 502", false, nil, ""},
		{"secretsmanager.GetSecretValue", "nope", "ResourceNotFoundException", false, nil, ""},
	}
	if got := briefs(f.emu.CallLog()); !reflect.DeepEqual(got, want) {
		t.Fatalf("call log:\n got  %+v\n want %+v", got, want)
	}
	// The Modify that happened despite its error made a key live that the
	// faulted PutSecretValue never stored.
	err = f.emu.LiveKeysStoredFirst()
	if !errors.Is(err, errKeyNotStoredFirst) || !strings.Contains(err.Error(), "call 3, ModifyMultiPathGatewaySecretKey on zone zone-a") ||
		!strings.Contains(err.Error(), secret.Fingerprint(key)) {
		t.Fatalf("LiveKeysStoredFirst = %v", err)
	}
}

// TestCallLogReset: ResetCounters empties the log and restarts Seq.
func TestCallLogReset(t *testing.T) {
	f, _ := seedStagedFixture(t)
	mustCall(t, f, "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})
	mustCall(t, f, "RefreshMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})
	if n := len(f.emu.CallLog()); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	if f.emu.LiveKeysStoredFirst() == nil {
		t.Fatal("a Refresh passed LiveKeysStoredFirst")
	}
	f.emu.ResetCounters()
	if log := f.emu.CallLog(); len(log) != 0 {
		t.Fatalf("after ResetCounters: %+v", log)
	}
	if err := f.emu.LiveKeysStoredFirst(); err != nil {
		t.Fatalf("LiveKeysStoredFirst on an empty log: %v", err)
	}
	mustCall(t, f, "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})
	if log := f.emu.CallLog(); len(log) != 1 || log[0].Seq != 1 {
		t.Fatalf("after reset and one call: %+v", log)
	}
}

// TestCallLogHoldsNoKeys: neither keys nor secret values appear in the log,
// whatever the calls were (reads that return keys included).
func TestCallLogHoldsNoKeys(t *testing.T) {
	f, old := seedStagedFixture(t)
	key := keyOfBytes(40)
	stagedRotation(t, f, key)
	refreshed := mustCall(t, f, "RefreshMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})["SecretKey"].(string)
	mustCall(t, f, "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})
	mustCall(t, f, "GetSecretValue", secretArgs("mpgw", "VersionId", "current"))
	_, err := f.call("ModifyMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a", "SecretKey": "bad-key-value-that-is-not-valid"})
	wantCode(t, err, "InvalidParameterValue")
	if _, err := f.sm().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("mpgw")}); err != nil {
		t.Fatal(err)
	}

	raw, err := json.Marshal(f.emu.CallLog())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{old, key, refreshed, "bad-key-value-that-is-not-valid"} {
		if strings.Contains(string(raw), v) {
			t.Fatalf("the call log's JSON contains a key value: %s", raw)
		}
	}
	for _, fp := range fps(key, refreshed) {
		if !strings.Contains(string(raw), fp) {
			t.Fatalf("the call log's JSON lacks the fingerprint %s: %s", fp, raw)
		}
	}
}

// TestLiveKeysStoredFirst covers the helper on hand-made logs.
func TestLiveKeysStoredFirst(t *testing.T) {
	k1, k2 := secret.Fingerprint("k1"), secret.Fingerprint("k2")
	modify := func(seq int, fp string) LoggedCall {
		return LoggedCall{Seq: seq, Action: "ModifyMultiPathGatewaySecretKey", Target: "zone-a", Performed: true, Written: []string{fp}}
	}
	cases := []struct {
		name    string
		log     []LoggedCall
		wantSeq string // "" for no error
	}{
		{"empty", nil, ""},
		{"ssm first", []LoggedCall{{Seq: 1, Action: "PutSecretValue", Performed: true, Written: []string{k1}}, modify(2, k1)}, ""},
		{"aws first", []LoggedCall{{Seq: 1, Action: "secretsmanager.PutSecretValue", Performed: true, Written: []string{k1}}, modify(2, k1)}, ""},
		{"create secret first", []LoggedCall{{Seq: 1, Action: "secretsmanager.CreateSecret", Performed: true, Written: []string{k1}}, modify(2, k1)}, ""},
		{"modify first", []LoggedCall{modify(1, k1), {Seq: 2, Action: "PutSecretValue", Performed: true, Written: []string{k1}}}, "call 1,"},
		{"other key stored", []LoggedCall{{Seq: 1, Action: "UpdateSecret", Performed: true, Written: []string{k2}}, modify(2, k1)}, "call 2,"},
		{"store not performed", []LoggedCall{{Seq: 1, Action: "PutSecretValue", Code: "InternalError"}, modify(2, k1)}, "call 2,"},
		{"modify not performed", []LoggedCall{{Seq: 1, Action: "ModifyMultiPathGatewaySecretKey", Code: "InternalError"}}, ""},
		{"second modify unstored", []LoggedCall{{Seq: 1, Action: "PutSecretValue", Performed: true, Written: []string{k1}}, modify(2, k1), modify(3, k2)}, "call 3,"},
		{"refresh", []LoggedCall{{Seq: 1, Action: "RefreshMultiPathGatewaySecretKey", Target: "zone-a", Performed: true, Written: []string{k1}}}, "call 1, RefreshMultiPathGatewaySecretKey"},
		{"create", []LoggedCall{{Seq: 1, Action: "CreateMultiPathGatewaySecretKey", Target: "zone-a", Performed: true, Written: []string{k1}}}, "call 1, CreateMultiPathGatewaySecretKey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkLiveKeysStoredFirst(tc.log)
			if tc.wantSeq == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, errKeyNotStoredFirst) || !strings.Contains(err.Error(), tc.wantSeq) {
				t.Fatalf("error = %v, want one naming %q", err, tc.wantSeq)
			}
		})
	}
}
