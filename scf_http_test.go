package keyrotator_test

// End-to-end tests of HTTP events (SCF function URL and API Gateway)
// through the SCF runtime (scf_harness_test.go). They prove the wiring: the
// configuration reaches internal/httptrigger (whose own tests cover every
// refusal), a refusal calls nothing, and a report comes back as an
// integration response.

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

type httpShape struct {
	name  string
	build func(t *testing.T, method, path string, headers map[string]string, body []byte) []byte
}

var httpShapes = []httpShape{
	{"function URL", functionURLEvent},
	{"API Gateway", apiGatewayEvent},
}

// functionURLEvent is the SCF function URL sample with lower-case headers
// (as the function URL sends them) and a plain body.
func functionURLEvent(t *testing.T, method, path string, headers map[string]string, body []byte) []byte {
	t.Helper()
	ev := fixtureEvent(t, "scf-function-url.json")
	h := ev["headers"].(map[string]any)
	delete(h, "authorization")
	delete(h, "content-length")
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	ev["httpMethod"], ev["path"], ev["body"] = method, path, string(body)
	return mustJSON(t, ev)
}

// apiGatewayEvent is the legacy SCF API Gateway integration request sample
// with canonical header names, a stage prefix and a base64 body.
func apiGatewayEvent(t *testing.T, method, path string, headers map[string]string, body []byte) []byte {
	t.Helper()
	ev := fixtureEvent(t, "scf-apigw.json")
	h := ev["headers"].(map[string]any)
	delete(h, "Authorization")
	for k, v := range headers {
		h[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	rc := ev["requestContext"].(map[string]any)
	rc["path"], rc["httpMethod"] = path, method
	ev["httpMethod"], ev["path"] = method, "/release"+path
	ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString(body), true
	return mustJSON(t, ev)
}

type integrationResponse struct {
	StatusCode int
	Body       []byte
}

// decodeIntegration checks that payload is exactly an integration response
// with a JSON body.
func decodeIntegration(t *testing.T, payload []byte) integrationResponse {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatalf("integration response %q: %v", payload, err)
	}
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"body", "headers", "isBase64Encoded", "statusCode"}) {
		t.Errorf("integration response members %v, want body, headers, isBase64Encoded, statusCode", keys)
	}
	var r struct {
		IsBase64Encoded *bool             `json:"isBase64Encoded"`
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Body            *string           `json:"body"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		t.Fatalf("integration response %q: %v", payload, err)
	}
	if r.IsBase64Encoded == nil || *r.IsBase64Encoded {
		t.Errorf("isBase64Encoded = %s, want false", raw["isBase64Encoded"])
	}
	if !maps.Equal(refusalHeadersChecked(t, r.StatusCode, r.Headers), map[string]string{"Content-Type": "application/json"}) {
		t.Errorf("headers = %v, want Content-Type: application/json only", r.Headers)
	}
	if r.Body == nil || !json.Valid([]byte(*r.Body)) {
		t.Fatalf("body is not JSON: %s", raw["body"])
	}
	return integrationResponse{StatusCode: r.StatusCode, Body: []byte(*r.Body)}
}

// auth says how a test HTTP request authenticates.
type auth int

const (
	noAuth       auth = iota
	bearer            // Authorization: Bearer TRIGGER_TOKEN
	wrongBearer       // a bearer token that is not TRIGGER_TOKEN
	signed            // Standard Webhooks signature with TRIGGER_SECRET
	badSignature      // signed with another secret
)

// authHeaders returns the headers that authenticate body as a says.
func authHeaders(t *testing.T, a auth, token, whsec string, body []byte) (map[string]string, string) {
	t.Helper()
	sign := func(secret string) (map[string]string, string) {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		id := "msg_" + keyrotator.NewRequestID()
		now := time.Now()
		sig, err := wh.Sign(id, now, body)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{
			"content-type": "application/json", "webhook-id": id,
			"webhook-timestamp": strconv.FormatInt(now.Unix(), 10), "webhook-signature": sig,
		}, id
	}
	switch a {
	case bearer:
		return map[string]string{"content-type": "application/json", "authorization": "Bearer " + token}, ""
	case wrongBearer:
		return map[string]string{"content-type": "application/json", "authorization": "Bearer not-" + token}, ""
	case signed:
		return sign(whsec)
	case badSignature:
		return sign(testkit.NewWebhookSecret())
	}
	return map[string]string{"content-type": "application/json"}, ""
}

// TestHTTPTrigger sends HTTP events of both SCF shapes through the runtime.
// The refusals kept here prove the wiring (TRIGGER_TOKEN/TRIGGER_SECRET,
// ZONE_IDS, the body limit after the event's decoding, the instance's replay
// guard) and that a refusal calls nothing; the rest of the refusal rules are
// internal/httptrigger's TestDecide and TestDecideBindsActionToSignature.
func TestHTTPTrigger(t *testing.T) {
	t.Parallel()
	oversize := []byte(`{"zones":["zone-alpha"],"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	both := map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Rotated}
	// Every member of a row is asserted.
	tests := []struct {
		name      string
		noTrigger bool // neither TRIGGER_TOKEN nor TRIGGER_SECRET configured
		prime     bool
		fault     *emulator.Fault
		method    string
		path      string
		body      string
		bodyBytes []byte // instead of body
		auth      auth
		repeat    bool          // send the identical request again; the second answer is checked
		otherInst bool          // send the repeat to another instance
		deadline  time.Duration // 0 = longDeadline
		// The answer: a refusal (wantZones nil: an error body, nothing
		// called) or a report with exactly wantZones.
		wantStatus int
		wantMsg    string // the error body contains (refusals); the zones' errors contain, "" = none has one (reports)
		wantZones  map[string]rotate.Outcome
		// idFromWebhook: the report's rotationId is the request's webhook-id.
		idFromWebhook bool
		wantRefresh   int      // performed in total (after priming)
		wantChanged   []string // zones whose key changed
		delivered     []string // zones whose SSM secret and webhook receiver hold the live key
		secrets       []string // zones with an SSM secret at the end
		writes        bool     // an SSM write action was called (after priming)
	}{
		{name: "bearer rotate of one zone", method: "POST", path: "/rotate", body: `{"zones":["zone-alpha"]}`, auth: bearer,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated}, wantRefresh: 1, wantChanged: []string{zoneAlpha},
			delivered: []string{zoneAlpha}, secrets: []string{zoneAlpha}, writes: true},
		{name: "signed rotate of every zone", method: "POST", path: "/rotate", body: `{"action":"rotate"}`, auth: signed,
			wantStatus: 200, wantZones: both, idFromWebhook: true,
			wantRefresh: 2, wantChanged: allowedZones, delivered: allowedZones, secrets: allowedZones, writes: true},
		{name: "signed request replayed", method: "POST", path: "/rotate", body: `{"action":"rotate","zones":["zone-beta"]}`, auth: signed, repeat: true,
			wantStatus: 409, wantMsg: "already been served", wantRefresh: 1, wantChanged: []string{zoneBeta},
			delivered: []string{zoneBeta}, secrets: []string{zoneBeta}, writes: true},
		{name: "signed request redelivered to another instance", method: "POST", path: "/rotate", body: `{"action":"rotate","zones":["zone-beta"]}`, auth: signed,
			repeat: true, otherInst: true,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneBeta: rotate.Rotated}, idFromWebhook: true, wantRefresh: 1, wantChanged: []string{zoneBeta},
			delivered: []string{zoneBeta}, secrets: []string{zoneBeta}, writes: true},
		{name: "POST sync", method: "POST", path: "/sync", auth: bearer,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Synced, zoneBeta: rotate.Synced},
			delivered: allowedZones, secrets: allowedZones, writes: true},
		{name: "GET check in sync", prime: true, method: "GET", path: "/check", auth: bearer,
			wantStatus: 200, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.InSync, zoneBeta: rotate.InSync},
			delivered: allowedZones, secrets: allowedZones},
		{name: "GET check with drift", method: "GET", path: "/check", body: `{"action":"check","zones":["zone-beta"]}`, auth: signed,
			wantStatus: 502, wantZones: map[string]rotate.Outcome{zoneBeta: rotate.Drifted}, wantMsg: "run sync"},
		{name: "a failing zone", method: "POST", path: "/rotate", auth: bearer,
			fault:      &emulator.Fault{Action: actionDescribe, Target: zoneBeta, Code: "AuthFailure.UnauthorizedOperation"},
			wantStatus: 502, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Rotated, zoneBeta: rotate.Failed},
			wantMsg: "AuthFailure.UnauthorizedOperation", wantRefresh: 1, wantChanged: []string{zoneAlpha},
			delivered: []string{zoneAlpha}, secrets: []string{zoneAlpha}, writes: true},
		{name: "deadline already past", method: "POST", path: "/rotate", auth: bearer, deadline: -time.Second,
			wantStatus: 502, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Skipped, zoneBeta: rotate.Skipped},
			wantMsg: "ran out of time"},
		{name: "deadline shorter than the delivery budget", method: "POST", path: "/rotate", auth: bearer, deadline: 1500 * time.Millisecond,
			wantStatus: 502, wantZones: map[string]rotate.Outcome{zoneAlpha: rotate.Skipped, zoneBeta: rotate.Skipped},
			wantMsg: "left before the deadline, DELIVERY_WINDOW is 5s"},

		{name: "no authentication", method: "POST", path: "/rotate", auth: noAuth, wantStatus: 401, wantMsg: "authentication required"},
		{name: "neither token nor secret configured", noTrigger: true, method: "POST", path: "/rotate", auth: bearer,
			wantStatus: 401, wantMsg: "no TRIGGER_TOKEN or TRIGGER_SECRET"},
		{name: "zone outside the allow-list", method: "POST", path: "/rotate", body: `{"zones":["zone-alpha","zone-outside"]}`, auth: bearer,
			wantStatus: 403, wantMsg: zoneOutside},
		{name: "oversize body", method: "POST", path: "/rotate", bodyBytes: oversize, auth: bearer, wantStatus: 413, wantMsg: "64 KiB"},
		// Wiring: the limit holds on the decoded body, before authentication.
		{name: "oversize body before authentication", method: "POST", path: "/rotate", bodyBytes: oversize, auth: noAuth, wantStatus: 413, wantMsg: "64 KiB"},
	}
	for _, shape := range httpShapes {
		for _, tc := range tests {
			t.Run(shape.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				env := map[string]string{"TRIGGER_TOKEN": "tt-" + keyrotator.NewRequestID(), "TRIGGER_SECRET": testkit.NewWebhookSecret()}
				if tc.noTrigger {
					env = map[string]string{"TRIGGER_TOKEN": "", "TRIGGER_SECRET": ""}
				}
				f := startSCFFunction(t, env)
				token, whsec := env["TRIGGER_TOKEN"], env["TRIGGER_SECRET"]
				if tc.noTrigger {
					token = "tt-" + keyrotator.NewRequestID()
					f.secrets = append(f.secrets, token)
				}
				if tc.prime {
					f.prime()
				}
				if tc.fault != nil {
					f.cloud.Emu.Inject(*tc.fault)
				}
				before := f.liveKeys()
				body := tc.bodyBytes
				if body == nil {
					body = []byte(tc.body)
				}
				headers, webhookID := authHeaders(t, tc.auth, token, whsec, body)
				payload := shape.build(t, tc.method, tc.path, headers, body)
				deadline := time.Now().Add(cmp.Or(tc.deadline, longDeadline))

				if tc.repeat {
					first := f.invoke(payload, deadline)
					if first.Error != nil || decodeIntegration(t, first.Payload).StatusCode != 200 {
						t.Fatalf("first request: %s %+v", first.Payload, first.Error)
					}
					if tc.otherInst {
						f.newInstance()
					}
				}
				callsBefore, loggedBefore := f.apiCalls()
				eventsBefore := len(f.cloud.Receiver.Events())
				resp := f.invoke(payload, deadline)
				if resp.Error != nil {
					t.Fatalf("an HTTP event got an invocation error: %+v", resp.Error)
				}
				r := decodeIntegration(t, resp.Payload)
				if r.StatusCode != tc.wantStatus {
					t.Fatalf("status %d, want %d; body %s", r.StatusCode, tc.wantStatus, r.Body)
				}
				if ok := strings.Contains(string(r.Body), `"ok":true`); ok != (tc.wantStatus == 200) {
					t.Errorf("status %d with a body that says ok:true = %v: %s", r.StatusCode, ok, r.Body)
				}

				if tc.wantZones == nil {
					// A refusal: an error body, and nothing called at all.
					var eb struct {
						OK     *bool  `json:"ok"`
						Status int    `json:"status"`
						Error  string `json:"error"`
					}
					if err := json.Unmarshal(r.Body, &eb); err != nil || eb.OK == nil || *eb.OK || eb.Status != tc.wantStatus ||
						!strings.Contains(eb.Error, tc.wantMsg) {
						t.Errorf("error body %s, want ok:false, status %d, error mentioning %q", r.Body, tc.wantStatus, tc.wantMsg)
					}
					calls, logged := f.apiCalls()
					if !maps.Equal(calls, callsBefore) || logged != loggedBefore {
						t.Errorf("a refused request called the cloud: calls %v, before %v (%d calls logged)", calls, callsBefore, logged-loggedBefore)
					}
					if (len(calls) != 0) != tc.repeat {
						t.Errorf("calls %v: want some only from the first of repeated requests (repeat = %v)", calls, tc.repeat)
					}
					if n := len(f.cloud.Receiver.Events()); n != eventsBefore {
						t.Errorf("a refused request sent %d webhook events", n-eventsBefore)
					}
				} else {
					rep := decodeReport(t, r.Body)
					if rep.OK != (tc.wantStatus == 200) || !maps.Equal(outcomes(rep), tc.wantZones) {
						t.Fatalf("report %s, want ok=%v and outcomes %v", r.Body, tc.wantStatus == 200, tc.wantZones)
					}
					if wantAction := rotate.Action(strings.TrimPrefix(tc.path, "/")); rep.Action != wantAction {
						t.Errorf("report action %q, want %q", rep.Action, wantAction)
					}
					if fromHook := webhookID != "" && rep.RotationID == sink.NormalizeRotationID(webhookID); fromHook != tc.idFromWebhook {
						t.Errorf("rotationId %q, webhook-id %q: rotationId from the webhook-id = %v, want %v", rep.RotationID, webhookID, fromHook, tc.idFromWebhook)
					}
					var zoneErrs []string
					for _, z := range rep.Zones {
						if z.Error != "" {
							zoneErrs = append(zoneErrs, z.Error)
						}
					}
					if errs := strings.Join(zoneErrs, "; "); (errs != "") != (tc.wantMsg != "") || !strings.Contains(errs, tc.wantMsg) {
						t.Errorf("zone errors %q, want them to mention %q: %s", errs, tc.wantMsg, r.Body)
					}
				}
				for _, z := range tc.delivered {
					f.assertDelivered(z)
				}
				if n := f.writeCalls(); (n != 0) != tc.writes {
					t.Errorf("%d SSM writes, want writes = %v", n, tc.writes)
				}
				if got := f.cloud.Emu.Performed(actionRefresh); got != tc.wantRefresh {
					t.Errorf("%d refreshes performed, want %d", got, tc.wantRefresh)
				}
				for z, old := range before {
					if changed := f.cloud.Live(z) != old; changed != slices.Contains(tc.wantChanged, z) {
						t.Errorf("%s key changed = %v, want %v", z, changed, !changed)
					}
				}
				for _, z := range []string{zoneAlpha, zoneBeta, zoneOutside} {
					if _, ok := f.cloud.Emu.Secret(testkit.Region, f.cloud.SecretName(z)); ok != slices.Contains(tc.secrets, z) {
						t.Errorf("the SSM secret of %s exists = %v, want %v", z, ok, !ok)
					}
				}
				f.assertNoLeak()
			})
		}
	}
}

// TestHTTPSignedRetryAfterFailure: a signed request that did not succeed
// does not use up its webhook-id; the sender's retry (same id, same body)
// finishes the job on the same instance, without refreshing twice.
func TestHTTPSignedRetryAfterFailure(t *testing.T) {
	t.Parallel()
	// prime rotates just before: MIN_ROTATION_INTERVAL is not what this is about.
	env := map[string]string{"TRIGGER_SECRET": testkit.NewWebhookSecret(), "MIN_ROTATION_INTERVAL": "0"}
	f := startSCFFunction(t, env)
	f.prime()
	f.cloud.Emu.Inject(emulator.Fault{Action: "UpdateSecret", Target: f.cloud.SecretName(zoneBeta), Code: "FailedOperation"})
	body := []byte(`{"action":"rotate","zones":["zone-beta"]}`)
	headers, _ := authHeaders(t, signed, "", env["TRIGGER_SECRET"], body)
	payload := functionURLEvent(t, "POST", "/rotate", headers, body)
	deadline := time.Now().Add(longDeadline)
	refreshes := f.cloud.Emu.Performed(actionRefresh)

	first := decodeIntegration(t, f.invoke(payload, deadline).Payload)
	if first.StatusCode != 502 || !strings.Contains(string(first.Body), "key rotated, delivery incomplete") {
		t.Fatalf("first attempt: %d %s", first.StatusCode, first.Body)
	}
	f.cloud.Emu.ClearFaults()
	retry := decodeIntegration(t, f.invoke(payload, deadline).Payload)
	if retry.StatusCode != 200 {
		t.Fatalf("the sender's retry got %d %s, want 200", retry.StatusCode, retry.Body)
	}
	if got := f.cloud.Emu.Performed(actionRefresh); got != refreshes+1 {
		t.Errorf("%d refreshes for one signed request, want 1", got-refreshes)
	}
	f.assertDelivered(zoneBeta)
	// Served now: a third copy is a replay.
	if again := decodeIntegration(t, f.invoke(payload, deadline).Payload); again.StatusCode != 409 {
		t.Errorf("a served id answered %d, want 409", again.StatusCode)
	}
	f.assertNoLeak()
}
