package credentials

import (
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
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v %v", c, struct{ C Credential }{c}), logs.String()} {
		if strings.Contains(out, "SENTINEL") {
			t.Errorf("credential printed its secret: %s", out)
		}
	}
}
