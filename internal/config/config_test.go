package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
)

func TestParseZones(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "zone-abc123", want: []string{"zone-abc123"}},
		{in: "zone-a,zone-b zone-c\tzone-d\nzone-e", want: []string{"zone-a", "zone-b", "zone-c", "zone-d", "zone-e"}},
		{in: " , zone-a,, zone-b ,", want: []string{"zone-a", "zone-b"}},
		{in: "zone-a,zone-a,zone-b,zone-a", want: []string{"zone-a", "zone-b"}},
		{in: "", wantErr: "no zone ids"},
		{in: " ,, ", wantErr: "no zone ids"},
		{in: "zone-ABC", wantErr: "not a zone id"},
		{in: "zone-", wantErr: "not a zone id"},
		{in: "zone_abc", wantErr: "not a zone id"},
		{in: "abc", wantErr: "not a zone id"},
		{in: "zone-a;zone-b", wantErr: "not a zone id"},
		{in: "zone-a/../b", wantErr: "not a zone id"},
		{in: "zone-ab\x00c", wantErr: "not a zone id"},
		{in: "zone-日本", wantErr: "not a zone id"},
		{in: "zone-" + strings.Repeat("a", 65), wantErr: "not a zone id"},
		{in: "zone-a,*", wantErr: "not a zone id"},
	}
	for _, tc := range tests {
		got, err := ParseZones(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseZones(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseZones(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

const goodSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// field is a TestLoad check that the part of the Config get picks is want.
func field[T comparable](what string, get func(Config) T, want T) func(*testing.T, Config) {
	return func(t *testing.T, c Config) {
		t.Helper()
		if got := get(c); got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{"ZONE_IDS": "zone-a,zone-b", "SSM_SECRET_NAME": "mpgw-{zone}", "TENCENTCLOUD_REGION": "ap-guangzhou"}
		for k, v := range extra {
			if v == "<unset>" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name     string
		env      map[string]string
		wantVars []string // variables named in the error, in order
		check    func(t *testing.T, c Config)
	}{
		{name: "defaults", env: base(nil), check: func(t *testing.T, c Config) {
			if c.TEO.URL() != "https://teo.tencentcloudapi.com" || c.TEORateLimit != 20 || c.SSM.VersionID != "current" ||
				c.SSM.Region != "ap-guangzhou" || c.SSM.Endpoint.Host != "ssm.tencentcloudapi.com" || c.Webhook != nil ||
				c.STS.Host != "sts.tencentcloudapi.com" || c.LogLevel.String() != "INFO" {
				t.Errorf("unexpected defaults: %+v %+v", c, c.SSM)
			}
			if c.SSM.SecretNameFor("zone-a") != "mpgw-zone-a" {
				t.Errorf("SecretNameFor = %q", c.SSM.SecretNameFor("zone-a"))
			}
		}},
		{name: "webhook only", env: base(map[string]string{"SSM_SECRET_NAME": "<unset>", "WEBHOOK_URL": "https://hooks.example.com/teo", "WEBHOOK_SECRET": goodSecret, "WEBHOOK_INCLUDE_KEY": "false"}),
			check: func(t *testing.T, c Config) {
				if c.SSM != nil || c.Webhook == nil || c.Webhook.IncludeKey || c.Webhook.URL.Host != "hooks.example.com" {
					t.Errorf("unexpected webhook config: %+v", c.Webhook)
				}
			}},
		{name: "loopback http webhook", env: base(map[string]string{"WEBHOOK_URL": "http://127.0.0.1:9999/hook", "WEBHOOK_SECRET": goodSecret})},
		{name: "no sink", env: base(map[string]string{"SSM_SECRET_NAME": "<unset>"}), wantVars: []string{"SSM_SECRET_NAME"}},
		{name: "no zones", env: base(map[string]string{"ZONE_IDS": "<unset>"}), wantVars: []string{"ZONE_IDS"}},
		{name: "garbage zones", env: base(map[string]string{"ZONE_IDS": "zone-a,DROP TABLE"}), wantVars: []string{"ZONE_IDS"}},
		{name: "shared secret name", env: base(map[string]string{"SSM_SECRET_NAME": "mpgw-key"}), wantVars: []string{"SSM_SECRET_NAME"}},
		{name: "one zone shared name ok", env: base(map[string]string{"ZONE_IDS": "zone-a", "SSM_SECRET_NAME": "mpgw-key"})},
		{name: "bad secret name", env: base(map[string]string{"SSM_SECRET_NAME": "-{zone}/x"}), wantVars: []string{"SSM_SECRET_NAME"}},
		{name: "no region", env: base(map[string]string{"TENCENTCLOUD_REGION": "<unset>"}), wantVars: []string{"SSM_REGION"}},
		{name: "bad region", env: base(map[string]string{"SSM_REGION": "Guangzhou!"}), wantVars: []string{"SSM_REGION"}},
		{name: "bad version", env: base(map[string]string{"SSM_VERSION_ID": ".hidden"}), wantVars: []string{"SSM_VERSION_ID"}},
		{name: "pending version default", env: base(nil), check: field("pending version", func(c Config) string { return c.SSM.PendingVersionID }, "pending")},
		{name: "pending version", env: base(map[string]string{"SSM_PENDING_VERSION_ID": "next-key"}), check: field("pending version", func(c Config) string { return c.SSM.PendingVersionID }, "next-key")},
		{name: "bad pending version", env: base(map[string]string{"SSM_PENDING_VERSION_ID": "-x/y"}), wantVars: []string{"SSM_PENDING_VERSION_ID"}},
		{name: "pending version is the version, staged", env: base(map[string]string{"ROTATION_MODE": "staged", "SSM_VERSION_ID": "live", "SSM_PENDING_VERSION_ID": "live"}),
			wantVars: []string{"SSM_PENDING_VERSION_ID"}},
		{name: "pending version is the version, refresh mode: unused", env: base(map[string]string{"SSM_VERSION_ID": "pending"})},
		{name: "bad endpoints", env: base(map[string]string{"TEO_ENDPOINT": "http://evil.example.com", "SSM_ENDPOINT": "https://x/y", "STS_ENDPOINT": "::"}),
			wantVars: []string{"TEO_ENDPOINT", "STS_ENDPOINT", "SSM_ENDPOINT"}},
		{name: "bad rate", env: base(map[string]string{"TEO_RATE_LIMIT": "fast"}), wantVars: []string{"TEO_RATE_LIMIT"}},
		{name: "zero rate", env: base(map[string]string{"TEO_RATE_LIMIT": "0"}), wantVars: []string{"TEO_RATE_LIMIT"}},
		{name: "NaN rate", env: base(map[string]string{"TEO_RATE_LIMIT": "NaN"}), wantVars: []string{"TEO_RATE_LIMIT"}},
		{name: "nan rate", env: base(map[string]string{"TEO_RATE_LIMIT": "nan"}), wantVars: []string{"TEO_RATE_LIMIT"}},
		{name: "Inf rate", env: base(map[string]string{"TEO_RATE_LIMIT": "Inf"}), wantVars: []string{"TEO_RATE_LIMIT"}},
		{name: "+Inf rate", env: base(map[string]string{"TEO_RATE_LIMIT": "+Inf"}), wantVars: []string{"TEO_RATE_LIMIT"}},
		{name: "infinity rate", env: base(map[string]string{"TEO_RATE_LIMIT": "infinity"}), wantVars: []string{"TEO_RATE_LIMIT"}},
		{name: "-Inf rate", env: base(map[string]string{"TEO_RATE_LIMIT": "-Inf"}), wantVars: []string{"TEO_RATE_LIMIT"}},
		{name: "fractional rate", env: base(map[string]string{"TEO_RATE_LIMIT": "2.5"}), check: field("rate", func(c Config) float64 { return c.TEORateLimit }, 2.5)},
		{name: "default delivery window", env: base(nil), check: field("window", func(c Config) time.Duration { return c.DeliveryWindow }, DefaultDeliveryWindow)},
		{name: "delivery window", env: base(map[string]string{"DELIVERY_WINDOW": "1m30s"}), check: field("window", func(c Config) time.Duration { return c.DeliveryWindow }, 90*time.Second)},
		{name: "delivery window not a duration", env: base(map[string]string{"DELIVERY_WINDOW": "5"}), wantVars: []string{"DELIVERY_WINDOW"}},
		{name: "delivery window too short", env: base(map[string]string{"DELIVERY_WINDOW": "10ms"}), wantVars: []string{"DELIVERY_WINDOW"}},
		{name: "delivery window too long", env: base(map[string]string{"DELIVERY_WINDOW": "1h"}), wantVars: []string{"DELIVERY_WINDOW"}},
		{name: "delivery window negative", env: base(map[string]string{"DELIVERY_WINDOW": "-5s"}), wantVars: []string{"DELIVERY_WINDOW"}},
		{name: "rotation interval and key age defaults", env: base(nil), check: func(t *testing.T, c Config) {
			if c.MinRotationInterval != 10*time.Minute || c.MaxKeyAge != 0 {
				t.Errorf("interval %v, key age %v", c.MinRotationInterval, c.MaxKeyAge)
			}
		}},
		{name: "rotation interval off", env: base(map[string]string{"MIN_ROTATION_INTERVAL": "0"}), check: field("interval", func(c Config) time.Duration { return c.MinRotationInterval }, 0)},
		{name: "rotation interval bad", env: base(map[string]string{"MIN_ROTATION_INTERVAL": "soon"}), wantVars: []string{"MIN_ROTATION_INTERVAL"}},
		{name: "key age in days", env: base(map[string]string{"MAX_KEY_AGE": "30d"}), check: field("key age", func(c Config) time.Duration { return c.MaxKeyAge }, 30*24*time.Hour)},
		{name: "key age duration", env: base(map[string]string{"MAX_KEY_AGE": "36h"}), check: field("key age", func(c Config) time.Duration { return c.MaxKeyAge }, 36*time.Hour)},
		{name: "key age bad", env: base(map[string]string{"MAX_KEY_AGE": "a month"}), wantVars: []string{"MAX_KEY_AGE"}},
		{name: "key age negative days", env: base(map[string]string{"MAX_KEY_AGE": "-3d"}), wantVars: []string{"MAX_KEY_AGE"}},
		{name: "key age too short", env: base(map[string]string{"MAX_KEY_AGE": "5m"}), wantVars: []string{"MAX_KEY_AGE"}},
		{name: "refresh mode by default", env: base(nil), check: field("staged", func(c Config) bool { return c.Staged }, false)},
		{name: "staged mode", env: base(map[string]string{"ROTATION_MODE": "staged"}), check: field("staged", func(c Config) bool { return c.Staged }, true)},
		{name: "staged mode without a durable sink", env: base(map[string]string{"ROTATION_MODE": "staged", "SSM_SECRET_NAME": "<unset>",
			"WEBHOOK_URL": "https://hooks.example.com", "WEBHOOK_SECRET": goodSecret}), wantVars: []string{"ROTATION_MODE"}},
		{name: "bad mode", env: base(map[string]string{"ROTATION_MODE": "fast"}), wantVars: []string{"ROTATION_MODE"}},
		{name: "bad level", env: base(map[string]string{"LOG_LEVEL": "loud"}), wantVars: []string{"LOG_LEVEL"}},
		{name: "webhook http remote", env: base(map[string]string{"WEBHOOK_URL": "http://hooks.example.com", "WEBHOOK_SECRET": goodSecret}), wantVars: []string{"WEBHOOK_URL"}},
		{name: "webhook no secret", env: base(map[string]string{"WEBHOOK_URL": "https://hooks.example.com"}), wantVars: []string{"WEBHOOK_SECRET"}},
		{name: "webhook bad secret", env: base(map[string]string{"WEBHOOK_URL": "https://hooks.example.com", "WEBHOOK_SECRET": "whsec_@@@"}), wantVars: []string{"WEBHOOK_SECRET"}},
		{name: "webhook short secret", env: base(map[string]string{"WEBHOOK_URL": "https://hooks.example.com", "WEBHOOK_SECRET": "whsec_AAEC"}), wantVars: []string{"WEBHOOK_SECRET"}},
		{name: "webhook secret without url", env: base(map[string]string{"WEBHOOK_SECRET": goodSecret}), wantVars: []string{"WEBHOOK_URL"}},
		{name: "webhook include key garbage", env: base(map[string]string{"WEBHOOK_URL": "https://h.example.com", "WEBHOOK_SECRET": goodSecret, "WEBHOOK_INCLUDE_KEY": "maybe"}), wantVars: []string{"WEBHOOK_INCLUDE_KEY"}},
		{name: "webhook url with credentials", env: base(map[string]string{"WEBHOOK_URL": "https://u:p@h.example.com", "WEBHOOK_SECRET": goodSecret}), wantVars: []string{"WEBHOOK_URL"}},
		{name: "trigger secret garbage", env: base(map[string]string{"TRIGGER_SECRET": "hunter2"}), wantVars: []string{"TRIGGER_SECRET"}},
		{name: "role arn", env: base(map[string]string{"ROLE_ARN": "qcs::cam::uin/100000000001:roleName/rotator"})},
		{name: "bad role arn", env: base(map[string]string{"ROLE_ARN": "arn:aws:iam::1:role/x"}), wantVars: []string{"ROLE_ARN"}},
		{name: "aws sink", env: base(map[string]string{"AWS_SECRET_ID": "mpgw/{zone}", "AWS_REGION": "us-east-1"}), check: func(t *testing.T, c Config) {
			if c.AWS == nil || c.AWS.SecretIDFor("zone-a") != "mpgw/zone-a" {
				t.Errorf("AWS = %+v", c.AWS)
			}
		}},
		{name: "aws sink only", env: base(map[string]string{"SSM_SECRET_NAME": "<unset>", "AWS_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:mpgw-{zone}",
			"AWS_DEFAULT_REGION": "us-east-1"})},
		{name: "aws sink without region", env: base(map[string]string{"AWS_SECRET_ID": "mpgw/{zone}"}), wantVars: []string{"AWS_REGION"}},
		{name: "aws sink bad region", env: base(map[string]string{"AWS_SECRET_ID": "mpgw/{zone}", "AWS_REGION": "Virginia"}), wantVars: []string{"AWS_REGION"}},
		{name: "aws shared secret", env: base(map[string]string{"AWS_SECRET_ID": "mpgw", "AWS_REGION": "us-east-1"}), wantVars: []string{"AWS_SECRET_ID"}},
		{name: "aws bad secret id", env: base(map[string]string{"AWS_SECRET_ID": "mpgw {zone}!", "AWS_REGION": "us-east-1"}), wantVars: []string{"AWS_SECRET_ID"}},
		{name: "aws bad endpoint", env: base(map[string]string{"AWS_SECRET_ID": "mpgw/{zone}", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://sm.example.com"}),
			wantVars: []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER"}},
		{name: "tencent credentials in aws", env: base(map[string]string{"TENCENTCLOUD_CREDENTIALS_SECRET": "tencent/creds", "AWS_REGION": "us-east-1"}), check: field("TencentCredentialsSecret", func(c Config) string { return c.TencentCredentialsSecret }, "tencent/creds")},
		{name: "tencent credentials secret bad", env: base(map[string]string{"TENCENTCLOUD_CREDENTIALS_SECRET": "bad name!", "AWS_REGION": "us-east-1"}),
			wantVars: []string{"TENCENTCLOUD_CREDENTIALS_SECRET"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(tc.env))
			if len(tc.wantVars) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || !IsConfigError(err) {
				t.Fatalf("Load error = %v, want *Error", err)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, p.Var)
			}
			if !reflect.DeepEqual(got, tc.wantVars) {
				t.Errorf("problems name %v, want %v (%v)", got, tc.wantVars, err)
			}
			if strings.Contains(err.Error(), goodSecret[6:]) {
				t.Errorf("error reveals a secret: %v", err)
			}
		})
	}
}

// TestLoadChecksEveryZonesSecretName: the length limits of SSM_SECRET_NAME
// and AWS_SECRET_ID apply after {zone} is replaced, so each configured zone's
// name is checked, not a sample zone's.
func TestLoadChecksEveryZonesSecretName(t *testing.T) {
	long := "zone-" + strings.Repeat("a", 30) // 35 bytes; the sample zone has 17
	tests := []struct {
		name     string
		env      map[string]string
		wantVars []string
		wantMsg  string
	}{
		{name: "ssm name fits every zone", env: map[string]string{"ZONE_IDS": "zone-a " + long, "SSM_SECRET_NAME": strings.Repeat("s", 90) + "-{zone}"}},
		{name: "ssm name too long for a long zone", env: map[string]string{"ZONE_IDS": "zone-a " + long, "SSM_SECRET_NAME": strings.Repeat("s", 100) + "-{zone}"},
			wantVars: []string{"SSM_SECRET_NAME"}, wantMsg: "for zone " + long},
		{name: "ssm name too long, one zone", env: map[string]string{"ZONE_IDS": long, "SSM_SECRET_NAME": strings.Repeat("s", 100) + "{zone}"},
			wantVars: []string{"SSM_SECRET_NAME"}, wantMsg: "at most 128 bytes"},
		{name: "ssm name with bad zone ids", env: map[string]string{"ZONE_IDS": "Zone-A", "SSM_SECRET_NAME": strings.Repeat("s", 120) + "{zone}"},
			wantVars: []string{"ZONE_IDS", "SSM_SECRET_NAME"}},
		{name: "aws id fits every zone", env: map[string]string{"ZONE_IDS": "zone-a," + long, "SSM_SECRET_NAME": "<unset>", "AWS_SECRET_ID": strings.Repeat("a", 470) + "/{zone}", "AWS_REGION": "us-east-1"}},
		{name: "aws id too long for a long zone", env: map[string]string{"ZONE_IDS": "zone-a," + long, "SSM_SECRET_NAME": "<unset>", "AWS_SECRET_ID": strings.Repeat("a", 480) + "/{zone}", "AWS_REGION": "us-east-1"},
			wantVars: []string{"AWS_SECRET_ID"}, wantMsg: "for zone " + long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{"TENCENTCLOUD_REGION": "ap-guangzhou"}
			for k, v := range tc.env {
				if v != "<unset>" {
					m[k] = v
				}
			}
			_, err := Load(env(m))
			var got []string
			var ce *Error
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					got = append(got, p.Var)
				}
			} else if err != nil {
				t.Fatalf("Load error %v, want *Error", err)
			}
			if !reflect.DeepEqual(got, tc.wantVars) {
				t.Fatalf("problems name %v, want %v (%v)", got, tc.wantVars, err)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantMsg)
			}
		})
	}
}

// TestEndpointNeverQuotesUserinfo: an endpoint with user:password@ is
// refused, and no error, whatever else is wrong with the value, quotes it.
func TestEndpointNeverQuotesUserinfo(t *testing.T) {
	const password = "Pa55-SENTINEL"
	values := []string{
		"https://user:" + password + "@teo.tencentcloudapi.com",
		"user:" + password + "@teo.tencentcloudapi.com",
		"http://user:" + password + "@evil.example.com",
		"https://user:" + password + "@teo.tencentcloudapi.com/path?q=1",
		"https://user:" + password + "@bad_host",
		"https://user:" + password + "%zz@teo.tencentcloudapi.com",
		"https://user:" + password + " x@teo.tencentcloudapi.com",
		"ftp://" + password + "@teo.tencentcloudapi.com",
		"https://" + password + "@[::1",
	}
	for _, v := range values {
		_, err := endpoint.Parse(v)
		if err == nil || !strings.Contains(err.Error(), "must not carry credentials") {
			t.Errorf("endpoint.Parse(%q) error = %v, want credentials refused", v, err)
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("endpoint.Parse error quotes the password: %v", err)
		}
		for _, name := range []string{"TEO_ENDPOINT", "SSM_ENDPOINT", "STS_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"} {
			_, err := Load(env(map[string]string{"ZONE_IDS": "zone-a", "SSM_SECRET_NAME": "k", "TENCENTCLOUD_REGION": "ap-guangzhou",
				"AWS_SECRET_ID": "k", "AWS_REGION": "us-east-1", name: v}))
			if err == nil || !strings.Contains(err.Error(), name+": an endpoint must not carry credentials") || strings.Contains(err.Error(), password) {
				t.Errorf("%s=%q: error %v, want it named and the password not quoted", name, v, err)
			}
		}
	}
	// An '@' in a path is no userinfo (the path is refused for itself).
	if _, err := endpoint.Parse("https://teo.tencentcloudapi.com/a@b"); err == nil || !strings.Contains(err.Error(), "no path") {
		t.Errorf("path with @: %v", err)
	}
}

func TestForZone(t *testing.T) {
	for _, tt := range []struct{ template, want string }{
		{"mpgw-key-{zone}", "mpgw-key-zone-a"},
		{"{zone}/{zone}", "zone-a/zone-a"},
		{"fixed-name", "fixed-name"},
		{"mpgw-{Zone}", "mpgw-{Zone}"},
	} {
		if got := ForZone(tt.template, "zone-a"); got != tt.want {
			t.Errorf("ForZone(%q) = %q, want %q", tt.template, got, tt.want)
		}
	}
}
