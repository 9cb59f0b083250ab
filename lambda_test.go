package keyrotator_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

// awsShape builds an HTTP event of one AWS shape from its fixture, and
// decodes the function's answer as that shape's aws-lambda-go response
// type, refusing any member the type does not have.
type awsShape struct {
	name    string
	build   func(t *testing.T, method, path string, headers map[string]string, body []byte) []byte
	decode  func(t *testing.T, payload []byte) awsResponse
	members []string // the members of the answer, sorted
}

type awsResponse struct {
	StatusCode      int
	Headers         map[string]string
	Body            string
	IsBase64Encoded bool
}

var awsShapes = []awsShape{
	{"REST v1", restV1Event, decodeAs[events.APIGatewayProxyResponse], []string{"body", "headers", "multiValueHeaders", "statusCode"}},
	{"HTTP API v2", httpV2Event, decodeAs[events.APIGatewayV2HTTPResponse], []string{"body", "cookies", "headers", "multiValueHeaders", "statusCode"}},
	{"function URL", functionURLv2Event, decodeAs[events.LambdaFunctionURLResponse], []string{"body", "cookies", "headers", "isBase64Encoded", "statusCode"}},
}

func decodeAs[T events.APIGatewayProxyResponse | events.APIGatewayV2HTTPResponse | events.LambdaFunctionURLResponse](t *testing.T, payload []byte) awsResponse {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.DisallowUnknownFields()
	var r T
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("answer %s is not a %T: %v", payload, r, err)
	}
	switch r := any(r).(type) {
	case events.APIGatewayProxyResponse:
		return awsResponse{r.StatusCode, r.Headers, r.Body, r.IsBase64Encoded}
	case events.APIGatewayV2HTTPResponse:
		return awsResponse{r.StatusCode, r.Headers, r.Body, r.IsBase64Encoded}
	case events.LambdaFunctionURLResponse:
		return awsResponse{r.StatusCode, r.Headers, r.Body, r.IsBase64Encoded}
	}
	panic("unreachable")
}

// restV1Event is the REST v1 sample with a stage in front of path.
func restV1Event(t *testing.T, method, path string, headers map[string]string, body []byte) []byte {
	t.Helper()
	ev := fixtureEvent(t, "aws-apigw-v1.json")
	h, mv := map[string]any{}, map[string]any{}
	for k, v := range headers {
		h[k], mv[k] = v, []string{v}
	}
	ev["headers"], ev["multiValueHeaders"] = h, mv
	ev["httpMethod"], ev["path"], ev["body"] = method, "/prod"+path, string(body)
	rc := ev["requestContext"].(map[string]any)
	rc["httpMethod"], rc["path"] = method, "/prod"+path
	return mustJSON(t, ev)
}

// httpV2Event is the HTTP API sample (payload 2.0) with the given request.
func httpV2Event(t *testing.T, method, path string, headers map[string]string, body []byte) []byte {
	t.Helper()
	return payload2Event(t, "aws-http-v2.json", method, path, headers, body)
}

// functionURLv2Event is the Lambda function URL sample, body base64.
func functionURLv2Event(t *testing.T, method, path string, headers map[string]string, body []byte) []byte {
	t.Helper()
	return payload2Event(t, "lambda-function-url.json", method, path, headers, body)
}

func payload2Event(t *testing.T, fixture, method, path string, headers map[string]string, body []byte) []byte {
	t.Helper()
	ev := fixtureEvent(t, fixture)
	h := map[string]any{}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	ev["headers"], ev["rawPath"] = h, path
	ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString(body), true
	http := ev["requestContext"].(map[string]any)["http"].(map[string]any)
	http["method"], http["path"] = method, path
	return mustJSON(t, ev)
}

// lambdaContext is the context aws-lambda-go gives a handler: a deadline
// and the invocation's metadata.
func lambdaContext(t *testing.T, requestID string, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       requestID,
		InvokedFunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:mpgw-keyrotator",
	})
}

// TestAWSHTTPResponses sends each AWS HTTP shape through Handler.Invoke, as
// lambda.Start would, and checks the answer is that shape's response type
// with the contract's status, Content-Type and body (the report, or the
// error body), never an invocation error.
func TestAWSHTTPResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		auth       auth
		prime      bool
		wantStatus int
		wantMsg    string                    // error body contains
		wantZones  map[string]rotate.Outcome // report
	}{
		{name: "rotate one zone", method: "POST", path: "/rotate", body: `{"zones":["zone-alpha"]}`, auth: bearer,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}},
		{name: "signed sync", method: "POST", path: "/sync", body: `{"action":"sync"}`, auth: signed,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Synced, zoneBeta: rotate.Synced}},
		{name: "check in sync", prime: true, method: "GET", path: "/check", auth: bearer,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.InSync, zoneBeta: rotate.InSync}},
		{name: "check with drift", method: "GET", path: "/check", auth: bearer,
			wantStatus: 502, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Drifted, zoneBeta: rotate.Drifted}},
		{name: "no authentication", method: "POST", path: "/rotate", auth: noAuth, wantStatus: 401, wantMsg: "authentication required"},
		{name: "wrong token", method: "POST", path: "/rotate", auth: wrongBearer, wantStatus: 401, wantMsg: "authentication required"},
		{name: "unknown route", method: "POST", path: "/rotatex", auth: bearer, wantStatus: 404, wantMsg: "no such route"},
		{name: "wrong method", method: "GET", path: "/sync", auth: bearer, wantStatus: 405, wantMsg: "POST only"},
		{name: "bad body", method: "POST", path: "/rotate", body: `[]`, auth: bearer, wantStatus: 400, wantMsg: "not a JSON object"},
		{name: "zone outside the allow-list", method: "POST", path: "/rotate", body: `{"zones":["zone-outside"]}`, auth: bearer,
			wantStatus: 403, wantMsg: zoneOutside},
	}
	for _, shape := range awsShapes {
		for _, tc := range tests {
			t.Run(shape.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				token, whsec := "tt-"+strings.Repeat("x", 8), testkit.NewWebhookSecret()
				c := testkit.NewCloud(t, []string{zoneAlpha, zoneBeta, zoneOutside},
					testkit.WithEnv(map[string]string{"ZONE_IDS": zoneAlpha + "," + zoneBeta, "TRIGGER_TOKEN": token, "TRIGGER_SECRET": whsec}))
				h := handlerkit.New(c)
				if tc.prime {
					if rep, err := h.Run(t.Context(), rotate.Request{Action: rotate.Sync}); err != nil || !rep.OK {
						t.Fatalf("priming sync: %v %+v", err, rep)
					}
				}
				headers, _ := authHeaders(t, tc.auth, token, whsec, []byte(tc.body))
				payload := shape.build(t, tc.method, tc.path, headers, []byte(tc.body))
				const requestID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
				out, err := h.Invoke(lambdaContext(t, requestID, longDeadline), payload)
				if err != nil {
					t.Fatalf("an HTTP event got an invocation error: %v", err)
				}
				assertAWSResponse(t, shape, out, tc.wantStatus)
				r := shape.decode(t, out)
				if tc.wantZones == nil {
					var eb struct {
						OK     *bool  `json:"ok"`
						Status int    `json:"status"`
						Error  string `json:"error"`
					}
					if err := json.Unmarshal([]byte(r.Body), &eb); err != nil || eb.OK == nil || *eb.OK || eb.Status != tc.wantStatus || !strings.Contains(eb.Error, tc.wantMsg) {
						t.Errorf("error body %s, want ok:false, status %d, error mentioning %q", r.Body, tc.wantStatus, tc.wantMsg)
					}
					if n := c.Emu.Calls(actionDescribe) + c.Emu.Calls(actionRefresh); n != 0 {
						t.Errorf("a refused request made %d TEO calls", n)
					}
					return
				}
				rep := decodeReport(t, []byte(r.Body))
				if rep.OK != (tc.wantStatus == 200) || !maps.Equal(outcomes(rep), tc.wantZones) {
					t.Fatalf("report %s, want ok=%v and outcomes %v", r.Body, tc.wantStatus == 200, tc.wantZones)
				}
				if rep.RequestID != requestID {
					t.Errorf("report requestId %q, want the Lambda request id %q", rep.RequestID, requestID)
				}
				for z, o := range tc.wantZones {
					if o == rotate.Rotated || o == rotate.Synced {
						if c.SSMValue(z) != c.Live(z) {
							t.Errorf("%s: SSM does not hold the live key", z)
						}
					}
				}
				logs := c.Logs.String()
				if !strings.Contains(logs, `"functionName":"mpgw-keyrotator"`) || !strings.Contains(logs, `"region":"eu-west-1"`) || !strings.Contains(logs, `"requestId":"`+requestID+`"`) {
					t.Errorf("the log lacks the Lambda function name, region or request id:\n%s", logs)
				}
			})
		}
	}
}

// assertAWSResponse checks the members of an answer, its status, its
// headers and that its body is JSON, not base64.
func assertAWSResponse(t *testing.T, shape awsShape, out []byte, wantStatus int) {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, shape.members) {
		t.Errorf("answer members %v, want %v", got, shape.members)
	}
	r := shape.decode(t, out)
	if r.StatusCode != wantStatus {
		t.Fatalf("status %d, want %d; body %s", r.StatusCode, wantStatus, r.Body)
	}
	if r.IsBase64Encoded {
		t.Errorf("isBase64Encoded is true")
	}
	if !maps.Equal(refusalHeadersChecked(t, r.StatusCode, r.Headers), map[string]string{"Content-Type": "application/json"}) {
		t.Errorf("headers %v, want Content-Type: application/json", r.Headers)
	}
	if !json.Valid([]byte(r.Body)) {
		t.Errorf("body is not JSON: %q", r.Body)
	}
}

// TestAWSMalformedHTTPEvent: an AWS HTTP event the decoder refuses is still
// answered, with 400, in its own shape.
func TestAWSMalformedHTTPEvent(t *testing.T) {
	t.Parallel()
	c := testkit.NewCloud(t, allowedZones)
	h := handlerkit.New(c)
	for _, shape := range awsShapes {
		ev := map[string]any{}
		if err := json.Unmarshal(shape.build(t, "POST", "/rotate", nil, nil), &ev); err != nil {
			t.Fatal(err)
		}
		ev["body"], ev["isBase64Encoded"] = "%%%", true
		out, err := h.Invoke(lambdaContext(t, "r-1", longDeadline), mustJSON(t, ev))
		if err != nil {
			t.Fatalf("%s: invocation error %v", shape.name, err)
		}
		assertAWSResponse(t, shape, out, 400)
		if r := shape.decode(t, out); !strings.Contains(r.Body, "not valid base64") {
			t.Errorf("%s: body %s", shape.name, r.Body)
		}
	}
}

// TestLambdaScheduleAndDirect: an EventBridge schedule rotates every zone
// with rotation id schedule:<id> and the Lambda request id; a direct invoke
// whose report is not ok is an invocation error naming the zone.
func TestLambdaScheduleAndDirect(t *testing.T) {
	t.Parallel()
	c := testkit.NewCloud(t, []string{zoneAlpha, zoneBeta, zoneOutside}, testkit.WithEnv(map[string]string{"ZONE_IDS": zoneAlpha + "," + zoneBeta}))
	h := handlerkit.New(c)
	schedule := readFixture(t, "eventbridge.json")
	out, err := h.Invoke(lambdaContext(t, "req-schedule", longDeadline), schedule)
	if err != nil {
		t.Fatalf("schedule: %v", err)
	}
	rep := decodeReport(t, out)
	if !rep.OK || !maps.Equal(outcomes(rep), map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}) ||
		rep.RequestID != "req-schedule" || !strings.Contains(rep.RotationID, "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa") {
		t.Errorf("schedule report %s", out)
	}

	out, err = h.Invoke(lambdaContext(t, "req-direct", longDeadline), []byte(`{"action":"rotate","zones":["zone-outside"]}`))
	if err == nil || !strings.Contains(err.Error(), zoneOutside) {
		t.Fatalf("direct invoke of a zone outside ZONE_IDS: error %v, want one naming %s", err, zoneOutside)
	}
	if rep := decodeReport(t, out); rep.OK {
		t.Errorf("report %s", out)
	}

	// The Lambda deadline bounds the run: too short to deliver, nothing is refreshed.
	before := c.Emu.Performed(actionRefresh)
	_, err = h.Invoke(lambdaContext(t, "req-short", 1500*time.Millisecond), []byte(`{"action":"rotate"}`))
	if err == nil || !strings.Contains(err.Error(), "skipped") {
		t.Errorf("rotate with 1.5s left: error %v, want the zones skipped", err)
	}
	if n := c.Emu.Performed(actionRefresh) - before; n != 0 {
		t.Errorf("%d refreshes with less than DELIVERY_WINDOW left", n)
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	return mustJSON(t, fixtureEvent(t, name))
}
