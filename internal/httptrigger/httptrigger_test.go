package httptrigger

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/event"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
)

const (
	token  = "tok-Sup3rSecretValue-0123456789"
	secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	other  = "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
	// emptyKey is a secret with nothing after the prefix: signatures made
	// with the empty HMAC key must never verify against it.
	emptyKey = "whsec_"
)

var (
	now     = time.Unix(1_700_000_000, 0)
	allowed = []string{"zone-a", "zone-b"}
)

func request(method, path, body string, headers ...http.Header) *event.HTTPRequest {
	r := &event.HTTPRequest{Method: method, Path: path, Body: []byte(body), Headers: http.Header{}}
	for _, h := range headers {
		for k, vs := range h {
			for _, v := range vs {
				r.Headers.Add(k, v)
			}
		}
	}
	return r
}

func bearer(v string) http.Header { return http.Header{"Authorization": {v}} }

// signed returns Standard Webhooks headers signing body with sec as id at.
// It signs with the library, not stdwebhook, which would refuse the empty
// key a forger may try.
func signed(t testing.TB, sec, id string, at time.Time, body string) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(sec)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, at, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return h
}

func without(h http.Header, key string) http.Header {
	h = h.Clone()
	h.Del(key)
	return h
}

func TestDecide(t *testing.T) {
	tokenOnly := Config{Token: token, Allowed: allowed}
	secretOnly := Config{Secret: secret, Allowed: allowed}
	both := Config{Token: token, Secret: secret, Allowed: allowed}
	ok := bearer("Bearer " + token)
	rotateBody := `{"action":"rotate","zones":["zone-a"]}`
	sig := signed(t, secret, "msg_1", now, rotateBody)
	emptySig := signed(t, "", "msg_1", now, rotateBody) // HMAC with the empty key
	big := strings.Repeat(" ", MaxBody+1)
	rotateAll := `{"action":"rotate"}`

	tests := []struct {
		name   string
		cfg    Config
		r      *event.HTTPRequest
		served []string // webhook-ids already served
		want   Decision // Message is matched as a substring
	}{
		// The order of the checks.
		{name: "oversize unauthenticated is 413 not 401", cfg: tokenOnly, r: request("POST", "/rotate", big),
			want: Decision{Status: 413, Message: "64 KiB"}},
		{name: "oversize on an unknown route is 413", cfg: tokenOnly, r: request("GET", "/nope", big, ok),
			want: Decision{Status: 413}},
		{name: "oversize with nothing configured is 413", cfg: Config{}, r: request("POST", "/rotate", big),
			want: Decision{Status: 413}},
		{name: "64 KiB exactly is accepted", cfg: tokenOnly, r: request("POST", "/rotate", big[1:], ok),
			want: Decision{Action: "rotate"}},
		{name: "unauthenticated unknown route is 401 not 404", cfg: tokenOnly, r: request("GET", "/admin", ""),
			want: Decision{Status: 401, Message: "authentication required"}},
		{name: "wrong method on unknown route is 404", cfg: tokenOnly, r: request("DELETE", "/admin", "", ok),
			want: Decision{Status: 404, Message: "no such route"}},
		{name: "bad body on wrong method is 405", cfg: tokenOnly, r: request("GET", "/rotate", "{", ok),
			want: Decision{Status: 405, Action: "rotate", Message: "Allow: POST"}},
		{name: "forbidden zone in bad JSON is 400", cfg: tokenOnly, r: request("POST", "/rotate", `{"zones":["zone-evil"],"x":1}`, ok),
			want: Decision{Status: 400, Action: "rotate", Message: `unknown member "x"`}},
		{name: "replayed id with a forbidden zone is 403", cfg: secretOnly, served: []string{"msg_2"},
			r:    request("POST", "/rotate", `{"action":"rotate","zones":["zone-evil"]}`, signed(t, secret, "msg_2", now, `{"action":"rotate","zones":["zone-evil"]}`)),
			want: Decision{Status: 403, Action: "rotate", RotationID: "msg_2", Message: "zone zone-evil is not in"}},
		{name: "replayed id is 409", cfg: secretOnly, served: []string{"msg_1"}, r: request("POST", "/rotate", rotateBody, sig),
			want: Decision{Status: 409, Action: "rotate", RotationID: "msg_1", Message: "already been served"}},

		// Fail closed.
		{name: "nothing configured", cfg: Config{Allowed: allowed}, r: request("POST", "/rotate", "", ok),
			want: Decision{Status: 401, Message: "no TRIGGER_TOKEN or TRIGGER_SECRET"}},
		{name: "empty strings", cfg: Config{Token: "", Secret: "", Allowed: allowed}, r: request("POST", "/rotate", "", bearer("Bearer ")),
			want: Decision{Status: 401, Message: "no TRIGGER_TOKEN or TRIGGER_SECRET"}},
		{name: "whitespace token", cfg: Config{Token: " \n", Allowed: allowed}, r: request("POST", "/rotate", "", bearer("Bearer  \n")),
			want: Decision{Status: 401, Message: "no TRIGGER_TOKEN or TRIGGER_SECRET"}},
		{name: "secret with an empty key", cfg: Config{Secret: emptyKey, Allowed: allowed}, r: request("POST", "/rotate", rotateBody, emptySig),
			want: Decision{Status: 401, Message: "no TRIGGER_TOKEN or TRIGGER_SECRET"}},
		{name: "secret that is not base64", cfg: Config{Secret: "whsec_!!!", Allowed: allowed}, r: request("POST", "/rotate", rotateBody, sig),
			want: Decision{Status: 401, Message: "no TRIGGER_TOKEN or TRIGGER_SECRET"}},

		// Token.
		{name: "token", cfg: tokenOnly, r: request("POST", "/rotate", "", ok), want: Decision{Action: "rotate"}},
		{name: "token, scheme in lower case, padded", cfg: tokenOnly, r: request("POST", "/rotate", "", bearer("  bearer   "+token+" ")),
			want: Decision{Action: "rotate"}},
		{name: "token configured with a trailing newline", cfg: Config{Token: token + "\n", Allowed: allowed}, r: request("POST", "/rotate", "", ok),
			want: Decision{Action: "rotate"}},
		{name: "one of several Authorization values", cfg: tokenOnly, r: request("POST", "/rotate", "", bearer("Basic eDp5"), ok),
			want: Decision{Action: "rotate"}},
		{name: "wrong token", cfg: tokenOnly, r: request("POST", "/rotate", "", bearer("Bearer nope")), want: Decision{Status: 401}},
		{name: "token prefix", cfg: tokenOnly, r: request("POST", "/rotate", "", bearer("Bearer "+token[:10])), want: Decision{Status: 401}},
		{name: "token with a suffix", cfg: tokenOnly, r: request("POST", "/rotate", "", bearer("Bearer "+token+"x")), want: Decision{Status: 401}},
		{name: "wrong scheme", cfg: tokenOnly, r: request("POST", "/rotate", "", bearer("Token "+token)), want: Decision{Status: 401}},
		{name: "no scheme", cfg: tokenOnly, r: request("POST", "/rotate", "", bearer(token)), want: Decision{Status: 401}},
		{name: "missing token", cfg: tokenOnly, r: request("POST", "/rotate", ""), want: Decision{Status: 401}},
		{name: "signature when only a token is configured", cfg: tokenOnly, r: request("POST", "/rotate", rotateBody, sig), want: Decision{Status: 401}},
		{name: "token when only a secret is configured", cfg: secretOnly, r: request("POST", "/rotate", "", ok), want: Decision{Status: 401}},
		{name: "both configured, token", cfg: both, r: request("POST", "/sync", "", ok), want: Decision{Action: "sync"}},
		{name: "both configured, signature", cfg: both, r: request("POST", "/rotate", rotateBody, sig),
			want: Decision{Action: "rotate", Zones: []string{"zone-a"}, RotationID: "msg_1"}},
		{name: "both configured, right token and tampered body", cfg: both, r: request("POST", "/rotate", `{"zones":["zone-b"]}`, sig, ok),
			want: Decision{Action: "rotate", Zones: []string{"zone-b"}}},
		{name: "both configured, neither", cfg: both, r: request("POST", "/rotate", "", bearer("Bearer x")), want: Decision{Status: 401}},

		// Signature.
		{name: "signature", cfg: secretOnly, r: request("POST", "/rotate", rotateBody, sig),
			want: Decision{Action: "rotate", Zones: []string{"zone-a"}, RotationID: "msg_1"}},
		{name: "signature among several", cfg: secretOnly,
			r:    request("POST", "/rotate", rotateBody, without(sig, "webhook-signature"), http.Header{"Webhook-Signature": {"v1,AAAA v1a,BBBB " + sig.Get("webhook-signature")}}),
			want: Decision{Action: "rotate", Zones: []string{"zone-a"}, RotationID: "msg_1"}},
		{name: "tampered body", cfg: secretOnly, r: request("POST", "/rotate", `{"action":"rotate","zones":["zone-b"]}`, sig), want: Decision{Status: 401}},
		{name: "other secret", cfg: secretOnly, r: request("POST", "/rotate", rotateBody, signed(t, other, "msg_1", now, rotateBody)), want: Decision{Status: 401}},
		{name: "timestamp at the tolerance", cfg: secretOnly, r: request("POST", "/rotate", rotateAll, signed(t, secret, "m", now.Add(-stdwebhook.Tolerance), rotateAll)),
			want: Decision{Action: "rotate", RotationID: "m"}},
		{name: "old timestamp", cfg: secretOnly, r: request("POST", "/rotate", "", signed(t, secret, "m", now.Add(-stdwebhook.Tolerance-time.Second), "")),
			want: Decision{Status: 401, Message: "authentication required"}},
		{name: "future timestamp", cfg: secretOnly, r: request("POST", "/rotate", "", signed(t, secret, "m", now.Add(stdwebhook.Tolerance+time.Second), "")),
			want: Decision{Status: 401}},
		{name: "missing webhook-id", cfg: secretOnly, r: request("POST", "/rotate", rotateBody, without(sig, "webhook-id")), want: Decision{Status: 401}},
		{name: "missing webhook-timestamp", cfg: secretOnly, r: request("POST", "/rotate", rotateBody, without(sig, "webhook-timestamp")), want: Decision{Status: 401}},
		{name: "missing webhook-signature", cfg: secretOnly, r: request("POST", "/rotate", rotateBody, without(sig, "webhook-signature")), want: Decision{Status: 401}},
		{name: "timestamp not a number", cfg: secretOnly,
			r:    request("POST", "/rotate", rotateBody, without(sig, "webhook-timestamp"), http.Header{"Webhook-Timestamp": {"soon"}}),
			want: Decision{Status: 401}},

		// Routes and methods.
		{name: "stage prefix", cfg: tokenOnly, r: request("POST", "/release/rotate", "", ok), want: Decision{Action: "rotate"}},
		{name: "trailing slash", cfg: tokenOnly, r: request("GET", "/check/", "", ok), want: Decision{Action: "check"}},
		{name: "root", cfg: tokenOnly, r: request("POST", "/", "", ok), want: Decision{Status: 404}},
		{name: "empty path", cfg: tokenOnly, r: request("POST", "", "", ok), want: Decision{Status: 404}},
		{name: "segment after the route", cfg: tokenOnly, r: request("POST", "/rotate/now", "", ok), want: Decision{Status: 404}},
		{name: "route in upper case", cfg: tokenOnly, r: request("POST", "/ROTATE", "", ok), want: Decision{Status: 404}},
		{name: "GET rotate", cfg: tokenOnly, r: request("GET", "/rotate", "", ok), want: Decision{Status: 405, Action: "rotate", Message: "Allow: POST"}},
		{name: "GET sync", cfg: tokenOnly, r: request("GET", "/sync", "", ok), want: Decision{Status: 405, Action: "sync", Message: "Allow: POST"}},
		{name: "POST check", cfg: tokenOnly, r: request("POST", "/check", "", ok), want: Decision{Status: 405, Action: "check", Message: "Allow: GET"}},
		{name: "HEAD check", cfg: tokenOnly, r: request("HEAD", "/check", "", ok), want: Decision{Status: 405, Action: "check"}},
		{name: "OPTIONS rotate", cfg: tokenOnly, r: request("OPTIONS", "/rotate", "", ok), want: Decision{Status: 405, Action: "rotate"}},

		// Bodies.
		{name: "empty object", cfg: tokenOnly, r: request("POST", "/rotate", " {} ", ok), want: Decision{Action: "rotate"}},
		{name: "zones, duplicates dropped", cfg: tokenOnly, r: request("POST", "/sync", `{"zones":["zone-b","zone-a","zone-b"]}`, ok),
			want: Decision{Action: "sync", Zones: []string{"zone-b", "zone-a"}}},
		{name: "GET check with zones", cfg: tokenOnly, r: request("GET", "/check", `{"zones":["zone-b"]}`, ok),
			want: Decision{Action: "check", Zones: []string{"zone-b"}}},
		{name: "GET check with bad body", cfg: tokenOnly, r: request("GET", "/check", `x`, ok), want: Decision{Status: 400, Action: "check"}},
		{name: "null body", cfg: tokenOnly, r: request("POST", "/rotate", `null`, ok), want: Decision{Status: 400, Action: "rotate", Message: "not a JSON object"}},
		{name: "list body", cfg: tokenOnly, r: request("POST", "/rotate", `["zone-a"]`, ok), want: Decision{Status: 400, Action: "rotate"}},
		{name: "trailing data", cfg: tokenOnly, r: request("POST", "/rotate", `{} {}`, ok), want: Decision{Status: 400, Action: "rotate"}},
		{name: "zones a string", cfg: tokenOnly, r: request("POST", "/rotate", `{"zones":"zone-a"}`, ok), want: Decision{Status: 400, Action: "rotate", Message: "list of zone ids"}},
		{name: "zones null", cfg: tokenOnly, r: request("POST", "/rotate", `{"zones":null}`, ok), want: Decision{Status: 400, Action: "rotate"}},
		{name: "zones empty", cfg: tokenOnly, r: request("POST", "/rotate", `{"zones":[]}`, ok), want: Decision{Status: 400, Action: "rotate", Message: "is empty"}},
		{name: "zone not a string", cfg: tokenOnly, r: request("POST", "/rotate", `{"zones":[1]}`, ok), want: Decision{Status: 400, Action: "rotate"}},
		{name: "malformed zone id", cfg: tokenOnly, r: request("POST", "/rotate", `{"zones":["Zone-A"]}`, ok), want: Decision{Status: 400, Action: "rotate", Message: `"Zone-A" is not a zone id`}},
		{name: "long unknown member", cfg: tokenOnly, r: request("POST", "/rotate", `{"`+strings.Repeat("k", 100)+`":1}`, ok),
			want: Decision{Status: 400, Action: "rotate", Message: `unknown member "` + strings.Repeat("k", 32) + `…"`}},
		{name: "dryRun on sync", cfg: tokenOnly, r: request("POST", "/sync", `{"dryRun":true}`, ok), want: Decision{Status: 400, Action: "sync", Message: `unknown member "dryRun"`}},
		{name: "dryRun on check", cfg: tokenOnly, r: request("GET", "/check", `{"dryRun":true}`, ok), want: Decision{Status: 400, Action: "check", Message: `unknown member "dryRun"`}},
		{name: "action twice", cfg: tokenOnly, r: request("GET", "/check", `{"action":"check","action":"rotate"}`, ok),
			want: Decision{Status: 400, Action: "check", Message: `member "action" appears more than once`}},
		{name: "zones twice", cfg: tokenOnly, r: request("POST", "/rotate", `{"zones":["zone-a"],"zones":["zone-evil"]}`, ok),
			want: Decision{Status: 400, Action: "rotate", Message: `member "zones" appears more than once`}},
		{name: "duplicate inside a zone list", cfg: tokenOnly, r: request("POST", "/rotate", `{"zones":[{"a":1,"a":2}]}`, ok),
			want: Decision{Status: 400, Action: "rotate", Message: `member "a" appears more than once`}},
		{name: "member name in the wrong case", cfg: tokenOnly, r: request("POST", "/rotate", `{"Zones":["zone-a"]}`, ok), want: Decision{Status: 400, Action: "rotate", Message: `unknown member "Zones"`}},
		{name: "forbidden zone", cfg: tokenOnly, r: request("POST", "/rotate", `{"zones":["zone-a","zone-c"]}`, ok),
			want: Decision{Status: 403, Action: "rotate", Message: "zone zone-c is not in this function's ZONE_IDS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Now = func() time.Time { return now }
			cfg.Replay = NewReplayGuard(2*stdwebhook.Tolerance, 100)
			for _, id := range tt.served {
				cfg.Replay.claim(id, now)
			}
			got := cfg.Decide(tt.r)
			if !strings.Contains(got.Message, tt.want.Message) || (got.Status == 0) != (got.Message == "") {
				t.Errorf("Message = %q, want it to contain %q", got.Message, tt.want.Message)
			}
			got.Message, tt.want.Message = "", ""
			if got.Status != tt.want.Status || got.Action != tt.want.Action || got.RotationID != tt.want.RotationID ||
				strings.Join(got.Zones, ",") != strings.Join(tt.want.Zones, ",") || (got.Zones == nil) != (tt.want.Zones == nil) {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
			assertNoSecrets(t, got.Message, tt.r)
			if id := got.RotationID; id != "" && !slices.Contains(tt.served, id) && cfg.Replay.claim(id, now) == (got.Status == 0) {
				t.Errorf("webhook-id %q marked = %v, want marked only when the decision is to proceed", id, got.Status != 0)
			}
		})
	}
}

// assertNoSecrets fails if msg holds a credential: the token, the secret,
// or any value of a credential header of r.
func assertNoSecrets(t *testing.T, msg string, r *event.HTTPRequest) {
	t.Helper()
	leaks := []string{token, token[:10], secret, strings.TrimPrefix(secret, "whsec_")}
	for _, h := range []string{"Authorization", "Webhook-Signature", "Webhook-Id", "Webhook-Timestamp"} {
		for _, v := range r.Headers.Values(h) {
			leaks = append(leaks, v)
			if _, sig, ok := strings.Cut(v, ","); ok {
				leaks = append(leaks, sig)
			}
		}
	}
	for _, s := range leaks {
		if strings.TrimSpace(s) != "" && strings.Contains(msg, strings.TrimSpace(s)) {
			t.Errorf("Message %q contains a credential", msg)
		}
	}
}

// TestDecideReplay sends one signed request again and again: it is served
// once, refused while its signature still verifies, and refused as expired
// once the guard has forgotten it.
func TestDecideReplay(t *testing.T) {
	body := `{"action":"rotate","zones":["zone-a"]}`
	r := request("POST", "/rotate", body, signed(t, secret, "msg_replay", now, body))
	clock := now
	cfg := Config{Secret: secret, Allowed: allowed, Replay: NewReplayGuard(2*stdwebhook.Tolerance, 100), Now: func() time.Time { return clock }}

	steps := []struct {
		at   time.Duration // after the signature's timestamp
		want int
	}{
		{0, 0},
		{0, 409},
		{stdwebhook.Tolerance, 409},
		{stdwebhook.Tolerance + time.Second, 401},
		{2 * stdwebhook.Tolerance, 401},
	}
	for _, s := range steps {
		clock = now.Add(s.at)
		if got := cfg.Decide(r); got.Status != s.want {
			t.Errorf("at +%v: status %d (%s), want %d", s.at, got.Status, got.Message, s.want)
		}
	}

	// A request refused for another reason does not burn its id.
	clock = now
	bad := `{"action":"rotate","zones":["zone-c"]}`
	if got := cfg.Decide(request("POST", "/rotate", bad, signed(t, secret, "msg_other", now, bad))); got.Status != 403 {
		t.Fatalf("forbidden zone: status %d, want 403", got.Status)
	}
	if got := cfg.Decide(request("POST", "/rotate", body, signed(t, secret, "msg_other", now, body))); got.Status != 0 {
		t.Errorf("same id after a 403: status %d (%s), want 0", got.Status, got.Message)
	}

	// Token-authenticated requests carry no id and are never 409.
	tok := Config{Token: token, Allowed: allowed, Replay: cfg.Replay, Now: cfg.Now}
	for i := 0; i < 2; i++ {
		if got := tok.Decide(request("POST", "/rotate", "", bearer("Bearer "+token))); got.Status != 0 {
			t.Errorf("token request %d: status %d", i, got.Status)
		}
	}
}

func TestDecideWithoutReplayGuard(t *testing.T) {
	body := `{"action":"rotate"}`
	r := request("POST", "/rotate", body, signed(t, secret, "msg_x", now, body))
	cfg := Config{Secret: secret, Allowed: allowed, Now: func() time.Time { return now }}
	for i := 0; i < 2; i++ {
		if got := cfg.Decide(r); got.Status != 0 || got.RotationID != "msg_x" {
			t.Errorf("request %d: %+v", i, got)
		}
	}
}

func TestErrorBodyAndRespond(t *testing.T) {
	body := ErrorBody(403, `zone "zone-c" is not in ZONE_IDS`)
	if want := `{"ok":false,"status":403,"error":"zone \"zone-c\" is not in ZONE_IDS"}`; string(body) != want {
		t.Errorf("ErrorBody = %s, want %s", body, want)
	}
	resp := Respond(403, body)
	if resp.StatusCode != 403 || resp.IsBase64Encoded || resp.Body != string(body) ||
		len(resp.Headers) != 1 || resp.Headers["Content-Type"] != "application/json" {
		t.Errorf("Respond = %+v", resp)
	}
}

// TestDecideBindsActionToSignature: a Standard Webhooks signature covers
// id.timestamp.body only, so a signed request must name its action in the
// body, and that action must be the route's; otherwise a signed GET …/check
// replayed as POST …/rotate would rotate every zone. Bearer requests need
// not name it, but may not name another.
func TestDecideBindsActionToSignature(t *testing.T) {
	secretOnly := Config{Secret: secret, Allowed: allowed}
	both := Config{Token: token, Secret: secret, Allowed: allowed}
	tokenOnly := Config{Token: token, Allowed: allowed}
	ok := bearer("Bearer " + token)
	sign := func(id, body string) http.Header { return signed(t, secret, id, now, body) }
	checkBody := `{"action":"check"}`
	tests := []struct {
		name string
		cfg  Config
		r    *event.HTTPRequest
		want Decision // Message is matched as a substring
	}{
		{name: "signed empty GET check replayed as POST rotate", cfg: secretOnly, r: request("POST", "/rotate", "", sign("m1", "")),
			want: Decision{Status: 400, Action: "rotate", RotationID: "m1", Message: `must name its action in the signed body, as {"action":"rotate"`}},
		{name: "signed empty GET check", cfg: secretOnly, r: request("GET", "/check", "", sign("m2", "")),
			want: Decision{Status: 400, Action: "check", RotationID: "m2", Message: `{"action":"check"`}},
		{name: "signed check body replayed on rotate", cfg: secretOnly, r: request("POST", "/rotate", checkBody, sign("m3", checkBody)),
			want: Decision{Status: 400, Action: "rotate", RotationID: "m3", Message: `names action "check" but the route is …/rotate`}},
		{name: "signed check body replayed on sync", cfg: secretOnly, r: request("POST", "/sync", checkBody, sign("m4", checkBody)),
			want: Decision{Status: 400, Action: "sync", RotationID: "m4", Message: `names action "check"`}},
		{name: "signed zones without action", cfg: secretOnly, r: request("POST", "/rotate", `{"zones":["zone-a"]}`, sign("m5", `{"zones":["zone-a"]}`)),
			want: Decision{Status: 400, Action: "rotate", RotationID: "m5", Message: "must name its action"}},
		{name: "signed check", cfg: secretOnly, r: request("GET", "/check", checkBody, sign("m6", checkBody)),
			want: Decision{Action: "check", RotationID: "m6"}},
		{name: "signed sync with zones", cfg: secretOnly, r: request("POST", "/sync", `{"action":"sync","zones":["zone-b"]}`, sign("m7", `{"action":"sync","zones":["zone-b"]}`)),
			want: Decision{Action: "sync", RotationID: "m7", Zones: []string{"zone-b"}}},
		{name: "signed and bearer, signature without action", cfg: both, r: request("POST", "/rotate", "", sign("m8", ""), ok),
			want: Decision{Status: 400, Action: "rotate", RotationID: "m8", Message: "must name its action"}},
		{name: "unknown action", cfg: secretOnly, r: request("POST", "/rotate", `{"action":"destroy"}`, sign("m9", `{"action":"destroy"}`)),
			want: Decision{Status: 400, Action: "rotate", RotationID: "m9", Message: `unknown action "destroy"`}},
		{name: "action not a string", cfg: secretOnly, r: request("POST", "/rotate", `{"action":1}`, sign("m10", `{"action":1}`)),
			want: Decision{Status: 400, Action: "rotate", RotationID: "m10", Message: `"action" must be a string`}},
		// The order: authentication, route and method come first.
		{name: "unsigned without action is 401", cfg: secretOnly, r: request("POST", "/rotate", ""),
			want: Decision{Status: 401}},
		{name: "signed without action on an unknown route is 404", cfg: secretOnly, r: request("POST", "/admin", "", sign("m11", "")),
			want: Decision{Status: 404}},
		{name: "signed without action on the wrong method is 405", cfg: secretOnly, r: request("POST", "/check", "", sign("m12", "")),
			want: Decision{Status: 405, Action: "check"}},
		{name: "signed without action and a forbidden zone is 400 not 403", cfg: secretOnly,
			r:    request("POST", "/rotate", `{"zones":["zone-evil"]}`, sign("m13", `{"zones":["zone-evil"]}`)),
			want: Decision{Status: 400, Action: "rotate", RotationID: "m13"}},
		// Bearer.
		{name: "bearer without action", cfg: tokenOnly, r: request("POST", "/rotate", "", ok), want: Decision{Action: "rotate"}},
		{name: "bearer with its route's action", cfg: tokenOnly, r: request("GET", "/check", checkBody, ok), want: Decision{Action: "check"}},
		{name: "bearer with another route's action", cfg: tokenOnly, r: request("POST", "/rotate", checkBody, ok),
			want: Decision{Status: 400, Action: "rotate", Message: `names action "check"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Now = func() time.Time { return now }
			cfg.Replay = NewReplayGuard(2*stdwebhook.Tolerance, 100)
			got := cfg.Decide(tt.r)
			if !strings.Contains(got.Message, tt.want.Message) {
				t.Errorf("Message = %q, want it to contain %q", got.Message, tt.want.Message)
			}
			if got.Status != tt.want.Status || got.Action != tt.want.Action || got.RotationID != tt.want.RotationID ||
				strings.Join(got.Zones, ",") != strings.Join(tt.want.Zones, ",") {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
			assertNoSecrets(t, got.Message, tt.r)
			if id := got.RotationID; id != "" && got.Status != 0 && !cfg.Replay.claim(id, now) {
				t.Errorf("a refused request used up its webhook-id %q", id)
			}
		})
	}
}

// TestDecideHeaders: a 405 says which method the route takes (Allow), a
// 401 how to authenticate (WWW-Authenticate), the same challenge whatever
// is configured; no other answer carries a header of its own.
func TestDecideHeaders(t *testing.T) {
	ok := bearer("Bearer " + token)
	tests := []struct {
		name string
		cfg  Config
		r    *event.HTTPRequest
		want map[string]string
	}{
		{name: "401 token only", cfg: Config{Token: token}, r: request("POST", "/rotate", ""), want: map[string]string{"WWW-Authenticate": Challenge}},
		{name: "401 secret only", cfg: Config{Secret: secret}, r: request("POST", "/rotate", "", bearer("Bearer x")), want: map[string]string{"WWW-Authenticate": Challenge}},
		{name: "401 nothing configured", cfg: Config{}, r: request("GET", "/check", "", ok), want: map[string]string{"WWW-Authenticate": Challenge}},
		{name: "405 GET rotate", cfg: Config{Token: token}, r: request("GET", "/rotate", "", ok), want: map[string]string{"Allow": "POST"}},
		{name: "405 PUT sync", cfg: Config{Token: token}, r: request("PUT", "/sync", "", ok), want: map[string]string{"Allow": "POST"}},
		{name: "405 POST check", cfg: Config{Token: token}, r: request("POST", "/check", "", ok), want: map[string]string{"Allow": "GET"}},
		{name: "404", cfg: Config{Token: token}, r: request("GET", "/nope", "", ok)},
		{name: "400", cfg: Config{Token: token}, r: request("POST", "/rotate", "x", ok)},
		{name: "403", cfg: Config{Token: token, Allowed: allowed}, r: request("POST", "/rotate", `{"zones":["zone-c"]}`, ok)},
		{name: "413", cfg: Config{Token: token}, r: request("POST", "/rotate", strings.Repeat(" ", MaxBody+1))},
		{name: "go ahead", cfg: Config{Token: token}, r: request("POST", "/rotate", "", ok)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.cfg.Decide(tt.r)
			if !maps.Equal(d.Headers, tt.want) {
				t.Errorf("Headers = %v, want %v", d.Headers, tt.want)
			}
			if d.Status == 0 {
				return
			}
			resp := Refusal(d)
			want := map[string]string{"Content-Type": "application/json"}
			maps.Copy(want, tt.want)
			if resp.StatusCode != d.Status || !maps.Equal(resp.Headers, want) || resp.Body != string(ErrorBody(d.Status, d.Message)) {
				t.Errorf("Refusal = %+v, want status %d, headers %v", resp, d.Status, want)
			}
			assertNoSecrets(t, strings.Join(slices.Collect(maps.Values(resp.Headers)), " "), tt.r)
		})
	}
	if !strings.HasPrefix(Challenge, "Bearer ") || !strings.Contains(Challenge, "webhook-signature") {
		t.Errorf("Challenge %q names neither scheme", Challenge)
	}
}
