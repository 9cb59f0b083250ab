package credentials

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
)

// FromSecretValue reads Tencent Cloud credentials from the value of the AWS
// secret named by TENCENTCLOUD_CREDENTIALS_SECRET:
// {"secretId":"…","secretKey":"…","token":"…"} (token optional). Errors
// say what is wrong with the value, never what it holds.
func FromSecretValue(name, value string) (Credential, error) {
	var v struct {
		SecretID  string `json:"secretId"`
		SecretKey string `json:"secretKey"`
		Token     string `json:"token"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(value)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil || dec.More() {
		// The decoder's message may quote the value.
		return Credential{}, problem("TENCENTCLOUD_CREDENTIALS_SECRET", fmt.Errorf(`the value of AWS secret %s is not {"secretId":…,"secretKey":…,"token":…} (token optional)`, name))
	}
	v.SecretID, v.SecretKey, v.Token = strings.TrimSpace(v.SecretID), strings.TrimSpace(v.SecretKey), strings.TrimSpace(v.Token)
	if v.SecretID == "" || v.SecretKey == "" {
		return Credential{}, problem("TENCENTCLOUD_CREDENTIALS_SECRET", errors.New("the value of AWS secret "+name+" lacks secretId or secretKey"))
	}
	return Credential{common.NewTokenCredential(v.SecretID, v.SecretKey, v.Token), "AWS secret " + name + " (TENCENTCLOUD_CREDENTIALS_SECRET)"}, nil
}
