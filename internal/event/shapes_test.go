package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// samples are the fixtures, one or more per shape, each with the typed
// struct Parse reads it into and the members of the real event that type
// does not model (dropped from the comparison, by path).
var samples = []struct {
	file      string
	shape     string
	typed     func(payload []byte) (any, error)
	unmodeled []string
}{
	{"aws-apigw-v1.json", ShapeAWSRESTv1, decoded[events.APIGatewayProxyRequest], nil},
	{"aws-http-v2.json", ShapeAWSHTTPv2, decoded[events.APIGatewayV2HTTPRequest], nil},
	// Function URL events carry routeKey and stage ("$default") like an
	// HTTP API's; LambdaFunctionURLRequest has neither.
	{"lambda-function-url.json", ShapeAWSFunctionURL, decoded[events.LambdaFunctionURLRequest],
		[]string{"routeKey", "requestContext.routeKey", "requestContext.stage"}},
	{"eventbridge.json", string(Schedule), decoded[events.EventBridgeEvent], nil},
	{"scf-function-url.json", ShapeSCFFunctionURL, decoded[APIGatewayRequest], nil},
	// Nothing is read from the API Gateway's own description of the call.
	{"scf-apigw.json", ShapeSCFAPIGateway, decoded[APIGatewayRequest], []string{"stageVariables",
		"requestContext.serviceId", "requestContext.path", "requestContext.httpMethod", "requestContext.identity", "requestContext.stage"}},
	{"timer.json", string(Timer), members(timerEvent), nil},
	{"timer-note.json", string(Timer), members(timerEvent), nil},
	{"timer-json.json", string(Timer), members(timerEvent), nil},
	{"timer-malformed.json", string(Timer), members(timerEvent), nil},
	{"direct.json", string(Direct), members(directInvoke), nil},
	{"direct-empty.json", string(Direct), members(directInvoke), nil},
}

// decoded decodes a payload into T, as parseHTTP and parseSchedule do.
func decoded[T any](payload []byte) (any, error) {
	typed := new(T)
	return typed, json.Unmarshal(payload, typed)
}

// members reads a payload into T from its members, as parseTimer and
// parseDirect do.
func members[T any](read func(object) (T, error)) func([]byte) (any, error) {
	return func(payload []byte) (any, error) {
		v, _, err := scan(payload)
		if err != nil {
			return nil, err
		}
		return read(v.members)
	}
}

// TestSamplesRoundTrip reads each fixture into its typed struct and
// encodes that back, as aws-lambda-go's own tests do: the JSON must be the
// same, so the fixture holds nothing the decoder silently drops.
// Semantically the same: a null, false, "", 0 or empty member equals an
// absent one, since a typed struct cannot tell them apart.
func TestSamplesRoundTrip(t *testing.T) {
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			in := readSample(t, s.file)
			typed, err := s.typed(in)
			if err != nil {
				t.Fatalf("reading into %T: %v", typed, err)
			}
			out, err := json.Marshal(typed)
			if err != nil {
				t.Fatal(err)
			}
			want, got := semantic(t, in), semantic(t, out)
			for _, path := range s.unmodeled {
				if !deletePath(want, path) {
					t.Errorf("the sample has no %s: remove it from unmodeled", path)
				}
			}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("%T round trip differs:\n got %s\nwant %s", typed, g, w)
			}
		})
	}
}

// TestSamplesCoverEveryShape: every fixture in testdata is in samples, and
// every shape has one.
func TestSamplesCoverEveryShape(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	shapes := map[string]bool{}
	for _, s := range samples {
		listed[s.file], shapes[s.shape] = true, true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is not in samples", f)
		}
	}
	for _, shape := range []string{string(Timer), string(Schedule), string(Direct),
		ShapeSCFFunctionURL, ShapeSCFAPIGateway, ShapeAWSRESTv1, ShapeAWSHTTPv2, ShapeAWSFunctionURL} {
		if !shapes[shape] {
			t.Errorf("no sample of shape %s", shape)
		}
	}
}

// semantic decodes JSON into plain values and prunes the members that carry
// no information (null, false, "", 0, and objects or lists left empty).
func semantic(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	v, _ = prune(v)
	return v
}

func prune(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case bool:
		return x, x
	case string:
		return x, x != ""
	case float64:
		return x, x != 0
	case []any:
		out := []any{}
		for _, e := range x {
			if e, ok := prune(e); ok {
				out = append(out, e)
			}
		}
		return out, len(out) > 0
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e, ok := prune(e); ok {
				out[k] = e
			}
		}
		return out, len(out) > 0
	}
	return v, true
}

func deletePath(v any, path string) bool {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		v = m[p]
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, had := m[parts[len(parts)-1]]
	delete(m, parts[len(parts)-1])
	return had
}

// TestSamplesShape: every sample is recognised as its own shape (the
// malformed timer sample is refused, as a timer).
func TestSamplesShape(t *testing.T) {
	for _, s := range samples {
		ev, err := Parse(readSample(t, s.file))
		shape := string(ev.Kind)
		if ev.HTTP != nil {
			shape = ev.HTTP.Shape
		}
		var pe *Error
		if errors.As(err, &pe) && strings.Contains(s.file, "malformed") {
			shape = pe.Shape
		} else if err != nil {
			t.Fatalf("%s: %v", s.file, err)
		}
		if shape != s.shape {
			t.Errorf("%s: shape %q, want %q", s.file, shape, s.shape)
		}
	}
}

// TestSamplesPadded: any Unicode space around a payload (here a no-break
// space, a vertical tab and a NEL) changes nothing, whatever the shape.
func TestSamplesPadded(t *testing.T) {
	for _, s := range samples {
		raw := readSample(t, s.file)
		want, wantErr := Parse(raw)
		got, err := Parse([]byte("\u00a0\v" + string(raw) + "\u0085"))
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s padded: %+v, %v; unpadded: %+v, %v", s.file, got, err, want, wantErr)
		}
	}
}

// TestParseAWSShapes covers what tells the AWS shapes apart and the typed
// decoders' errors.
func TestParseAWSShapes(t *testing.T) {
	for _, tt := range []struct {
		name, payload, shape, path string
	}{
		{"HTTP API on a custom domain", `{"version":"2.0","rawPath":"/v1/rotate","requestContext":{"domainName":"keys.example.com","http":{"method":"POST"}}}`, ShapeAWSHTTPv2, "/v1/rotate"},
		{"function URL behind CloudFront keeps its domain", `{"version":"2.0","rawPath":"/sync","requestContext":{"domainName":"abc.lambda-url.us-east-1.on.aws","http":{"method":"POST"}}}`, ShapeAWSFunctionURL, "/sync"},
		{"function URL without rawPath", `{"version":"2.0","requestContext":{"domainName":"abc.lambda-url.us-east-1.on.aws","http":{"method":"GET","path":"/check"}}}`, ShapeAWSFunctionURL, "/check"},
		{"payload 1.0 from an HTTP API is REST v1", `{"version":"1.0","resource":"/rotate","path":"/rotate","httpMethod":"POST","requestContext":{}}`, ShapeAWSRESTv1, "/rotate"},
	} {
		ev, err := Parse([]byte(tt.payload))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if ev.HTTP.Shape != tt.shape || ev.HTTP.Path != tt.path {
			t.Errorf("%s: shape %q path %q, want %q %q", tt.name, ev.HTTP.Shape, ev.HTTP.Path, tt.shape, tt.path)
		}
	}
	for _, tt := range []struct {
		name, payload, shape, want string
	}{
		{"v1 header a list", `{"resource":"/","httpMethod":"GET","path":"/","headers":{"a":["x"]}}`, ShapeAWSRESTv1, "headers has the wrong type"},
		{"function URL body an object", `{"version":"2.0","rawPath":"/rotate","body":{},"requestContext":{"domainName":"a.lambda-url.eu-west-1.on.aws"}}`, ShapeAWSFunctionURL, "body has the wrong type"},
		{"function URL bad base64", `{"version":"2.0","rawPath":"/rotate","body":"%%","isBase64Encoded":true,"requestContext":{"domainName":"a.lambda-url.eu-west-1.on.aws"}}`, ShapeAWSFunctionURL, "not valid base64"},
		{"schedule time not RFC 3339", `{"source":"aws.events","detail-type":"Scheduled Event","id":"1","time":"yesterday"}`, string(Schedule), "RFC 3339"},
		{"schedule id a number", `{"source":"aws.events","detail-type":"Scheduled Event","id":1}`, string(Schedule), "id has the wrong type"},
	} {
		_, err := Parse([]byte(tt.payload))
		var pe *Error
		if !errors.As(err, &pe) || pe.Shape != tt.shape || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want shape %q and %q", tt.name, err, tt.shape, tt.want)
		}
	}
}

// TestEncodeResponse: each shape gets its own aws-lambda-go type, with the
// same status, headers and body; the SCF shapes keep the integration
// response byte for byte.
func TestEncodeResponse(t *testing.T) {
	r := Response{StatusCode: 405, Headers: map[string]string{"Content-Type": "application/json", "Allow": "POST"}, Body: `{"ok":false}`}
	for _, tt := range []struct {
		shape   string
		typed   func() any
		members []string
	}{
		{ShapeAWSRESTv1, func() any { return new(events.APIGatewayProxyResponse) }, []string{"body", "headers", "multiValueHeaders", "statusCode"}},
		{ShapeAWSHTTPv2, func() any { return new(events.APIGatewayV2HTTPResponse) }, []string{"body", "cookies", "headers", "multiValueHeaders", "statusCode"}},
		{ShapeAWSFunctionURL, func() any { return new(events.LambdaFunctionURLResponse) }, []string{"body", "cookies", "headers", "isBase64Encoded", "statusCode"}},
	} {
		b, err := EncodeResponse(tt.shape, r)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, tt.members) {
			t.Errorf("%s: members %v, want %v", tt.shape, got, tt.members)
		}
		typed := tt.typed()
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(typed); err != nil {
			t.Fatalf("%s: %s is not a %T: %v", tt.shape, b, typed, err)
		}
		v := reflect.ValueOf(typed).Elem()
		if v.FieldByName("StatusCode").Int() != 405 || v.FieldByName("Body").String() != r.Body ||
			!maps.Equal(v.FieldByName("Headers").Interface().(map[string]string), r.Headers) || v.FieldByName("IsBase64Encoded").Bool() {
			t.Errorf("%s: %s", tt.shape, b)
		}
	}
	for _, shape := range []string{ShapeSCFFunctionURL, ShapeSCFAPIGateway, ""} {
		b, err := EncodeResponse(shape, r)
		want := `{"isBase64Encoded":false,"statusCode":405,"headers":{"Allow":"POST","Content-Type":"application/json"},"body":"{\"ok\":false}"}`
		if err != nil || string(b) != want {
			t.Errorf("%q: %s, want %s", shape, b, want)
		}
	}
}
