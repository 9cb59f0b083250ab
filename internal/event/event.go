// Package event turns every payload the function can be invoked with (SCF
// timer, SCF function URL, legacy SCF API Gateway, AWS API Gateway REST and
// HTTP API, Lambda function URL, EventBridge schedule, direct invoke) into
// one plain Event. It only reads and validates shapes: which zones may be
// touched and who may trigger is decided elsewhere.
package event

import (
	"net/http"
	"net/url"

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
	ev, err := parse(payload)
	if err != nil {
		return Event{}, err
	}
	// Checked on the whole payload once its shape is known, so that an HTTP
	// event is still answered in its own shape (400).
	if name, dup := DuplicateMember(payload); dup {
		shape := string(ev.Kind)
		if ev.HTTP != nil {
			shape = ev.HTTP.Shape
		}
		return Event{}, shapeError(shape, "%v", duplicateError(name))
	}
	return ev, nil
}

func parse(payload []byte) (Event, error) {
	obj, ok := decodeObject(payload)
	if !ok {
		return Event{}, unknownShape(describe(payload))
	}
	switch {
	case stringField(obj, "Type") == "Timer":
		return parseTimer(obj)
	case stringField(obj, "source") == "aws.events" && stringField(obj, "detail-type") == "Scheduled Event":
		return parseSchedule(payload)
	}
	if shape := httpShape(obj); shape != "" {
		return parseHTTP(shape, payload)
	}
	if _, unknown := unknownKey(obj, directKeys); !unknown {
		return parseDirect(obj)
	}
	return Event{}, unknownShape(describeKeys(obj))
}
