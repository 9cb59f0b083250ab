package event

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// awsSamples are the AWS fixtures, each with the aws-lambda-go type Parse
// decodes it into and the members of the real event that type does not
// model (dropped from the comparison, by path).
var awsSamples = []struct {
	file      string
	shape     string
	typed     func() any
	unmodeled []string
}{
	{"aws-apigw-v1.json", ShapeAWSRESTv1, func() any { return new(events.APIGatewayProxyRequest) }, nil},
	{"aws-http-v2.json", ShapeAWSHTTPv2, func() any { return new(events.APIGatewayV2HTTPRequest) }, nil},
	// Function URL events carry routeKey and stage ("$default") like an
	// HTTP API's; LambdaFunctionURLRequest has neither.
	{"lambda-function-url.json", ShapeAWSFunctionURL, func() any { return new(events.LambdaFunctionURLRequest) },
		[]string{"routeKey", "requestContext.routeKey", "requestContext.stage"}},
	{"eventbridge.json", string(Schedule), func() any { return new(events.EventBridgeEvent) }, nil},
}

// TestAWSSamplesRoundTrip decodes each AWS fixture into its aws-lambda-go
// type and encodes it back, as aws-lambda-go's own tests do: the JSON must
// be the same, so the fixture holds nothing the decoder silently drops.
// Semantically the same: a null, false, "", 0 or empty member equals an
// absent one, since a typed struct cannot tell them apart.
func TestAWSSamplesRoundTrip(t *testing.T) {
	for _, s := range awsSamples {
		t.Run(s.file, func(t *testing.T) {
			in := readSample(t, s.file)
			typed := s.typed()
			if err := json.Unmarshal(in, typed); err != nil {
				t.Fatalf("decoding into %T: %v", typed, err)
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

// TestAWSSamplesShape: every AWS sample is recognised as its own shape.
func TestAWSSamplesShape(t *testing.T) {
	for _, s := range awsSamples {
		ev, err := Parse(readSample(t, s.file))
		if err != nil {
			t.Fatalf("%s: %v", s.file, err)
		}
		shape := string(ev.Kind)
		if ev.HTTP != nil {
			shape = ev.HTTP.Shape
		}
		if shape != s.shape {
			t.Errorf("%s: shape %q, want %q", s.file, shape, s.shape)
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
