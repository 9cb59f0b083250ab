// Package event holds the event shapes the function can be invoked with on
// either platform and turns each into one plain Event. On Tencent SCF:
// the timer trigger (TimerEvent), the function URL and the legacy API
// Gateway trigger (APIGatewayRequest). On AWS Lambda: the EventBridge
// schedule, API Gateway REST (v1) and HTTP API (v2), and function URLs,
// as aws-lambda-go's events types. On both: a direct invoke (DirectInvoke).
//
// Parse reads a payload at most twice. scan walks it once, token by token: it
// collects the top-level members (and requestContext's) by exact name,
// from which detect names the shape, and finds any member repeated in one
// object, which is refused. The payload is then decoded once into its
// shape's typed struct; a timer or a direct invoke, whose members must
// match by exact name, is read from the members scan collected.
//
// The package only reads and validates shapes: which zones may be touched
// and who may trigger is decided elsewhere.
package event

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
)

// Kind is the family of trigger an Event came from.
type Kind string

// Kinds of Event.
const (
	Timer    Kind = "timer"    // SCF timer trigger
	Schedule Kind = "schedule" // AWS EventBridge scheduled event: a timer with an empty message
	HTTP     Kind = "http"     // any HTTP shape; HTTPRequest.Shape says which
	Direct   Kind = "direct"   // direct invoke {"action","zones","rotationId","dryRun"}
)

// HTTP shapes, the values of HTTPRequest.Shape.
const (
	ShapeSCFFunctionURL = "scf-function-url"
	ShapeSCFAPIGateway  = "scf-apigw"
	ShapeAWSRESTv1      = "aws-apigw-v1"
	ShapeAWSHTTPv2      = "aws-http-v2" // AWS HTTP API, payload format 2.0
	ShapeAWSFunctionURL = "aws-function-url"
)

// Event is one invocation, whatever its shape.
type Event struct {
	Kind Kind
	// Action is "rotate", "sync", "check", or "" (= rotate), as the timer
	// Message or the direct payload asked. Empty for HTTP: the route decides.
	Action rotate.Action
	// Zones are the requested zones; nil means all. Their shape is checked
	// here, their membership of the allow-list is not.
	Zones []string
	// RotationID identifies this trigger across platform retries:
	// "timer:<TriggerName>:<Time>", "schedule:<id>", or the direct
	// rotationId (which may be ""). Empty for HTTP (see httptrigger).
	RotationID string
	DryRun     bool         // direct invoke only
	HTTP       *HTTPRequest // set iff Kind is HTTP
}

// HTTPRequest is the request an HTTP-shaped event carries.
type HTTPRequest struct {
	Shape   string      // one of the Shape constants
	Method  string      // upper case
	Path    string      // as the client sent it, stage or prefix included
	Headers http.Header // canonical keys, so lookups ignore the event's casing
	Query   url.Values
	Body    []byte // base64-decoded when the event says isBase64Encoded
	// SourceIP is x-scf-remote-addr for SCF function URLs, the
	// requestContext's source IP otherwise.
	SourceIP  string
	RequestID string // requestContext.requestId when present
}

// Response is the answer to an HTTP event. Its JSON form is the SCF
// integration response; EncodeResponse gives each AWS shape its own.
type Response struct {
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
}

// Parse recognises the shape of payload and returns it as an Event. An
// error is an *Error; for a recognised HTTP shape its HTTP method reports
// true, so the caller can still answer with an integration response.
func Parse(payload []byte) (Event, error) {
	// Any Unicode space around the object is tolerated, as it always was.
	payload = bytes.TrimSpace(payload)
	v, dup, err := scan(payload)
	if err != nil || v.members == nil {
		return Event{}, unknownShape(describe(payload))
	}
	top := v.members
	shape := detect(top)
	var ev Event
	switch shape {
	case "":
		return Event{}, unknownShape(describeKeys(top))
	case string(Timer):
		ev, err = parseTimer(top)
	case string(Schedule):
		ev, err = parseSchedule(payload)
	case string(Direct):
		ev, err = parseDirect(top)
	default:
		ev, err = parseHTTP(shape, payload)
	}
	if err != nil {
		return Event{}, err
	}
	// Refused once the shape is known, so that an HTTP event is still
	// answered in its own shape (400).
	if dup != nil {
		return Event{}, shapeError(shape, "%v", duplicateError(*dup))
	}
	return ev, nil
}

// detect names the shape of an event from its top-level members (and
// requestContext's), or returns "" for none: "timer", "schedule",
// "direct" or an HTTP Shape constant.
func detect(top object) string {
	switch {
	case top["Type"].string() == "Timer":
		return string(Timer)
	case top["source"].string() == "aws.events" && top["detail-type"].string() == "Scheduled Event":
		return string(Schedule)
	}
	if shape := httpShape(top); shape != "" {
		return shape
	}
	if _, unknown := unknownKey(top, directKeys); !unknown {
		return string(Direct)
	}
	return ""
}

// httpShape tells the HTTP shapes apart by the members only they have, or
// returns "".
func httpShape(top object) string {
	rc := top["requestContext"].members // nil unless an object
	if top["version"].string() == "2.0" {
		// Payload 2.0 (HTTP API, Lambda function URL) has rawPath and
		// requestContext.http; 1.0 from an HTTP API looks like REST v1.
		_, raw := top["rawPath"]
		_, http := rc["http"]
		switch {
		case !raw && !http:
			return ""
		case strings.Contains(rc["domainName"].string(), ".lambda-url."):
			// A function URL's domain is always <url-id>.lambda-url.<region>.on.aws
			// (also behind CloudFront); an HTTP API's never is.
			return ShapeAWSFunctionURL
		}
		return ShapeAWSHTTPv2
	}
	if _, ok := top["httpMethod"]; !ok {
		return ""
	}
	if _, ok := top["resource"]; ok {
		return ShapeAWSRESTv1
	}
	if _, ok := top["path"]; !ok {
		return ""
	}
	// Only the API Gateway integration request names its service; a
	// function URL event is the same shape with requestContext removed.
	if rc["serviceId"].string() != "" {
		return ShapeSCFAPIGateway
	}
	return ShapeSCFFunctionURL
}
