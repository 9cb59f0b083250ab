package event

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// payloadOf is a test case's payload: the sample file when it names one,
// else the inline payload.
func payloadOf(t testing.TB, file, payload string) []byte {
	if file != "" {
		return readSample(t, file)
	}
	return []byte(payload)
}

// body is the request body every HTTP sample but the v2 GET carries.
const body = `{"zones":["zone-2abc1234"]}`

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		file    string // a sample in testdata, or
		payload string // an inline payload
		want    Event
	}{
		{
			name: "timer with empty message rotates all",
			file: "timer.json",
			want: Event{Kind: Timer, RotationID: "timer:nightly-rotate:2025-01-01T02:00:00Z"},
		},
		{
			name: "timer with a note rotates all",
			file: "timer-note.json",
			want: Event{Kind: Timer, RotationID: "timer:nightly-rotate:2025-01-01T02:00:00Z"},
		},
		{
			name: "timer with JSON message, duplicate zone dropped",
			file: "timer-json.json",
			want: Event{Kind: Timer, Action: "check", Zones: []string{"zone-2abc1234", "zone-9xyz0000"}, RotationID: "timer:hourly-check:2025-01-01T03:00:00Z"},
		},
		// Unicode space around the object (vertical tab, form feed, NEL,
		// no-break space) is tolerated, as plain JSON space is.
		{name: "direct invoke after a vertical tab", payload: "\v{}", want: Event{Kind: Direct}},
		{name: "direct invoke before a form feed", payload: "{}\f", want: Event{Kind: Direct}},
		{name: "direct invoke after a no-break space", payload: "\u00a0{}", want: Event{Kind: Direct}},
		{name: "direct invoke before a NEL", payload: "{}\u0085", want: Event{Kind: Direct}},
		{
			name:    "timer after a vertical tab",
			payload: "\v" + `{"Type":"Timer","TriggerName":"t","Time":"2025-01-01T00:00:00Z"}`,
			want:    Event{Kind: Timer, RotationID: "timer:t:2025-01-01T00:00:00Z"},
		},
		{
			name:    "timer without Message member",
			payload: `{"Type":"Timer","TriggerName":"t","Time":"2025-01-01T00:00:00Z"}`,
			want:    Event{Kind: Timer, RotationID: "timer:t:2025-01-01T00:00:00Z"},
		},
		{
			name:    "timer with null Message",
			payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":null}`,
			want:    Event{Kind: Timer, RotationID: "timer:t:x"},
		},
		{
			name:    "timer with a quoted JSON string message is a note",
			payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"\"scheduled\""}`,
			want:    Event{Kind: Timer, RotationID: "timer:t:x"},
		},
		{
			name:    "timer note rotate is a note",
			payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"rotate"}`,
			want:    Event{Kind: Timer, RotationID: "timer:t:x"},
		},
		{
			name:    "timer message with only action, padded",
			payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"  {\"action\":\"sync\"}\n"}`,
			want:    Event{Kind: Timer, Action: "sync", RotationID: "timer:t:x"},
		},
		{
			name: "SCF function URL",
			file: "scf-function-url.json",
			want: Event{Kind: HTTP, HTTP: &HTTPRequest{
				Shape:  ShapeSCFFunctionURL,
				Method: "POST",
				Path:   "/rotate",
				Headers: http.Header{
					"Accept":            {"*/*"},
					"Accept-Encoding":   {"gzip, deflate, br"},
					"Authorization":     {"Bearer example-token"},
					"Cache-Control":     {"no-cache"},
					"Connection":        {"keep-alive"},
					"Content-Length":    {"27"},
					"Content-Type":      {"application/json"},
					"Host":              {"1250000000-abcdefgh.ap-guangzhou.tencentscf.com"},
					"User-Agent":        {"curl/8.5.0"},
					"X-Scf-Remote-Addr": {"111.206.96.145"},
				},
				Query:    url.Values{"a": {"1"}, "b": {"2"}},
				Body:     []byte(body),
				SourceIP: "111.206.96.145",
			}},
		},
		{
			name: "SCF API Gateway: queryString string, list and true; base64 body",
			file: "scf-apigw.json",
			want: Event{Kind: HTTP, HTTP: &HTTPRequest{
				Shape:  ShapeSCFAPIGateway,
				Method: "POST",
				Path:   "/release/rotate",
				Headers: http.Header{
					"Authorization":        {"Bearer example-token"},
					"Content-Type":         {"application/json"},
					"Host":                 {"service-abc12345-1250000000.gz.apigw.tencentcs.com"},
					"X-Anonymous-Consumer": {"true"},
					"X-Qualifier":          {"$LATEST"},
				},
				Query:     url.Values{"dry": {"1"}, "tag": {"a", "b"}, "verbose": {""}},
				Body:      []byte(body),
				SourceIP:  "10.0.0.1",
				RequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
			}},
		},
		{
			name: "AWS REST v1: multi-value maps win",
			file: "aws-apigw-v1.json",
			want: Event{Kind: HTTP, HTTP: &HTTPRequest{
				Shape:  ShapeAWSRESTv1,
				Method: "POST",
				Path:   "/keys/sync",
				Headers: http.Header{
					"Accept":            {"*/*"},
					"Authorization":     {"Bearer example-token"},
					"Content-Type":      {"application/json"},
					"Host":              {"abcdef1234.execute-api.eu-west-1.amazonaws.com"},
					"X-Forwarded-For":   {"203.0.113.7, 198.51.100.2"},
					"X-Forwarded-Port":  {"443"},
					"X-Forwarded-Proto": {"https"},
				},
				Query:     url.Values{"trace": {"1", "2"}},
				Body:      []byte(`{"zones":["zone-2abc1234","zone-9xyz0000"]}`),
				SourceIP:  "203.0.113.7",
				RequestID: "41b45ea3-70b5-11e6-b7bd-69b5aaebc7d9",
			}},
		},
		{
			name: "AWS HTTP API v2: raw query, cookies",
			file: "aws-http-v2.json",
			want: Event{Kind: HTTP, HTTP: &HTTPRequest{
				Shape:  ShapeAWSHTTPv2,
				Method: "GET",
				Path:   "/default/check",
				Headers: http.Header{
					"Accept":            {"*/*"},
					"Content-Length":    {"0"},
					"Cookie":            {"session=abc; theme=dark"},
					"Host":              {"abcdef1234.execute-api.eu-west-1.amazonaws.com"},
					"User-Agent":        {"curl/8.5.0"},
					"Webhook-Id":        {"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
					"X-Amzn-Trace-Id":   {"Root=1-5e6722a7-cc56xmpl46db7ae02d4da47e"},
					"X-Forwarded-For":   {"198.51.100.9"},
					"X-Forwarded-Port":  {"443"},
					"X-Forwarded-Proto": {"https"},
				},
				Query:     url.Values{"verbose": {"1"}, "zone": {"a", "b"}},
				Body:      []byte{},
				SourceIP:  "198.51.100.9",
				RequestID: "JKJaXmPLvHcESHA=",
			}},
		},
		{
			name: "Lambda function URL",
			file: "lambda-function-url.json",
			want: Event{Kind: HTTP, HTTP: &HTTPRequest{
				Shape:  ShapeAWSFunctionURL,
				Method: "POST",
				Path:   "/rotate/",
				Headers: http.Header{
					"Authorization":     {"Bearer example-token"},
					"Content-Type":      {"application/json"},
					"Host":              {"abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws"},
					"User-Agent":        {"curl/8.5.0"},
					"X-Forwarded-For":   {"192.0.2.44"},
					"X-Forwarded-Proto": {"https"},
				},
				Query:     url.Values{},
				Body:      []byte(body),
				SourceIP:  "192.0.2.44",
				RequestID: "0e2a1f6a-2c3d-4b5e-8f90-1a2b3c4d5e6f",
			}},
		},
		{
			name:    "HTTP: list header values, both casings kept in sorted key order, method upper-cased",
			payload: `{"httpMethod":"post","path":"/sync","headers":{"authorization":"Bearer b","Authorization":["Bearer a","Bearer c"],"X-Null":null}}`,
			want: Event{Kind: HTTP, HTTP: &HTTPRequest{
				Shape: ShapeSCFFunctionURL, Method: "POST", Path: "/sync",
				Headers: http.Header{"Authorization": {"Bearer a", "Bearer c", "Bearer b"}},
				Query:   url.Values{}, Body: []byte{},
			}},
		},
		{
			name:    "HTTP v2 without rawPath, malformed query pair dropped",
			payload: `{"version":"2.0","rawQueryString":"a=1&b=%zz;c","requestContext":{"http":{"method":"get","path":"/check"}}}`,
			want: Event{Kind: HTTP, HTTP: &HTTPRequest{
				Shape: ShapeAWSHTTPv2, Method: "GET", Path: "/check",
				Headers: http.Header{}, Query: url.Values{"a": {"1"}}, Body: []byte{},
			}},
		},
		{
			name:    "SCF function URL with a null body",
			payload: `{"httpMethod":"GET","path":"/check","body":null,"queryString":{"x":null}}`,
			want: Event{Kind: HTTP, HTTP: &HTTPRequest{
				Shape: ShapeSCFFunctionURL, Method: "GET", Path: "/check",
				Headers: http.Header{}, Query: url.Values{}, Body: []byte{},
			}},
		},
		{
			name: "EventBridge schedule",
			file: "eventbridge.json",
			want: Event{Kind: Schedule, RotationID: "schedule:53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"},
		},
		{
			name: "direct with every field",
			file: "direct.json",
			want: Event{Kind: Direct, Action: "rotate", Zones: []string{"zone-2abc1234"}, RotationID: "manual-2025-01-01", DryRun: true},
		},
		{
			name: "direct {} rotates all",
			file: "direct-empty.json",
			want: Event{Kind: Direct},
		},
		{name: "direct action", payload: `{"action":"sync"}`, want: Event{Kind: Direct, Action: "sync"}},
		{name: "direct zones", payload: `{"zones":["zone-a","zone-b"]}`, want: Event{Kind: Direct, Zones: []string{"zone-a", "zone-b"}}},
		{name: "direct rotationId", payload: `{"rotationId":"r-1"}`, want: Event{Kind: Direct, RotationID: "r-1"}},
		{name: "direct empty rotationId", payload: `{"rotationId":""}`, want: Event{Kind: Direct}},
		{name: "direct dryRun false", payload: ` {"dryRun":false} `, want: Event{Kind: Direct}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(payloadOf(t, tt.file, tt.payload))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tt.want)
				if got.HTTP != nil && tt.want.HTTP != nil {
					t.Errorf("HTTP:\n got %+v\nwant %+v", *got.HTTP, *tt.want.HTTP)
				}
			}
		})
	}
}

func TestParseHeaderLookupIgnoresCase(t *testing.T) {
	for _, file := range []string{"scf-function-url.json", "scf-apigw.json", "aws-apigw-v1.json", "lambda-function-url.json"} {
		ev, err := Parse(readSample(t, file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, name := range []string{"authorization", "AUTHORIZATION", "Authorization", "aUtHoRiZaTiOn"} {
			if got := ev.HTTP.Headers.Get(name); got != "Bearer example-token" {
				t.Errorf("%s: Headers.Get(%q) = %q", file, name, got)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		payload string
		shape   string // the *Error's Shape; "" = unknown shape
		want    string // a substring of the message
	}{
		{name: "empty array", payload: `[]`, want: "a JSON array"},
		{name: "string", payload: `"x"`, want: "a JSON string"},
		{name: "null", payload: `null`, want: "null"},
		{name: "number", payload: `42`, want: "a JSON number"},
		{name: "boolean", payload: `true`, want: "a JSON boolean"},
		{name: "empty payload", payload: ``, want: "empty payload"},
		{name: "truncated JSON", payload: `{"Type":"Timer","TriggerName":"t"`, want: "not valid JSON"},
		{name: "unknown key", payload: `{"foo":1}`, want: `an object with keys "foo"`},
		{name: "direct key with wrong case", payload: `{"Action":"sync"}`, want: `keys "Action"`},
		{name: "direct key mixed with unknown", payload: `{"action":"sync","force":true}`, want: `"action", "force"`},
		{name: "other Type", payload: `{"Type":"COS","Records":[]}`, want: "accepted shapes"},
		{name: "other EventBridge event", payload: `{"source":"aws.events","detail-type":"EC2 Instance State-change Notification","id":"1"}`, want: "accepted shapes"},
		{name: "v2 without path or http", payload: `{"version":"2.0","headers":{}}`, want: "accepted shapes"},
		{name: "httpMethod without path", payload: `{"httpMethod":"POST"}`, want: "accepted shapes"},

		{name: "timer with malformed JSON message", file: "timer-malformed.json", shape: "timer", want: `unknown member "zone"`},
		{name: "timer truncated JSON message", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"action\":\"sync\""}`, shape: "timer", want: "not valid JSON"},
		{name: "timer unknown action", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"action\":\"rotat\"}"}`, shape: "timer", want: `unknown action "rotat"`},
		{name: "timer empty action", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"action\":\"\"}"}`, shape: "timer", want: "unknown action"},
		{name: "timer zones a string", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"zones\":\"zone-a\"}"}`, shape: "timer", want: "must be a list"},
		{name: "timer zones empty", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"zones\":[]}"}`, shape: "timer", want: "is empty"},
		{name: "timer zone id malformed", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"zones\":[\"Zone-A\"]}"}`, shape: "timer", want: `"Zone-A" is not a zone id`},
		{name: "timer zones with a number", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"zones\":[1]}"}`, shape: "timer", want: "must be a list"},
		{name: "timer zones null", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"zones\":null}"}`, shape: "timer", want: "must be a list"},
		{name: "timer message list", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"[\"zone-a\"]"}`, shape: "timer", want: "not a list"},
		{name: "timer note naming check", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"Check"}`, shape: "timer", want: `{"action":"check"}`},
		{name: "timer message not a string", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":{"action":"sync"}}`, shape: "timer", want: "Message must be a string"},
		{name: "timer without TriggerName", payload: `{"Type":"Timer","Time":"x"}`, shape: "timer", want: "TriggerName is missing"},
		{name: "timer without Time", payload: `{"Type":"Timer","TriggerName":"t","Time":""}`, shape: "timer", want: "Time is missing"},
		{name: "schedule without id", payload: `{"source":"aws.events","detail-type":"Scheduled Event"}`, shape: "schedule", want: "id is missing"},

		{name: "direct unknown action", payload: `{"action":"delete"}`, shape: "direct", want: `unknown action "delete"`},
		{name: "direct action null", payload: `{"action":null}`, shape: "direct", want: "must be a string"},
		{name: "direct zone malformed", payload: `{"zones":["zone-A"]}`, shape: "direct", want: "not a zone id"},
		{name: "direct dryRun string", payload: `{"dryRun":"yes"}`, shape: "direct", want: "dryRun"},
		{name: "direct dryRun with sync", payload: `{"action":"sync","dryRun":true}`, shape: "direct", want: `"dryRun" is for rotate only: sync`},
		{name: "direct dryRun with check", payload: `{"action":"check","zones":["zone-a"],"dryRun":true}`, shape: "direct", want: `"dryRun" is for rotate only: check`},
		{name: "direct rotationId number", payload: `{"rotationId":7}`, shape: "direct", want: "rotationId"},

		{name: "bad base64 body", payload: `{"httpMethod":"POST","path":"/rotate","body":"%%%","isBase64Encoded":true}`, shape: ShapeSCFFunctionURL, want: "not valid base64"},
		{name: "header value a number", payload: `{"httpMethod":"POST","path":"/rotate","headers":{"Authorization":7}}`, shape: ShapeSCFFunctionURL, want: "neither a string nor a list"},
		{name: "body an object", payload: `{"version":"2.0","rawPath":"/check","body":{"zones":[]}}`, shape: ShapeAWSHTTPv2, want: "body has the wrong type"},
		{name: "v1 requestContext a string", payload: `{"resource":"/","httpMethod":"GET","path":"/","requestContext":"x"}`, shape: ShapeAWSRESTv1, want: "requestContext has the wrong type"},
		{name: "apigw httpMethod a number", payload: `{"httpMethod":1,"path":"/","requestContext":{"serviceId":"service-1"}}`, shape: ShapeSCFAPIGateway, want: "httpMethod has the wrong type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse(payloadOf(t, tt.file, tt.payload))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", ev)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if pe.Shape != tt.shape {
				t.Errorf("Shape = %q, want %q", pe.Shape, tt.shape)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.shape == "" && !strings.Contains(err.Error(), acceptedShapes) {
				t.Errorf("unknown-shape error %q does not list the accepted shapes", err)
			}
			// The HTTP shape names are the only ones with a dash.
			if pe.HTTP() != strings.Contains(tt.shape, "-") {
				t.Errorf("HTTP() = %v for shape %q", pe.HTTP(), tt.shape)
			}
		})
	}
}

func TestErrorsDoNotEchoPayload(t *testing.T) {
	const secret = "Bearer sk_live_SECRET"
	long := strings.Repeat("z", 500)
	payloads := []string{
		`{"headers":{"Authorization":"` + secret + `"},"foo":1}`,
		`{"httpMethod":"POST","path":"/rotate","headers":{"Authorization":"` + secret + `"},"body":"!","isBase64Encoded":true}`,
		`{"httpMethod":"POST","path":"/rotate","headers":{"Authorization":["` + secret + `",1]}}`,
		`{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"zones\":[\"` + long + `\"]}"}`,
		`{"` + long + `":1}`,
		`{"action":"` + long + `"}`,
	}
	for _, p := range payloads {
		_, err := Parse([]byte(p))
		if err == nil {
			t.Fatalf("Parse(%.40s…) succeeded", p)
		}
		msg := err.Error()
		if strings.Contains(msg, "SECRET") {
			t.Errorf("error echoes a header value: %s", msg)
		}
		if strings.Contains(msg, strings.Repeat("z", 65)) {
			t.Errorf("error echoes more than 64 bytes of input: %s", msg)
		}
	}
}
