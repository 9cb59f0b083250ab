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
	f := newFixture(t, Options{})
	sm := f.sm()
	ctx := context.Background()
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("x"), ClientRequestToken: token("a")}); err != nil {
		t.Fatal(err)
	}
	f.emu.PutAWSSecret(AWSSecretState{Region: awsTestRegion, Name: "gone", DeletedDate: time.Now(),
		Versions: []AWSVersion{{ID: *token("g"), Value: "x", Stages: []string{StageCurrent}}}})

	notFound := new(*types.ResourceNotFoundException)
	exists := new(*types.ResourceExistsException)
	invalidReq := new(*types.InvalidRequestException)
	invalidParam := new(*types.InvalidParameterException)
	tests := []struct {
		name   string
		call   func() error
		target any
	}{
		{"unknown secret", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
			return err
		}, notFound},
		{"unknown stage", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String(StagePending)})
			return err
		}, notFound},
		{"duplicate name", func() error {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("y"), ClientRequestToken: token("b")})
			return err
		}, exists},
		{"same token other value", func() error {
			_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("other"), ClientRequestToken: token("a")})
			return err
		}, exists},
		{"read of a secret scheduled for deletion", func() error {
			_, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("gone")})
			return err
		}, invalidReq},
		{"write to a secret scheduled for deletion", func() error {
			_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("gone"), SecretString: aws.String("y"), ClientRequestToken: token("c")})
			return err
		}, invalidReq},
		{"short token", func() error {
			_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("y"), ClientRequestToken: aws.String("short")})
			return err
		}, invalidParam},
		{"bad name", func() error {
			_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("no spaces"), SecretString: aws.String("y")})
			return err
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
