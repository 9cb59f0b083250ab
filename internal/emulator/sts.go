package emulator

import (
	"regexp"
	"time"
)

const (
	defaultAssumeRoleSeconds = 7200
	maxAssumeRoleSeconds     = 43200
)

var (
	// qcs::cam::uin/<uin>:roleName/<name> or qcs::cam::uin/<uin>:role/<id>,
	// including the service-role forms role/tencentcloudServiceRole/<id> and
	// role/tencentcloudServiceRoleName/<name>.
	roleArnPattern     = regexp.MustCompile(`^qcs::cam::uin/[0-9]+:(roleName/[\w+=,.@-]+|role/(tencentcloudServiceRole/|tencentcloudServiceRoleName/)?[\w+=,.@-]+)$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,128}$`)
)

// stsAssumeRole issues temporary credentials that the emulator accepts for
// every service until they expire on the emulator clock. Policy, ExternalId
// and Tags are accepted and ignored: the emulator does not model CAM.
func (e *Emulator) stsAssumeRole(c call) (result, error) {
	r := c.params.reader()
	arn := r.required("RoleArn")
	if !roleArnPattern.MatchString(arn) {
		r.check(apiErrorf("InvalidParameter.ParamError", "The parameter `RoleArn` is not a valid role ARN (qcs::cam::uin/<uin>:roleName/<name> or qcs::cam::uin/<uin>:role/<id>)."))
	}
	session := r.required("RoleSessionName")
	if !sessionNamePattern.MatchString(session) {
		r.check(apiErrorf("InvalidParameter.ParamError", "The parameter `RoleSessionName` must be 2 to 128 characters of [\\w+=,.@-]."))
	}
	seconds := r.integer("DurationSeconds", defaultAssumeRoleSeconds)
	if seconds < 1 || seconds > maxAssumeRoleSeconds {
		r.check(apiErrorf("InvalidParameter.OverTimeError", "The parameter `DurationSeconds` must be between 1 and %d.", maxAssumeRoleSeconds))
	}
	if r.err != nil {
		return nil, r.err
	}
	if e.roles != nil && !e.roles[arn] {
		return nil, apiErrorf("ResourceNotFound.RoleNotFound", "The role `%s` does not exist.", arn)
	}

	cred := newCredential()
	cred.Token = newSessionToken()
	// Whole seconds, so that the expiry enforced is the one reported.
	cred.Expires = c.now.Add(time.Duration(seconds) * time.Second).Truncate(time.Second)
	e.AddCredential(cred)
	return result{
		"Credentials": map[string]string{
			"Token":        cred.Token,
			"TmpSecretId":  cred.SecretID,
			"TmpSecretKey": cred.SecretKey,
		},
		"ExpiredTime": cred.Expires.Unix(),
		"Expiration":  cred.Expires.UTC().Format(time.RFC3339),
	}, nil
}
