package emulator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// TestAWSSecretLifecycle drives every action's happy path through the real
// SDK client.
func TestAWSSecretLifecycle(t *testing.T) {
	f := newFixture(t, Options{})
	sm := f.sm()
	ctx := context.Background()

	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("mpgw/zone-1"), SecretString: aws.String("value-1"),
		ClientRequestToken: token("v1"), Description: aws.String("gateway key"),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("rotator")}},
	})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	prefix := "arn:aws:secretsmanager:us-east-1:" + awsAccountID + ":secret:mpgw/zone-1-"
	if arn := aws.ToString(created.ARN); !strings.HasPrefix(arn, prefix) || len(arn) != len(prefix)+6 {
		t.Errorf("ARN = %q, want %s + 6 characters", arn, prefix)
	}
	if aws.ToString(created.VersionId) != *token("v1") || aws.ToString(created.Name) != "mpgw/zone-1" {
		t.Errorf("CreateSecret = %+v", created)
	}

	put, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: created.ARN, SecretString: aws.String("value-2"), ClientRequestToken: token("v2"),
	})
	if err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
	if !slices.Equal(put.VersionStages, []string{StageCurrent}) {
		t.Errorf("PutSecretValue stages = %v", put.VersionStages)
	}

	// Name, full ARN and partial ARN all find the secret.
	for _, id := range []string{"mpgw/zone-1", aws.ToString(created.ARN), strings.TrimSuffix(prefix, "-")} {
		got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetSecretValue(%s): %v", id, err)
		}
		if aws.ToString(got.SecretString) != "value-2" || aws.ToString(got.VersionId) != *token("v2") || got.CreatedDate == nil {
			t.Errorf("GetSecretValue(%s) = %q %q", id, aws.ToString(got.SecretString), aws.ToString(got.VersionId))
		}
	}
	prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("mpgw/zone-1"), VersionStage: aws.String(StagePrevious)})
	if err != nil || aws.ToString(prev.SecretString) != "value-1" {
		t.Fatalf("GetSecretValue(AWSPREVIOUS) = %v, %v", prev, err)
	}

	if _, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("mpgw/zone-1"), Tags: []types.Tag{
		{Key: aws.String("owner"), Value: aws.String("someone")}, {Key: aws.String("rotation"), Value: aws.String("r-1")},
	}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := sm.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String("mpgw/zone-1"), TagKeys: []string{"rotation"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}

	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("mpgw/zone-1")})
	if err != nil {
		t.Fatalf("DescribeSecret: %v", err)
	}
	if aws.ToString(desc.Description) != "gateway key" || aws.ToString(desc.ARN) != aws.ToString(created.ARN) || desc.DeletedDate != nil {
		t.Errorf("DescribeSecret = %+v", desc)
	}
	if len(desc.Tags) != 1 || aws.ToString(desc.Tags[0].Key) != "owner" || aws.ToString(desc.Tags[0].Value) != "someone" {
		t.Errorf("Tags = %+v", desc.Tags)
	}
	wantStages := map[string][]string{*token("v1"): {StagePrevious}, *token("v2"): {StageCurrent}}
	if len(desc.VersionIdsToStages) != 2 || !slices.Equal(desc.VersionIdsToStages[*token("v1")], wantStages[*token("v1")]) ||
		!slices.Equal(desc.VersionIdsToStages[*token("v2")], wantStages[*token("v2")]) {
		t.Errorf("VersionIdsToStages = %v, want %v", desc.VersionIdsToStages, wantStages)
	}
	if desc.CreatedDate == nil || time.Since(*desc.CreatedDate) > time.Minute {
		t.Errorf("CreatedDate = %v", desc.CreatedDate)
	}

	list, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("mpgw/zone-1")})
	if err != nil {
		t.Fatalf("ListSecretVersionIds: %v", err)
	}
	if len(list.Versions) != 2 {
		t.Errorf("ListSecretVersionIds = %d versions, want 2", len(list.Versions))
	}

	state, ok := f.emu.AWSSecret(awsTestRegion, "mpgw/zone-1")
	if !ok || len(state.Versions) != 2 || state.Tags["owner"] != "someone" {
		t.Errorf("AWSSecret = %+v, %v", state, ok)
	}
	for _, a := range []string{"CreateSecret", "PutSecretValue", "GetSecretValue", "TagResource", "UntagResource", "DescribeSecret", "ListSecretVersionIds"} {
		if f.emu.Performed("secretsmanager."+a) == 0 {
			t.Errorf("Performed(%s) = 0", a)
		}
	}
}

// TestAWSErrorsAreTyped checks the errors the SDK maps to its types.
func TestAWSErrorsAreTyped(t *testing.T) {
	f, sm := newSecretFixture(t, "x", "a")
	ctx := context.Background()
	f.emu.PutAWSSecret(AWSSecretState{Region: awsTestRegion, Name: "gone", DeletedDate: time.Now(),
		Versions: []AWSVersion{{ID: *token("g"), Value: "x", Stages: []string{StageCurrent}}}})

	notFound := new(*types.ResourceNotFoundException)
	exists := new(*types.ResourceExistsException)
	invalidReq := new(*types.InvalidRequestException)
	invalidParam := new(*types.InvalidParameterException)
	errOf := func(_ any, err error) error { return err }
	tests := []struct {
		name   string
		call   func() error
		target any
	}{
		{"unknown secret", func() error {
			return errOf(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")}))
		}, notFound},
		{"unknown stage", func() error {
			return errOf(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String(StagePending)}))
		}, notFound},
		{"duplicate name", func() error {
			return errOf(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("y"), ClientRequestToken: token("b")}))
		}, exists},
		{"same token other value", func() error {
			return errOf(sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("other"), ClientRequestToken: token("a")}))
		}, exists},
		{"read of a secret scheduled for deletion", func() error {
			return errOf(sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("gone")}))
		}, invalidReq},
		{"write to a secret scheduled for deletion", func() error {
			return errOf(sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("gone"), SecretString: aws.String("y"), ClientRequestToken: token("c")}))
		}, invalidReq},
		{"short token", func() error {
			return errOf(sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("y"), ClientRequestToken: aws.String("short")}))
		}, invalidParam},
		{"bad name", func() error {
			return errOf(sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("no spaces"), SecretString: aws.String("y")}))
		}, invalidParam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.As(err, tt.target) {
				t.Fatalf("error %T %v is not a %T", err, err, tt.target)
			}
		})
	}
}

// TestAWSStagingLabels walks the staging labels of a rotation: put moves
// AWSCURRENT and makes the old one AWSPREVIOUS; an AWSPENDING put is
// promoted with UpdateSecretVersionStage, which enforces
// RemoveFromVersionId.
func TestAWSStagingLabels(t *testing.T) {
	f, sm := newSecretFixture(t, "v1", "a")
	ctx := context.Background()

	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v2"), ClientRequestToken: token("b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v3"), ClientRequestToken: token("c")}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"a": {}, "b": {StagePrevious}, "c": {StageCurrent}}
	if got := stagesOf(t, f.emu, "s"); !equalStages(got, want) {
		t.Fatalf("after two puts: %v, want %v", got, want)
	}

	pend, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v4"),
		ClientRequestToken: token("d"), VersionStages: []string{StagePending}})
	if err != nil || !slices.Equal(pend.VersionStages, []string{StagePending}) {
		t.Fatalf("pending put: %v %v", pend, err)
	}
	if got, _ := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")}); aws.ToString(got.SecretString) != "v3" {
		t.Fatalf("AWSPENDING must not change AWSCURRENT")
	}
	if got, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String(StagePending)}); err != nil || aws.ToString(got.SecretString) != "v4" {
		t.Fatalf("GetSecretValue(AWSPENDING) = %v, %v", got, err)
	}

	// Moving AWSCURRENT without naming its holder is refused.
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"),
		VersionStage: aws.String(StageCurrent), MoveToVersionId: token("d")})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Fatalf("move without RemoveFromVersionId: %v", err)
	}
	// Naming the wrong holder is refused too.
	_, err = sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"),
		VersionStage: aws.String(StageCurrent), MoveToVersionId: token("d"), RemoveFromVersionId: token("b")})
	if !errors.As(err, &ipe) {
		t.Fatalf("move with the wrong RemoveFromVersionId: %v", err)
	}
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"),
		VersionStage: aws.String(StageCurrent), MoveToVersionId: token("d"), RemoveFromVersionId: token("c")}); err != nil {
		t.Fatalf("promote: %v", err)
	}
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"),
		VersionStage: aws.String(StagePending), RemoveFromVersionId: token("d")}); err != nil {
		t.Fatalf("remove AWSPENDING: %v", err)
	}
	want = map[string][]string{"a": {}, "b": {}, "c": {StagePrevious}, "d": {StageCurrent}}
	if got := stagesOf(t, f.emu, "s"); !equalStages(got, want) {
		t.Fatalf("after promotion: %v, want %v", got, want)
	}
	if _, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"),
		VersionStage: aws.String(StageCurrent), MoveToVersionId: token("nope")}); awsCode(err) != "ResourceNotFoundException" {
		t.Fatalf("move to an unknown version: %v", err)
	}

	all, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true)})
	if err != nil || len(all.Versions) != 4 {
		t.Fatalf("ListSecretVersionIds(IncludeDeprecated) = %v, %v", all, err)
	}
	labelled, err := sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s")})
	if err != nil || len(labelled.Versions) != 2 {
		t.Fatalf("ListSecretVersionIds = %v, %v", labelled, err)
	}
}

// TestAWSClientRequestTokenIdempotency: the same token with the same value
// is a success without a new version, with another value a
// ResourceExistsException; CreateSecret repeated with its token succeeds.
func TestAWSClientRequestTokenIdempotency(t *testing.T) {
	f, sm := newSecretFixture(t, "v1", "a")
	ctx := context.Background()
	createSecret(t, sm, "s", "v1", "a") // the same CreateSecret again

	put := &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v2"), ClientRequestToken: token("b")}
	for i := range 3 {
		out, err := sm.PutSecretValue(ctx, put)
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		if aws.ToString(out.VersionId) != *token("b") || !slices.Equal(out.VersionStages, []string{StageCurrent}) {
			t.Fatalf("put %d = %+v", i, out)
		}
	}
	if s, _ := f.emu.AWSSecret(awsTestRegion, "s"); len(s.Versions) != 2 {
		t.Fatalf("versions = %d, want 2", len(s.Versions))
	}
	_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("v3"), ClientRequestToken: token("b")})
	wantAWSCode(t, err, "ResourceExistsException")
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("other"), ClientRequestToken: token("a")})
	wantAWSCode(t, err, "ResourceExistsException")
}

// TestAWSDeletedSecret: DescribeSecret shows DeletedDate; value reads and
// writes are InvalidRequestException.
func TestAWSDeletedSecret(t *testing.T) {
	f := newFixture(t, Options{})
	sm := f.sm()
	ctx := context.Background()
	deleted := f.clock.Now().Add(-time.Hour).Truncate(time.Second)
	f.emu.PutAWSSecret(AWSSecretState{Region: awsTestRegion, Name: "gone", DeletedDate: deleted,
		Versions: []AWSVersion{{ID: *token("g"), Value: "x", Stages: []string{StageCurrent}}}})
	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("gone")})
	if err != nil || desc.DeletedDate == nil || !desc.DeletedDate.Equal(deleted) {
		t.Fatalf("DescribeSecret = %v, %v; want DeletedDate %v", desc, err, deleted)
	}
	calls := []func() error{
		func() error {
			_, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("gone"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		},
		func() error {
			_, err := sm.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("gone"), VersionStage: aws.String(StagePending), MoveToVersionId: token("g")})
			return err
		},
		func() error {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("y")})
			return err
		},
	}
	for i, c := range calls {
		if code := awsCode(c()); code != "InvalidRequestException" {
			t.Errorf("call %d: %s, want InvalidRequestException", i, code)
		}
	}
}
