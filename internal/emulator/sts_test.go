package emulator

import (
	"context"
	"strings"
	"testing"
	"time"
)

const testRole = "qcs::cam::uin/100000000001:roleName/mpgw-keyrotator"

func TestAssumeRole(t *testing.T) {
	tests := []struct {
		name   string
		roles  []string
		region string
		params map[string]any
		want   string
	}{
		{name: "role name", params: map[string]any{"RoleArn": testRole, "RoleSessionName": "rotator"}},
		{name: "role id", params: map[string]any{"RoleArn": "qcs::cam::uin/100000000001:role/4611686018427397919", "RoleSessionName": "rotator"}},
		{name: "service role", params: map[string]any{"RoleArn": "qcs::cam::uin/100000000001:role/tencentcloudServiceRoleName/SCF_QcsRole", "RoleSessionName": "rotator"}},
		{name: "allowed role", roles: []string{testRole}, params: map[string]any{"RoleArn": testRole, "RoleSessionName": "rotator"}},
		{name: "longest duration", params: map[string]any{"RoleArn": testRole, "RoleSessionName": "rotator", "DurationSeconds": 43200}},
		{name: "session name charset", params: map[string]any{"RoleArn": testRole, "RoleSessionName": "a_b+c=d,e.f@g-h"}},

		{name: "role not allowed", roles: []string{testRole}, params: map[string]any{"RoleArn": "qcs::cam::uin/100000000001:roleName/other", "RoleSessionName": "rotator"}, want: "ResourceNotFound.RoleNotFound"},
		{name: "missing region", region: "-", params: map[string]any{"RoleArn": testRole, "RoleSessionName": "rotator"}, want: "MissingParameter"},
		{name: "missing RoleArn", params: map[string]any{"RoleSessionName": "rotator"}, want: "MissingParameter"},
		{name: "malformed RoleArn", params: map[string]any{"RoleArn": "arn:aws:iam::123:role/x", "RoleSessionName": "rotator"}, want: "InvalidParameter.ParamError"},
		{name: "missing session name", params: map[string]any{"RoleArn": testRole}, want: "MissingParameter"},
		{name: "session name too short", params: map[string]any{"RoleArn": testRole, "RoleSessionName": "r"}, want: "InvalidParameter.ParamError"},
		{name: "session name too long", params: map[string]any{"RoleArn": testRole, "RoleSessionName": strings.Repeat("r", 129)}, want: "InvalidParameter.ParamError"},
		{name: "session name with space", params: map[string]any{"RoleArn": testRole, "RoleSessionName": "my session"}, want: "InvalidParameter.ParamError"},
		{name: "duration 0", params: map[string]any{"RoleArn": testRole, "RoleSessionName": "rotator", "DurationSeconds": 0}, want: "InvalidParameter.OverTimeError"},
		{name: "duration over 12h", params: map[string]any{"RoleArn": testRole, "RoleSessionName": "rotator", "DurationSeconds": 43201}, want: "InvalidParameter.OverTimeError"},
		{name: "duration not a number", params: map[string]any{"RoleArn": testRole, "RoleSessionName": "rotator", "DurationSeconds": "7200"}, want: "InvalidParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{Zones: []string{"zone-a"}, Roles: tt.roles})
			region := testRegion
			if tt.region == "-" {
				region = ""
			}
			res, err := f.callIn(region, "AssumeRole", tt.params)
			wantCode(t, err, tt.want)
			if err != nil {
				return
			}
			creds := res["Credentials"].(map[string]any)
			tmp := Credential{SecretID: creds["TmpSecretId"].(string), SecretKey: creds["TmpSecretKey"].(string), Token: creds["Token"].(string)}
			if !strings.HasPrefix(tmp.SecretID, "AKID") || tmp.SecretKey == "" || tmp.Token == "" {
				t.Fatalf("incomplete credentials %v", creds)
			}
			seconds := int64(7200)
			if d, ok := tt.params["DurationSeconds"].(int); ok {
				seconds = int64(d)
			}
			wantExpiry := f.clock.Now().Unix() + seconds
			if got := int64(res["ExpiredTime"].(float64)); got != wantExpiry {
				t.Errorf("ExpiredTime = %d, want %d", got, wantExpiry)
			}
			if got, want := res["Expiration"], time.Unix(wantExpiry, 0).UTC().Format(time.RFC3339); got != want {
				t.Errorf("Expiration = %v, want %v", got, want)
			}
			// The issued credential works for TEO, and only with its token.
			if _, err := send(context.Background(), f.client(tmp, ""), "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"}); err != nil {
				t.Errorf("TEO call with the assumed credential: %v", err)
			}
			noToken := tmp
			noToken.Token = ""
			_, err = send(context.Background(), f.client(noToken, ""), "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})
			wantCode(t, err, "AuthFailure.TokenFailure")
		})
	}
}

func TestAssumedCredentialExpires(t *testing.T) {
	f := newFixture(t, Options{Zones: []string{"zone-a"}})
	res, err := f.callIn(testRegion, "AssumeRole", map[string]any{"RoleArn": testRole, "RoleSessionName": "rotator", "DurationSeconds": 60})
	if err != nil {
		t.Fatal(err)
	}
	creds := res["Credentials"].(map[string]any)
	client := f.client(Credential{SecretID: creds["TmpSecretId"].(string), SecretKey: creds["TmpSecretKey"].(string), Token: creds["Token"].(string)}, "")
	describe := map[string]any{"ZoneId": "zone-a"}

	f.clock.Advance(59 * time.Second)
	if _, err := send(context.Background(), client, "DescribeMultiPathGatewaySecretKey", describe); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	f.clock.Advance(time.Second)
	_, err = send(context.Background(), client, "DescribeMultiPathGatewaySecretKey", describe)
	wantCode(t, err, "AuthFailure.TokenFailure")
}
