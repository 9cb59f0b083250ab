package credentials

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
)

func TestFromSecretValue(t *testing.T) {
	const id, key, token = "AKIDsentinel0001", "secret-key-sentinel-0001", "token-sentinel-0001"
	tests := []struct {
		name, value string
		wantErr     bool
		wantToken   string
		wantSource  string
	}{
		{name: "with token", value: fmt.Sprintf(`{"secretId":%q,"secretKey":%q,"token":%q}`, id, key, token), wantToken: token},
		{name: "without token", value: fmt.Sprintf(`{"secretId":%q,"secretKey":%q}`, id, key)},
		{name: "no key", value: fmt.Sprintf(`{"secretId":%q}`, id), wantErr: true},
		{name: "blank key", value: fmt.Sprintf(`{"secretId":%q,"secretKey":"  "}`, id), wantErr: true},
		{name: "not JSON", value: "secretId=" + id + " secretKey=" + key, wantErr: true},
		{name: "unknown member", value: fmt.Sprintf(`{"secretId":%q,"secretKey":%q,"region":"ap-guangzhou"}`, id, key), wantErr: true},
		{name: "trailing data", value: fmt.Sprintf(`{"secretId":%q,"secretKey":%q} {"x":%q}`, id, key, key), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromSecretValue("tencent/creds", tc.value)
			if tc.wantErr {
				if err == nil || !config.IsConfigError(err) {
					t.Fatalf("err = %v, want a configuration error", err)
				}
				for _, s := range []string{id, key, token} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q quotes the secret's value", err)
					}
				}
				if !strings.Contains(err.Error(), "TENCENTCLOUD_CREDENTIALS_SECRET") {
					t.Errorf("error %q does not name the variable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.GetSecretId() != id || c.GetSecretKey() != key || c.GetToken() != tc.wantToken {
				t.Error("credentials not read as given")
			}
			if s := fmt.Sprintf("%v %+v %s", c, c, c); strings.Contains(s, key) || strings.Contains(s, token) {
				t.Errorf("the credential prints its secret: %s", s)
			}
		})
	}
}
