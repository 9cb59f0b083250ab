package emulator

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// The calls of ROTATION_MODE=staged, with the codes the engine and
// consumers rely on.

// TestStagedTEOModify: Modify makes the caller's key live at once and
// refuses a malformed key with InvalidParameterValue, leaving the live key
// as it was.
func TestStagedTEOModify(t *testing.T) {
	f, old := seedStagedFixture(t)
	for _, bad := range []string{"", keyOfBytes(31), keyOfBytes(49), "not base64!"} {
		params := map[string]any{"ZoneId": "zone-a", "SecretKey": bad}
		want := "InvalidParameterValue"
		if bad == "" {
			want = "MissingParameter"
		}
		_, err := f.call("ModifyMultiPathGatewaySecretKey", params)
		wantCode(t, err, want)
		if got, _ := f.emu.Key("zone-a"); got != old {
			t.Fatalf("a refused Modify changed the key")
		}
	}
	_, err := f.call("ModifyMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-nope", "SecretKey": keyOfBytes(32)})
	wantCode(t, err, "ResourceNotFound.ZoneNotFound")

	pending := keyOfBytes(48)
	mustCall(t, f, "ModifyMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a", "SecretKey": pending})
	if got, _ := f.emu.Key("zone-a"); got != pending {
		t.Fatalf("Modify did not make the key live")
	}
	res := mustCall(t, f, "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})
	if res["SecretKey"] != pending {
		t.Fatalf("Describe after Modify does not return the new key")
	}
}

// TestStagedSSMPendingVersion: pending is written, read, promoted into
// current and deleted; reads and deletes of a missing version are
// ResourceNotFound.
func TestStagedSSMPendingVersion(t *testing.T) {
	f, old := seedStagedFixture(t)
	key := keyOfBytes(40)

	_, err := f.call("GetSecretValue", secretArgs("mpgw", "VersionId", "pending"))
	wantCode(t, err, "ResourceNotFound")
	_, err = f.call("DeleteSecretVersion", secretArgs("mpgw", "VersionId", "pending"))
	wantCode(t, err, "ResourceNotFound")
	_, err = f.call("DeleteSecretVersion", secretArgs("nope", "VersionId", "pending"))
	wantCode(t, err, "ResourceNotFound")
	_, err = f.call("DeleteSecretVersion", secretArgs("mpgw"))
	wantCode(t, err, "MissingParameter")

	mustCall(t, f, "PutSecretValue", secretArgs("mpgw", "VersionId", "pending", "SecretString", key))
	_, err = f.call("PutSecretValue", secretArgs("mpgw", "VersionId", "pending", "SecretString", key))
	wantCode(t, err, "ResourceInUse.VersionIdExists")
	if res := mustCall(t, f, "GetSecretValue", secretArgs("mpgw", "VersionId", "pending")); res["SecretString"] != key {
		t.Fatal("pending does not hold the new key")
	}
	if res := mustCall(t, f, "GetSecretValue", secretArgs("mpgw", "VersionId", "current")); res["SecretString"] != old {
		t.Fatal("writing pending changed current")
	}

	mustCall(t, f, "UpdateSecret", secretArgs("mpgw", "VersionId", "current", "SecretString", key))
	mustCall(t, f, "DeleteSecretVersion", secretArgs("mpgw", "VersionId", "pending"))
	_, err = f.call("GetSecretValue", secretArgs("mpgw", "VersionId", "pending"))
	wantCode(t, err, "ResourceNotFound")
	if res := mustCall(t, f, "GetSecretValue", secretArgs("mpgw", "VersionId", "current")); res["SecretString"] != key {
		t.Fatal("current was not promoted")
	}

	// Deletion works in every status (the reference: "all statuses").
	mustCall(t, f, "PutSecretValue", secretArgs("mpgw", "VersionId", "pending", "SecretString", key))
	if err := f.emu.setSecretStatus(testRegion, "mpgw", StatusPendingDelete); err != nil {
		t.Fatal(err)
	}
	mustCall(t, f, "DeleteSecretVersion", secretArgs("mpgw", "VersionId", "pending"))
}

// TestSSMDeleteLastVersion pins an undocumented choice: the reference names
// no rule against deleting a secret's only version, so the emulator allows
// it; the secret then has no versions and every read is ResourceNotFound.
func TestSSMDeleteLastVersion(t *testing.T) {
	f, _ := seedStagedFixture(t)
	mustCall(t, f, "DeleteSecretVersion", secretArgs("mpgw", "VersionId", "current"))
	s, ok := f.emu.Secret(testRegion, "mpgw")
	if !ok || len(s.Versions) != 0 {
		t.Fatalf("secret after deleting its only version: %+v %v", s, ok)
	}
	_, err := f.call("GetSecretValue", secretArgs("mpgw", "VersionId", "current"))
	wantCode(t, err, "ResourceNotFound")
	mustCall(t, f, "PutSecretValue", secretArgs("mpgw", "VersionId", "current", "SecretString", "again"))
}

// TestStagedAWSPromotion: AWSPENDING promoted to AWSCURRENT moves
// AWSPREVIOUS by itself; a rollback moves it back; label rules hold.
func TestStagedAWSPromotion(t *testing.T) {
	f, _ := seedStagedFixture(t)
	sm := f.sm()
	ctx := context.Background()
	move := func(stage, to, from string) error {
		in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("mpgw"), VersionStage: aws.String(stage)}
		if to != "" {
			in.MoveToVersionId = token(to)
		}
		if from != "" {
			in.RemoveFromVersionId = token(from)
		}
		_, err := sm.UpdateSecretVersionStage(ctx, in)
		return err
	}
	check := func(step string, want map[string][]string) {
		t.Helper()
		if got := stagesOf(t, f.emu, "mpgw"); !equalStages(got, want) {
			t.Fatalf("%s: stages %v, want %v", step, got, want)
		}
	}
	// A previous AWSPREVIOUS exists on an older version.
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("mpgw"), SecretString: aws.String(keyOfBytes(33)),
		ClientRequestToken: token("mid")}); err != nil {
		t.Fatal(err)
	}
	check("seeded", map[string][]string{"old": {StagePrevious}, "mid": {StageCurrent}})
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("mpgw"), SecretString: aws.String(keyOfBytes(40)),
		ClientRequestToken: token("new"), VersionStages: []string{StagePending}}); err != nil {
		t.Fatal(err)
	}
	check("pending", map[string][]string{"old": {StagePrevious}, "mid": {StageCurrent}, "new": {StagePending}})

	wantAWSCode(t, move(StageCurrent, "new", ""), "InvalidParameterException")
	wantAWSCode(t, move(StageCurrent, "new", "old"), "InvalidParameterException")
	wantAWSCode(t, move(StageCurrent, "", "mid"), "InvalidParameterException")
	wantAWSCode(t, move(StageCurrent, "gone", "mid"), "ResourceNotFoundException")
	wantAWSCode(t, move(StagePending, "", "mid"), "InvalidParameterException")
	check("refused moves change nothing", map[string][]string{"old": {StagePrevious}, "mid": {StageCurrent}, "new": {StagePending}})

	if err := move(StageCurrent, "new", "mid"); err != nil {
		t.Fatalf("promote: %v", err)
	}
	check("promoted", map[string][]string{"old": {}, "mid": {StagePrevious}, "new": {StageCurrent, StagePending}})
	// Moving a label to the version that has it is a no-op success.
	if err := move(StageCurrent, "new", ""); err != nil {
		t.Fatalf("move to its own holder: %v", err)
	}
	if err := move(StagePending, "", "new"); err != nil {
		t.Fatalf("remove AWSPENDING: %v", err)
	}
	check("cleaned up", map[string][]string{"old": {}, "mid": {StagePrevious}, "new": {StageCurrent}})

	// Rollback: AWSCURRENT back to the previous version swaps the two.
	if err := move(StageCurrent, "mid", "new"); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	check("rolled back", map[string][]string{"old": {}, "mid": {StageCurrent}, "new": {StagePrevious}})
	got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("mpgw"), VersionStage: aws.String(StagePending)})
	if err == nil {
		t.Fatalf("AWSPENDING still readable: %v", aws.ToString(got.VersionId))
	}
	wantAWSCode(t, err, "ResourceNotFoundException")
}
