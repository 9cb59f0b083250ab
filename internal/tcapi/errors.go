package tcapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
)

// Error is a failed Tencent Cloud API call: which service and action, the
// error code, and whether another attempt may succeed.
type Error struct {
	Service   string // "teo", "ssm", "sts"
	Action    string // e.g. "RefreshMultiPathGatewaySecretKey"
	Code      string // API error code, or ClientError.* for failures on our side of the wire
	Message   string
	RequestID string
	// Resource is the CAM resource the call acted on (with <uin> for the
	// owner account, which the caller does not know), for the remedy of a
	// CAM refusal; "" when unknown.
	Resource string
	cause    error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Service, e.Action, e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (RequestId %s)", e.RequestID)
	}
	if IsUnauthorized(e.Code) {
		b.WriteString(": ")
		b.WriteString(camRemedy(e.Service, e.Action, e.Resource))
	}
	return b.String()
}

// IsUnauthorized says whether code is CAM refusing the call: the
// credentials' policy lacks the action on the resource.
func IsUnauthorized(code string) bool {
	return (hasCode(code, "UnauthorizedOperation") && code != "UnauthorizedOperation.AccessKmsError") || // SSM: KMS, not CAM
		code == "AuthFailure.UnauthorizedOperation"
}

// camRemedy names the CAM action and resource a refused call needed, and
// where the policy that grants them is.
func camRemedy(service, action, resource string) string {
	what := "CAM denied " + service + ":" + action
	if resource != "" {
		what += " on " + resource
	}
	switch service {
	case "teo":
		return what + `; grant it to the function's role with cam-policy.json; if the zone-scoped statement is refused although it names the zone, ` +
			`TEO does not support resource-level authorization for this action: use cam-policy-fallback.json (the TEO actions on "*")`
	case "ssm":
		return what + "; grant it to the function's role with cam-policy.json (secrets as qcs::ssm:<region>:uin/<uin>:secret/creatorUin/*/<name>, " +
			"CreateSecret on qcs::ssm::uin/<uin>:secret/*)"
	}
	return what + "; grant it to the credentials' user or role"
}

// camResource is the CAM resource of a call to service's action with the
// JSON parameters body, in region.
func camResource(service, region, action string, body []byte) string {
	var p struct{ ZoneId, SecretName, RoleArn string }
	_ = json.Unmarshal(body, &p) // the parameters this client encoded
	switch {
	case service == "teo" && p.ZoneId != "":
		return "qcs::teo::uin/<uin>:zone/" + p.ZoneId
	case service == "ssm" && action == "CreateSecret":
		return "qcs::ssm::uin/<uin>:secret/*"
	case service == "ssm" && p.SecretName != "":
		return "qcs::ssm:" + region + ":uin/<uin>:secret/creatorUin/*/" + p.SecretName
	case service == "sts" && p.RoleArn != "":
		return p.RoleArn
	}
	return ""
}

func (e *Error) Unwrap() error { return e.cause }

// Retryable is the one classification of Tencent Cloud API failures into
// transient (worth another attempt) and final.
func (e *Error) Retryable() bool { return RetryableCode(e.Code) }

// RetryableCode says whether a call that failed with code may succeed if sent
// again unchanged: throttling, internal and availability errors, and
// failures of the transport. Everything else (AuthFailure.*,
// UnauthorizedOperation.*, InvalidParameter*, MissingParameter,
// ResourceNotFound*, OperationDenied*, LimitExceeded, …) needs a person.
func RetryableCode(code string) bool {
	switch {
	case hasCode(code, "RequestLimitExceeded"),
		hasCode(code, "InternalError"),
		code == "ServiceUnavailable",
		code == "FailedOperation.AccessKmsError", // KMS behind SSM, transient by nature
		code == codeNetwork, code == codeHTTPStatus, code == codeParse, code == codeIO:
		return true
	}
	return false
}

// hasCode matches a code and its sub-codes: "InternalError" matches
// "InternalError" and "InternalError.DbError", not "InternalErrorX".
func hasCode(code, family string) bool {
	return code == family || strings.HasPrefix(code, family+".")
}

// Codes the SDK produces for failures that never reached an API answer.
const (
	codeNetwork    = "ClientError.NetworkError"
	codeHTTPStatus = "ClientError.HttpStatusCodeError"
	codeParse      = "ClientError.ParseJsonError"
	codeIO         = "ClientError.IOError"
	// codeDecode is an answer that is valid JSON but not the shape this
	// client expects: the same request would get the same answer.
	codeDecode = "ClientError.DecodeError"
)

// Code returns the API error code carried by err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

var httpStatus = regexp.MustCompile(`http status code: (\d{3})`)

// fromSDK converts an SDK error. Messages of the SDK's own ClientError codes
// quote the whole response body, which for a successful Describe or
// GetSecretValue holds the secret: they are replaced by a fixed text.
func fromSDK(service, action string, err error) *Error {
	var se *tcerr.TencentCloudSDKError
	if !errors.As(err, &se) {
		return &Error{Service: service, Action: action, Code: codeNetwork, Message: "request failed", cause: err}
	}
	e := &Error{Service: service, Action: action, Code: se.Code, Message: se.Message, RequestID: se.RequestId}
	switch se.Code {
	case codeNetwork:
		e.Message = "no answer"
		e.cause = se.Unwrap()
	case codeHTTPStatus:
		e.Message = "HTTP status without an API answer"
		if m := httpStatus.FindStringSubmatch(se.Message); m != nil {
			e.Message = "HTTP status " + m[1] + " without an API answer"
		}
	case codeParse, codeIO:
		e.Message = "unreadable answer"
	default:
		if strings.HasPrefix(se.Code, "ClientError") {
			e.Message = "client error"
		}
	}
	return e
}

// secretParamNames are the request parameters that carry a key or a secret's
// value: TEO's SecretKey (Create, Modify), SSM's SecretString.
var secretParamNames = []string{"SecretKey", "SecretString", "SecretBinary"}

// redactParams removes from an API's error message any secret value the
// request carried: a service may quote a parameter it refuses.
func redactParams(msg string, body []byte) string {
	var params map[string]any
	if msg == "" || json.Unmarshal(body, &params) != nil {
		return msg
	}
	for _, name := range secretParamNames {
		if v, ok := params[name].(string); ok && v != "" {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	return msg
}

// Operation is the API action that failed (for reports).
func (e *Error) Operation() string { return e.Action }

// ErrorCode is the API error code (for reports).
func (e *Error) ErrorCode() string { return e.Code }
