// Package credentials finds the Tencent Cloud credentials of one invocation.
//
// Order, first match wins:
//
//  1. TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY and TENCENTCLOUD_SESSIONTOKEN:
//     the SCF execution role's temporary credentials (SCF sets them, and
//     renews them through each invoke's Environment).
//  2. TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY: the SDK's variables.
//  3. The SDK's credentials file: TENCENTCLOUD_CREDENTIALS_FILE, else
//     ~/.tencentcloud/credentials, section [default].
//  4. The tccli profile ~/.tccli/<TCCLI_PROFILE or default>.credential.
//
// Then, when ROLE_ARN is set, those credentials assume the role through STS.
// The base credentials are read afresh for every invocation: the execution
// role's temporary keys expire while an instance stays warm. The assumed
// role's are kept by a RoleCache until RefreshBefore their expiry.
package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
)

// Credential is what the API clients sign with, and where it came from.
type Credential struct {
	common.CredentialIface
	Source string // names the variables or file, never their values
}

// String names the source only: the SDK's credential types print their
// secret key with %v.
func (c Credential) String() string { return "credentials from " + c.Source }

// LogValue keeps slog from reflecting into the secret key.
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ErrNotFound means no source held credentials.
var ErrNotFound = errors.New("no Tencent Cloud credentials: set TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY and TENCENTCLOUD_SESSIONTOKEN (the SCF execution role sets them), or TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, or write ~/.tencentcloud/credentials")

// problem reports a credentials problem as configuration: found before
// any API call, named by its variable.
func problem(variable string, err error) error {
	return &config.Error{Problems: []config.Problem{{Var: variable, Msg: err.Error()}}, Cause: err}
}

// envPairs are the variable names read, in order; the SDK's have no token.
var envPairs = []struct{ id, key, token string }{
	{"TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"},
	{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", ""},
}

// Resolve finds the base credentials through getenv, then the profile files.
func Resolve(getenv func(string) string) (Credential, error) {
	for _, p := range envPairs {
		id, key := getenv(p.id), getenv(p.key)
		if id == "" && key == "" {
			continue
		}
		if id == "" || key == "" {
			return Credential{}, problem(p.id, incomplete(p.id, id, p.key))
		}
		src := p.id + "/" + p.key
		token := ""
		if p.token != "" {
			if token = getenv(p.token); token != "" {
				src += "/" + p.token
			}
		}
		return Credential{common.NewTokenCredential(id, key, token), src}, nil
	}
	files := []struct {
		name     string
		provider common.Provider
	}{
		{"the credentials file (TENCENTCLOUD_CREDENTIALS_FILE or ~/.tencentcloud/credentials)", common.DefaultProfileProvider()},
		{"the tccli profile (~/.tccli)", common.DefaultTccliProfileProvider()},
	}
	for _, f := range files {
		cred, err := f.provider.GetCredential()
		if err == nil && cred.GetSecretId() != "" && cred.GetSecretKey() != "" {
			return Credential{cred, f.name}, nil
		}
		if err != nil && !notConfigured(err) {
			// The SDK's parse errors may quote the file: say only which file.
			return Credential{}, problem("TENCENTCLOUD_CREDENTIALS_FILE", fmt.Errorf("reading %s: the file exists but has no usable secret_id and secret_key", f.name))
		}
	}
	return Credential{}, problem("TENCENTCLOUD_SECRETID", ErrNotFound)
}

func incomplete(first, firstValue, second string) error {
	missing := second
	if firstValue == "" {
		missing = first
	}
	return fmt.Errorf("incomplete credentials: %s and %s must be set together; %s is empty", first, second, missing)
}

// notConfigured tells "this source is absent" from "this source is broken".
func notConfigured(err error) bool {
	var se interface{ GetMessage() string }
	return errors.As(err, &se) && se.GetMessage() == "could not find config file"
}

// AssumeRole exchanges base for the temporary credentials of roleARN
// through sts: a client whose Endpoint, Region, timeouts, retries and
// transport the caller chose, not yet used; AssumeRole sets its service and
// credential. A warm instance keeps the answer in a RoleCache instead of
// calling this for every invocation.
func AssumeRole(ctx context.Context, client *tcapi.Client, base Credential, roleARN, session string) (Credential, error) {
	cred, _, err := assumeRole(ctx, client, base, roleARN, session, time.Now())
	return cred, err
}

// assumeRole is AssumeRole, also returning when the credentials expire
// (ExpiredTime in the answer; zero when STS did not say), judged at now.
func assumeRole(ctx context.Context, client *tcapi.Client, base Credential, roleARN, session string, now time.Time) (Credential, time.Time, error) {
	client.Service, client.Version, client.Credential = "sts", "2018-08-13", base
	if client.Region == "" {
		client.Region = "ap-guangzhou" // STS needs a region; any works for AssumeRole
	}
	var out struct {
		Credentials struct{ Token, TmpSecretId, TmpSecretKey string }
		ExpiredTime int64
	}
	params := map[string]any{"RoleArn": roleARN, "RoleSessionName": session, "DurationSeconds": AssumeRoleSeconds}
	if err := client.Call(ctx, "AssumeRole", params, &out); err != nil {
		return Credential{}, time.Time{}, fmt.Errorf("assuming ROLE_ARN %s with %s: %w%s", roleARN, base.Source, err, assumeRemedy(tcapi.Code(err)))
	}
	c := out.Credentials
	if c.TmpSecretId == "" || c.TmpSecretKey == "" || c.Token == "" {
		return Credential{}, time.Time{}, fmt.Errorf("assuming ROLE_ARN %s: sts AssumeRole answered without credentials", roleARN)
	}
	var expires time.Time
	if out.ExpiredTime != 0 {
		expires = time.Unix(out.ExpiredTime, 0)
		if !expires.After(now) {
			return Credential{}, time.Time{}, fmt.Errorf("assuming ROLE_ARN %s: sts AssumeRole answered with expired credentials (check the clock)", roleARN)
		}
	}
	return Credential{common.NewTokenCredential(c.TmpSecretId, c.TmpSecretKey, c.Token), "ROLE_ARN via " + base.Source}, expires, nil
}
