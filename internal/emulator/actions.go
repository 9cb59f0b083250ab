package emulator

import (
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/ratelimit"
)

// service describes one emulated product.
type service struct {
	version  string // the only X-TC-Version it accepts
	regional bool   // X-TC-Region is required
}

var services = map[string]service{
	"teo": {version: "2022-09-01"},
	"ssm": {version: "2019-09-23", regional: true},
	"sts": {version: "2018-08-13", regional: true},
}

// call is what an action handler gets: the validated request.
type call struct {
	now    time.Time // emulator clock, read once per request
	region string    // X-TC-Region, or the AWS credential scope's
	params params
	rec    *callRecord // what the call log records of it; may be nil
}

// endpoint is one action with its rate limiter. Action names are unique
// across the services (the AWS ones are "secretsmanager.<Action>"), so
// endpoints are looked up by action alone.
type endpoint struct {
	service   string
	action    string
	perSecond float64
	// window is nil when the limit is off. It counts per action only: the
	// emulator has no accounts, all its credentials belong to one.
	window *ratelimit.Limiter
	handle func(*Emulator, call) (result, error)
}

// newEndpoints lists every emulated action with its documented rate limit
// (requests per second, per action). teoRate < 0 turns the TEO limit off.
func newEndpoints(teoRate float64) map[string]*endpoint {
	const ssmDefault = 50
	list := []*endpoint{
		{service: "teo", action: "CreateMultiPathGatewaySecretKey", perSecond: teoRate, handle: (*Emulator).teoCreate},
		{service: "teo", action: "DescribeMultiPathGatewaySecretKey", perSecond: teoRate, handle: (*Emulator).teoDescribe},
		{service: "teo", action: "ModifyMultiPathGatewaySecretKey", perSecond: teoRate, handle: (*Emulator).teoModify},
		{service: "teo", action: "RefreshMultiPathGatewaySecretKey", perSecond: teoRate, handle: (*Emulator).teoRefresh},

		{service: "ssm", action: "CreateSecret", perSecond: 100, handle: (*Emulator).ssmCreateSecret},
		{service: "ssm", action: "PutSecretValue", perSecond: 100, handle: (*Emulator).ssmPutSecretValue},
		{service: "ssm", action: "UpdateSecret", perSecond: 50, handle: (*Emulator).ssmUpdateSecret},
		{service: "ssm", action: "GetSecretValue", perSecond: 300, handle: (*Emulator).ssmGetSecretValue},
		{service: "ssm", action: "DescribeSecret", perSecond: 40, handle: (*Emulator).ssmDescribeSecret},
		{service: "ssm", action: "ListSecretVersionIds", perSecond: 40, handle: (*Emulator).ssmListSecretVersionIds},
		{service: "ssm", action: "UpdateDescription", perSecond: 20, handle: (*Emulator).ssmUpdateDescription},
		{service: "ssm", action: "DeleteSecretVersion", perSecond: ssmDefault, handle: (*Emulator).ssmDeleteSecretVersion},
		{service: "ssm", action: "DisableSecret", perSecond: ssmDefault, handle: (*Emulator).ssmDisableSecret},
		{service: "ssm", action: "EnableSecret", perSecond: ssmDefault, handle: (*Emulator).ssmEnableSecret},
		{service: "ssm", action: "DeleteSecret", perSecond: ssmDefault, handle: (*Emulator).ssmDeleteSecret},
		{service: "ssm", action: "RestoreSecret", perSecond: ssmDefault, handle: (*Emulator).ssmRestoreSecret},

		{service: "sts", action: "AssumeRole", perSecond: 600, handle: (*Emulator).stsAssumeRole},
	}
	endpoints := make(map[string]*endpoint, len(list))
	for _, ep := range list {
		if ep.perSecond >= 0 {
			ep.window = ratelimit.NewStrict(ep.perSecond)
		}
		endpoints[ep.action] = ep
	}
	for _, ep := range awsEndpoints() {
		endpoints[ep.action] = ep
	}
	return endpoints
}
