package credentials

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("TCCLI_PROFILE", "")
	os.Unsetenv("TENCENTCLOUD_CREDENTIALS_FILE")

	tests := []struct {
		name                  string
		env                   map[string]string
		file                  string // ~/.tencentcloud/credentials content, "" = absent
		wantID, wantToken     string
		wantSource, wantError string
	}{
		{name: "scf role", env: map[string]string{"TENCENTCLOUD_SECRETID": "AKIDrole", "TENCENTCLOUD_SECRETKEY": "k", "TENCENTCLOUD_SESSIONTOKEN": "tok"},
			wantID: "AKIDrole", wantToken: "tok", wantSource: "TENCENTCLOUD_SESSIONTOKEN"},
		{name: "scf names win over sdk names", env: map[string]string{"TENCENTCLOUD_SECRETID": "AKIDrole", "TENCENTCLOUD_SECRETKEY": "k", "TENCENTCLOUD_SECRET_ID": "AKIDsdk", "TENCENTCLOUD_SECRET_KEY": "k2"},
			wantID: "AKIDrole"},
		{name: "sdk names", env: map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDsdk", "TENCENTCLOUD_SECRET_KEY": "k2"}, wantID: "AKIDsdk", wantSource: "TENCENTCLOUD_SECRET_ID"},
		{name: "id without key", env: map[string]string{"TENCENTCLOUD_SECRETID": "AKIDrole"}, wantError: "TENCENTCLOUD_SECRETKEY is empty"},
		{name: "key without id", env: map[string]string{"TENCENTCLOUD_SECRET_KEY": "k"}, wantError: "TENCENTCLOUD_SECRET_ID is empty"},
		{name: "whitespace sdk id", env: map[string]string{"TENCENTCLOUD_SECRET_ID": "  \t", "TENCENTCLOUD_SECRET_KEY": "k2"},
			wantError: "TENCENTCLOUD_SECRET_ID is empty or only whitespace"},
		{name: "whitespace sdk id, file present", env: map[string]string{"TENCENTCLOUD_SECRET_ID": " ", "TENCENTCLOUD_SECRET_KEY": "k2"},
			file: "[default]\nsecret_id = AKIDfile\nsecret_key = filekey\n", wantError: "TENCENTCLOUD_SECRET_ID is empty or only whitespace"},
		{name: "whitespace sdk key", env: map[string]string{"TENCENTCLOUD_SECRET_ID": "AKIDsdk", "TENCENTCLOUD_SECRET_KEY": "\n"},
			wantError: "TENCENTCLOUD_SECRET_KEY is empty or only whitespace"},
		{name: "whitespace sdk pair", env: map[string]string{"TENCENTCLOUD_SECRET_ID": " ", "TENCENTCLOUD_SECRET_KEY": " "},
			wantError: "TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY are empty or only whitespace"},
		{name: "whitespace role id", env: map[string]string{"TENCENTCLOUD_SECRETID": " ", "TENCENTCLOUD_SECRETKEY": "k", "TENCENTCLOUD_SESSIONTOKEN": "tok"},
			wantError: "TENCENTCLOUD_SECRETID is empty or only whitespace"},
		{name: "whitespace role key", env: map[string]string{"TENCENTCLOUD_SECRETID": "AKIDrole", "TENCENTCLOUD_SECRETKEY": "\t\n", "TENCENTCLOUD_SESSIONTOKEN": "tok"},
			wantError: "TENCENTCLOUD_SECRETKEY is empty or only whitespace"},
		{name: "whitespace role token", env: map[string]string{"TENCENTCLOUD_SECRETID": "AKIDrole", "TENCENTCLOUD_SECRETKEY": "k", "TENCENTCLOUD_SESSIONTOKEN": "  "},
			wantError: "TENCENTCLOUD_SESSIONTOKEN is only whitespace"},
		{name: "padded values are trimmed", env: map[string]string{"TENCENTCLOUD_SECRETID": " AKIDrole\n", "TENCENTCLOUD_SECRETKEY": "k\n", "TENCENTCLOUD_SESSIONTOKEN": "tok\n"},
			wantID: "AKIDrole", wantToken: "tok", wantSource: "TENCENTCLOUD_SESSIONTOKEN"},
		{name: "profile file", file: "[default]\nsecret_id = AKIDfile\nsecret_key = filekey\n", wantID: "AKIDfile", wantSource: "credentials file"},
		{name: "broken profile file", file: "[default]\nsecret_id = AKIDfile\n", wantError: "no usable secret_id"},
		{name: "nothing", wantError: "TENCENTCLOUD_SECRETID, TENCENTCLOUD_SECRETKEY and TENCENTCLOUD_SESSIONTOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(home, ".tencentcloud", "credentials")
			os.RemoveAll(filepath.Dir(path))
			if tc.file != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Resolve(func(k string) string { return tc.env[k] })
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("err = %v, want %q", err, tc.wantError)
				}
				for _, v := range []string{"filekey", "k2"} {
					if strings.Contains(err.Error(), v) {
						t.Fatalf("error reveals a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.GetSecretId() != tc.wantID || c.GetToken() != tc.wantToken || !strings.Contains(c.Source, tc.wantSource) {
				t.Fatalf("got id=%s token=%s source=%s", c.GetSecretId(), c.GetToken(), c.Source)
			}
		})
	}
}

func TestCredentialNeverPrintsItsKey(t *testing.T) {
	c, err := Resolve(func(k string) string {
		return map[string]string{"TENCENTCLOUD_SECRETID": "AKIDx", "TENCENTCLOUD_SECRETKEY": "SENTINEL-SECRET-KEY", "TENCENTCLOUD_SESSIONTOKEN": "SENTINEL-TOKEN"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "cred", c)
	asJSON, _ := json.Marshal(struct{ C Credential }{c})
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v %v %#v %#v", c, struct{ C Credential }{c}, c, struct{ C Credential }{c}), logs.String(), string(asJSON)} {
		if strings.Contains(out, "SENTINEL") {
			t.Errorf("credential printed its secret: %s", out)
		}
	}
}

// TestResolveCredentialsFile: a credentials file without a [default]
// section is an error naming the file (the SDK would panic on it), never a
// panic, and never quotes the file.
func TestResolveCredentialsFile(t *testing.T) {
	const key = "FILE-SECRET-KEY-SENTINEL"
	tccli := `{"type":"secret","secretId":"AKIDtccli","secretKey":"` + key + `"}`
	tests := []struct {
		name      string
		explicit  *string // TENCENTCLOUD_CREDENTIALS_FILE: nil = unset; "<file>" = the temp file
		file      *string // the file's content; nil = absent
		tccli     bool    // ~/.tccli/default.credential exists
		wantID    string
		wantError []string // all contained in the error
	}{
		{name: "empty file", file: ptr(""), tccli: true, wantError: []string{"TENCENTCLOUD_CREDENTIALS_FILE", ".tencentcloud/credentials", "no [default] section"}},
		{name: "only [prod]", file: ptr("[prod]\nsecret_id = AKIDprod\nsecret_key = " + key + "\n"), tccli: true,
			wantError: []string{"TENCENTCLOUD_CREDENTIALS_FILE", "no [default] section"}},
		{name: "no section header", file: ptr("secret_id = AKIDx\nsecret_key = " + key + "\n"),
			wantError: []string{"TENCENTCLOUD_CREDENTIALS_FILE", "no [default] section"}},
		{name: "only comments", file: ptr("# [default]\n; nothing\n"), wantError: []string{"no [default] section"}},
		{name: "default among others", file: ptr("[prod]\nsecret_id = AKIDprod\nsecret_key = p\n\n [default] \r\nsecret_id = AKIDdef\nsecret_key = " + key + "\n"),
			wantID: "AKIDdef"},
		{name: "explicit file without default", explicit: ptr("<file>"), file: ptr("[prod]\nsecret_id = AKIDprod\nsecret_key = " + key + "\n"), tccli: true,
			wantError: []string{"TENCENTCLOUD_CREDENTIALS_FILE", "custom.ini", "no [default] section"}},
		{name: "explicit file with default", explicit: ptr("<file>"), file: ptr("[default]\nsecret_id = AKIDcustom\nsecret_key = " + key + "\n"), wantID: "AKIDcustom"},
		{name: "explicit file missing", explicit: ptr("<file>"), tccli: true, wantError: []string{"TENCENTCLOUD_CREDENTIALS_FILE", "custom.ini"}},
		{name: "explicit empty", explicit: ptr(""), tccli: true, wantError: []string{"TENCENTCLOUD_CREDENTIALS_FILE is set but empty"}},
		{name: "no file: tccli profile", tccli: true, wantID: "AKIDtccli"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("TCCLI_PROFILE", "default")
			t.Setenv("TENCENTCLOUD_CREDENTIALS_FILE", "")
			os.Unsetenv("TENCENTCLOUD_CREDENTIALS_FILE")
			path := filepath.Join(home, ".tencentcloud", "credentials")
			if tc.explicit != nil {
				v := *tc.explicit
				if v == "<file>" {
					path = filepath.Join(home, "custom.ini")
					v = path
				}
				t.Setenv("TENCENTCLOUD_CREDENTIALS_FILE", v)
			}
			if tc.file != nil {
				write(t, path, *tc.file)
			}
			if tc.tccli {
				write(t, filepath.Join(home, ".tccli", "default.credential"), tccli)
			}
			c, err := Resolve(func(string) string { return "" })
			if tc.wantError == nil {
				if err != nil || c.GetSecretId() != tc.wantID {
					t.Fatalf("Resolve = %v, %v; want %s", c.GetSecretId(), err, tc.wantID)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve = %s, want an error", c.Source)
			}
			for _, w := range tc.wantError {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
			for _, leak := range []string{key, "AKIDprod", "AKIDx"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error quotes the file: %v", err)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
