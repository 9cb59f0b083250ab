package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
)

// Error is why Parse refused a payload. Messages quote at most a short
// prefix of what they refer to and never a header value, since headers may
// carry tokens.
type Error struct {
	// Shape is the recognised shape: "timer", "schedule", "direct", one of
	// the HTTP Shape constants, or "" when the payload matched none.
	Shape string
	Msg   string
}

func (e *Error) Error() string {
	if e.Shape == "" {
		return e.Msg
	}
	return e.Shape + " event: " + e.Msg
}

// HTTP reports whether the payload was an HTTP event, which must still be
// answered with an integration response (400) rather than an invocation
// error.
func (e *Error) HTTP() bool {
	switch e.Shape {
	case ShapeSCFFunctionURL, ShapeSCFAPIGateway, ShapeAWSRESTv1, ShapeAWSHTTPv2, ShapeAWSFunctionURL:
		return true
	}
	return false
}

// acceptedShapes is the list every unknown-shape error gives, so whoever
// wired the trigger sees what would have worked.
const acceptedShapes = "SCF timer, SCF function URL, SCF API Gateway, AWS API Gateway REST (v1), " +
	`AWS HTTP API (v2), Lambda function URL, AWS EventBridge schedule, direct invoke {"action","zones","rotationId","dryRun"}`

func unknownShape(got string) *Error {
	return &Error{Msg: "unrecognised event (" + got + "); accepted shapes: " + acceptedShapes}
}

func shapeError(shape, format string, args ...any) *Error {
	return &Error{Shape: shape, Msg: fmt.Sprintf(format, args...)}
}

// describe names what a payload that is not a JSON object is, without
// quoting it.
func describe(payload []byte) string {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		return "empty payload"
	}
	if !json.Valid(p) {
		return "not valid JSON"
	}
	switch p[0] {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a JSON boolean"
	}
	return "a JSON number"
}

// describeKeys names an unrecognised (so non-empty: {} is a direct invoke)
// object by its keys, never its values, which may be secrets.
func describeKeys(obj object) string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	slices.Sort(keys)
	return "an object with keys " + excerpt.Of(strings.Join(keys, ", "), 64)
}
