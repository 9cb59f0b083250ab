package keyrotator_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/httptrigger"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit/handlerkit"
)

// invokeHTTP sends one SCF function URL event through Handler.Invoke and
// returns its integration response.
func invokeHTTP(t *testing.T, c *testkit.Cloud, payload []byte) (status int, headers map[string]string, body string) {
	t.Helper()
	ctx := invocationContext(t)
	out, err := handlerkit.New(c).Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("an HTTP event got an invocation error: %v", err)
	}
	var r struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	return r.StatusCode, r.Headers, r.Body
}

// TestSignedRequestReplayedOnAnotherRoute: the headers of a signed GET
// …/check, replayed on POST …/rotate, rotate nothing: the signature covers
// the body, and the body names the action.
func TestSignedRequestReplayedOnAnotherRoute(t *testing.T) {
	t.Parallel()
	whsec := testkit.NewWebhookSecret()
	c := testkit.NewCloud(t, allowedZones, testkit.WithEnv(map[string]string{"TRIGGER_SECRET": whsec}))
	for _, body := range []string{"", `{"action":"check"}`} {
		headers, _ := authHeaders(t, signed, "", whsec, []byte(body))
		before := c.Emu.Performed(actionRefresh)
		status, _, answer := invokeHTTP(t, c, functionURLEvent(t, "POST", "/rotate", headers, []byte(body)))
		if status != 400 {
			t.Errorf("body %q replayed on POST /rotate: status %d %s, want 400", body, status, answer)
		}
		if n := c.Emu.Performed(actionRefresh) - before; n != 0 {
			t.Errorf("body %q replayed on POST /rotate: %d refreshes", body, n)
		}
		// The same headers on their own route: the body must name check.
		status, _, answer = invokeHTTP(t, c, functionURLEvent(t, "GET", "/check", headers, []byte(body)))
		if want := map[string]int{"": 400, `{"action":"check"}`: 502}[body]; status != want {
			t.Errorf("body %q on GET /check: status %d %s, want %d", body, status, answer, want)
		}
	}
	// A signed rotate naming its action goes through.
	body := []byte(`{"action":"rotate","zones":["zone-alpha"]}`)
	headers, _ := authHeaders(t, signed, "", whsec, body)
	if status, _, answer := invokeHTTP(t, c, functionURLEvent(t, "POST", "/rotate", headers, body)); status != 200 || !strings.Contains(answer, `"outcome":"rotated"`) {
		t.Errorf("signed rotate naming its action: %d %s", status, answer)
	}
}

// TestDryRunOnlyForRotate: dryRun with sync or check is refused before
// anything is called, through Handler.Run and a direct invoke alike; it
// used to be accepted and ignored, sync writing while the report said dry run.
func TestDryRunOnlyForRotate(t *testing.T) {
	t.Parallel()
	c, h, ctx := startHandler(t)
	for _, action := range []rotate.Action{rotate.Sync, rotate.Check} {
		_, err := h.Run(ctx, rotate.Request{Action: action, DryRun: true})
		var bad *keyrotator.EventError
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), "dryRun is for rotate only") {
			t.Errorf("Run(%s, dryRun): error %v, want an EventError naming dryRun", action, err)
		}
		out, err := h.Invoke(ctx, []byte(`{"action":"`+string(action)+`","dryRun":true}`))
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), `"dryRun" is for rotate only`) || out != nil {
			t.Errorf("direct %s with dryRun: %s, error %v, want an EventError naming dryRun", action, out, err)
		}
	}
	if called := c.Actions(); len(called) != 0 {
		t.Errorf("a refused dry run called %v", called)
	}
	if rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate, DryRun: true}); err != nil || !rep.OK || !rep.DryRun {
		t.Errorf("rotate dry run: %+v, %v", rep, err)
	}
}

// TestReusedRotationIDThroughRun: Handler.Run twice with rotationId
// "weekly" refreshes once; the second report says the zone was
// redelivered, and when the rotation happened.
func TestReusedRotationIDThroughRun(t *testing.T) {
	t.Parallel()
	c, h, ctx := startHandler(t)
	req := rotate.Request{Action: rotate.Rotate, Zones: []string{zoneAlpha}, RotationID: "weekly"}
	first, err := h.Run(ctx, req)
	if err != nil || !first.OK || first.Zones[0].Redelivered || first.Zones[0].RotatedAt != "" {
		t.Fatalf("first run: %+v, %v", first, err)
	}
	again, err := h.Run(ctx, req)
	if err != nil || !again.OK {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	z := again.Zones[0]
	if _, perr := time.Parse(time.RFC3339, z.RotatedAt); !z.Redelivered || perr != nil || z.Fingerprint != first.Zones[0].Fingerprint ||
		z.Outcome != rotate.Rotated {
		t.Errorf("second run of rotationId weekly: %+v, want redelivered with rotatedAt", z)
	}
	if n := c.Emu.Performed(actionRefresh); n != 1 {
		t.Errorf("%d refreshes for one rotation id, want 1", n)
	}
	body, _ := json.Marshal(again)
	for _, member := range []string{`"redelivered":true`, `"rotatedAt":"`, `"outcome":"rotated"`, `"keyChanged":true`, `"previousFingerprint":"sha256:`} {
		if !strings.Contains(string(body), member) {
			t.Errorf("report %s lacks %s", body, member)
		}
	}
}

// TestZonesOutsideAllowListCallNothing: with ROLE_ARN, an event naming only
// zones outside ZONE_IDS is refused before AssumeRole (before any call at
// all), with the same report as before; a zone in ZONE_IDS still assumes
// the role and rotates.
func TestZonesOutsideAllowListCallNothing(t *testing.T) {
	t.Parallel()
	const role = "qcs::cam::uin/100000000001:roleName/mpgw-keyrotator"
	c := testkit.NewCloud(t, []string{zoneAlpha, zoneBeta, zoneOutside}, testkit.WithEmulator(emulator.Options{Roles: []string{role}}),
		testkit.WithEnv(map[string]string{"ZONE_IDS": zoneAlpha + "," + zoneBeta, "ROLE_ARN": role}))
	h := handlerkit.New(c)
	ctx := invocationContext(t)
	payloads := []string{
		`{"action":"rotate","zones":["zone-outside"]}`,
		`{"action":"sync","zones":["zone-outside","zone-other"]}`,
		`{"Type":"Timer","TriggerName":"t","Time":"2025-01-01T00:00:00Z","Message":"{\"action\":\"check\",\"zones\":[\"zone-outside\"]}"}`,
	}
	for _, p := range payloads {
		out, err := h.Invoke(ctx, []byte(p))
		if err == nil || !strings.Contains(err.Error(), zoneOutside) {
			t.Errorf("%s: error %v, want one naming %s", p, err, zoneOutside)
		}
		var rep rotate.Report
		if json.Unmarshal(out, &rep) != nil || rep.OK || len(rep.Zones) == 0 || rep.Zones[0].Outcome != rotate.Failed ||
			!strings.Contains(rep.Zones[0].Error, "not in ZONE_IDS") {
			t.Errorf("%s: report %s", p, out)
		}
	}
	if n := callCount(c.Emu); n != 0 {
		t.Errorf("%d API calls (AssumeRole %d) for zones outside ZONE_IDS, want none", n, c.Emu.Calls("AssumeRole"))
	}
	assumed := c.Emu.Calls("AssumeRole")
	rep, err := h.Run(ctx, rotate.Request{Action: rotate.Rotate, Zones: []string{zoneAlpha, zoneOutside}})
	if err != nil || c.Emu.Calls("AssumeRole")-assumed != 1 || outcomes(rep)[zoneAlpha] != rotate.Rotated || outcomes(rep)[zoneOutside] != rotate.Failed {
		t.Errorf("a zone in ZONE_IDS beside one outside: %+v, %v, AssumeRole %d", rep, err, c.Emu.Calls("AssumeRole"))
	}
}

// callCount is every API call the emulator has answered.
func callCount(emu *emulator.Emulator) int {
	n := 0
	for _, a := range []string{"AssumeRole", actionRefresh, actionDescribe, "GetSecretValue", "DescribeSecret", "CreateSecret",
		"PutSecretValue", "UpdateSecret", "UpdateDescription", "ListSecretVersionIds"} {
		n += emu.Calls(a)
	}
	return n
}

// refusalHeadersChecked checks the header a 401 (WWW-Authenticate) or a
// 405 (Allow) must carry and returns the others, for the callers that
// check every answer has Content-Type only.
func refusalHeadersChecked(t *testing.T, status int, headers map[string]string) map[string]string {
	t.Helper()
	rest := maps.Clone(headers)
	switch status {
	case 401:
		if rest["WWW-Authenticate"] != httptrigger.Challenge {
			t.Errorf("401 with WWW-Authenticate %q, want %q", rest["WWW-Authenticate"], httptrigger.Challenge)
		}
		delete(rest, "WWW-Authenticate")
	case 405:
		if a := rest["Allow"]; a != "GET" && a != "POST" {
			t.Errorf("405 with Allow %q, want GET or POST", a)
		}
		delete(rest, "Allow")
	}
	return rest
}

// TestRefusalHeadersInEveryShape: 405 answers carry Allow and 401 answers
// WWW-Authenticate, in the SCF integration response and in each AWS
// response type alike.
func TestRefusalHeadersInEveryShape(t *testing.T) {
	t.Parallel()
	token := "tt-" + keyrotator.NewRequestID()
	c := testkit.NewCloud(t, allowedZones, testkit.WithEnv(map[string]string{"TRIGGER_TOKEN": token}))
	h := handlerkit.New(c)
	type build func(t *testing.T, method, path string, headers map[string]string, body []byte) []byte
	type decoded struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
	}
	var shapes []struct {
		name  string
		build build
	}
	for _, s := range httpShapes {
		shapes = append(shapes, struct {
			name  string
			build build
		}{"SCF " + s.name, s.build})
	}
	for _, s := range awsShapes {
		shapes = append(shapes, struct {
			name  string
			build build
		}{"AWS " + s.name, s.build})
	}
	auth := map[string]string{"authorization": "Bearer " + token}
	tests := []struct {
		method, path string
		headers      map[string]string
		status       int
		want         map[string]string
	}{
		{"GET", "/rotate", auth, 405, map[string]string{"Allow": "POST"}},
		{"POST", "/check", auth, 405, map[string]string{"Allow": "GET"}},
		{"POST", "/rotate", nil, 401, map[string]string{"WWW-Authenticate": httptrigger.Challenge}},
		{"GET", "/nope", nil, 401, map[string]string{"WWW-Authenticate": httptrigger.Challenge}},
		{"GET", "/nope", auth, 404, map[string]string{}},
	}
	for _, s := range shapes {
		for _, tc := range tests {
			out, err := h.Invoke(lambdaContext(t, "req-h", longDeadline), s.build(t, tc.method, tc.path, tc.headers, nil))
			var r decoded
			if err != nil || json.Unmarshal(out, &r) != nil {
				t.Fatalf("%s %s %s: %s, %v", s.name, tc.method, tc.path, out, err)
			}
			want := map[string]string{"Content-Type": "application/json"}
			maps.Copy(want, tc.want)
			if r.StatusCode != tc.status || !maps.Equal(r.Headers, want) {
				t.Errorf("%s %s %s: status %d headers %v, want %d %v", s.name, tc.method, tc.path, r.StatusCode, r.Headers, tc.status, want)
			}
		}
	}
	if n := callCount(c.Emu); n != 0 {
		t.Errorf("%d API calls for refused requests", n)
	}
}
