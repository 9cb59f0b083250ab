// Package credentials finds the Tencent Cloud credentials of one invocation:
// from the value of an AWS secret (FromSecretValue, for
// TENCENTCLOUD_CREDENTIALS_SECRET on Lambda), or else from the environment
// and files (Resolve), then, with ROLE_ARN, through STS AssumeRole, whose
// answers a RoleCache keeps for a warm instance.
//
// Order of Resolve, first match wins:
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
	"os"
	"path/filepath"
	"strings"
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

// GoString, Format and MarshalText keep %#v, %+v and encoders from
// reflecting into it too.
func (c Credential) GoString() string             { return c.String() }
func (c Credential) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(c.String())) }
func (c Credential) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

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
		rawID, rawKey := getenv(p.id), getenv(p.key)
		if rawID == "" && rawKey == "" {
			continue
		}
		// A value that is only whitespace is set, but can never sign: it
		// counts as empty, and, being set, is an error rather than a reason
		// to try the next source. Values are trimmed (a trailing newline
		// from a secret store would break every signature).
		id, key := strings.TrimSpace(rawID), strings.TrimSpace(rawKey)
		if id == "" || key == "" {
			return Credential{}, problem(p.id, incomplete(p.id, id, p.key, key))
		}
		src := p.id + "/" + p.key
		token := ""
		if p.token != "" {
			raw := getenv(p.token)
			if token = strings.TrimSpace(raw); token != "" {
				src += "/" + p.token
			} else if raw != "" {
				return Credential{}, problem(p.token, fmt.Errorf("%s is only whitespace: unset it or set the session token", p.token))
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
	// The SDK's profile provider panics (assignment to entry in nil map) on
	// a file without a [default] section, so that file is checked here
	// first.
	if err := checkProfileFile(); err != nil {
		return Credential{}, problem("TENCENTCLOUD_CREDENTIALS_FILE", err)
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

// checkProfileFile checks the file the SDK's profile provider will read
// (TENCENTCLOUD_CREDENTIALS_FILE, else ~/.tencentcloud/credentials when it
// exists) for a [default] section, reading its section headers only. A file
// that is there but has no [default] section (empty, only [prod], no
// section header at all) is an error naming the file, not a reason to fall
// through to the tccli profile: the file is where the user put credentials
// (or pointed TENCENTCLOUD_CREDENTIALS_FILE at), and silently signing with
// whatever account another source holds would be worse than stopping. It is
// also how a file with a [default] section but no secret_key is treated.
// The content is never quoted: it holds secret keys.
func checkProfileFile() error {
	path, explicit := os.LookupEnv(common.EnvCredentialFile)
	switch {
	case explicit && path == "":
		return errors.New("TENCENTCLOUD_CREDENTIALS_FILE is set but empty: unset it or name the credentials file")
	case !explicit:
		home := os.Getenv("HOME")
		if home == "" {
			return nil
		}
		path = filepath.Join(home, ".tencentcloud", "credentials")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil // absent: the next source is tried
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// os errors name the path and the reason, never the content.
		return fmt.Errorf("reading the credentials file: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.TrimSpace(line) == "[default]" {
			return nil
		}
	}
	return fmt.Errorf("the credentials file %s has no [default] section: add [default] with secret_id and secret_key, or point TENCENTCLOUD_CREDENTIALS_FILE at a file that has one", path)
}

// incomplete says which of a pair of credential variables is empty (or
// only whitespace), after trimming.
func incomplete(first, firstValue, second, secondValue string) error {
	var missing []string
	if firstValue == "" {
		missing = append(missing, first)
	}
	if secondValue == "" {
		missing = append(missing, second)
	}
	verb := "is"
	if len(missing) > 1 {
		verb = "are"
	}
	return fmt.Errorf("incomplete credentials: %s and %s must be set together; %s %s empty or only whitespace", first, second, strings.Join(missing, " and "), verb)
}

// notConfigured tells "this source is absent" from "this source is broken".
func notConfigured(err error) bool {
	var se interface{ GetMessage() string }
	return errors.As(err, &se) && se.GetMessage() == "could not find config file"
}

// assumeRole exchanges base for the temporary credentials of roleARN
// through sts: client gives the endpoint, region, timeouts, retries and
// transport (it is not changed; its service and credential are not used).
// It also returns when the credentials expire (ExpiredTime in the answer;
// zero when STS did not say), judged at now. RoleCache calls it, and keeps
// the answer across a warm instance's invocations.
func assumeRole(ctx context.Context, client *tcapi.Client, base Credential, roleARN, session string, now time.Time) (Credential, time.Time, error) {
	client = client.For("sts", "2018-08-13")
	client.Credential = base
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
