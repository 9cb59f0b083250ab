package emulator

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smithy "github.com/aws/smithy-go"
)

const awsTestRegion = "us-east-1"

// smClient is the real Secrets Manager client of aws-sdk-go-v2 pointed at
// the fixture, with retries off.
func (f *fixture) smClient(cred AWSCredential, configure ...func(*secretsmanager.Options)) *secretsmanager.Client {
	opts := secretsmanager.Options{
		Region:       awsTestRegion,
		BaseEndpoint: aws.String(f.srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey, SessionToken: cred.SessionToken}, nil
		}),
		RetryMaxAttempts: 1,
	}
	return secretsmanager.New(opts, configure...)
}

// sm is a client with the emulator's own AWS credential.
func (f *fixture) sm(configure ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return f.smClient(f.emu.AWSCredential(), configure...)
}

// awsCode is the error code of an SDK error, "" for nil.
func awsCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "non-API error: " + err.Error()
}

func wantAWSCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := awsCode(err); got != want {
		t.Fatalf("error code = %q, want %q (err: %v)", got, want, err)
	}
}

// token returns a valid ClientRequestToken derived from s.
func token(s string) *string {
	const pad = "00000000000000000000000000000000"
	if len(s) < 32 {
		s += pad[:32-len(s)]
	}
	return aws.String(s)
}
