// Package httptrigger decides whether an HTTP event may run an action, and
// which: it authenticates, routes and validates the request before any API
// is called, in the order the contract fixes (413, 401, 404, 405, 400, 403,
// 409), so a caller learns nothing about routes or zones before proving who
// it is. It holds Decide, the bearer-token and signature (stdwebhook) checks,
// the refusals' answers and the ReplayGuard of served webhook-ids.
package httptrigger

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/event"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
)

// MaxBody is the largest request body accepted (after base64 decoding). A
// real body is a short zone list; more is abuse.
const MaxBody = 64 << 10

// Config is what Decide checks a request against.
type Config struct {
	Token   string       // TRIGGER_TOKEN: accept "Authorization: Bearer <token>"
	Secret  string       // TRIGGER_SECRET: accept a Standard Webhooks signed request
	Allowed []string     // ZONE_IDS, the allow-list
	Replay  *ReplayGuard // webhook-ids already served by this instance; nil = no replay check
	Now     func() time.Time
}

// Decision is the outcome of Decide.
type Decision struct {
	// Status is 0 to go ahead, otherwise the HTTP status to answer with.
	Status int
	// Message says why, for error statuses. It is safe to return to the
	// caller: it never holds a secret or a header value.
	Message string
	// Action is the route's, set once the route is known.
	Action rotate.Action
	// Zones are the zones the body asked for; nil = all.
	Zones []string
	// RotationID is the webhook-id of a signed request, else "".
	RotationID string
	// Headers are the headers a refusal's status calls for: Allow with 405,
	// WWW-Authenticate with 401. Refusal adds them to the answer.
	Headers map[string]string
}

// routes maps the last path segment to its action and the one method it
// accepts: the two that change keys take POST, so a link or prefetch
// cannot rotate.
var routes = map[rotate.Action]string{
	rotate.Rotate: http.MethodPost,
	rotate.Sync:   http.MethodPost,
	rotate.Check:  http.MethodGet,
}

// Decide checks r (which must not be nil) and says whether to run its
// action. It calls no API. A signed request that proceeds has its
// webhook-id marked as served in c.Replay.
func (c Config) Decide(r *event.HTTPRequest) Decision {
	if len(r.Body) > MaxBody {
		return refuse(http.StatusRequestEntityTooLarge, "the request body is over 64 KiB")
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	webhookID, status, msg := c.authenticate(r, now)
	if status != 0 {
		d := refuse(status, msg)
		d.Headers = map[string]string{"WWW-Authenticate": Challenge}
		return d
	}
	action := rotate.Action(lastSegment(r.Path))
	method, ok := routes[action]
	if !ok {
		return refuse(http.StatusNotFound, "no such route: use POST …/rotate, POST …/sync or GET …/check")
	}
	if r.Method != method {
		d := refuse(http.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s only (Allow: %s)", action, method, method))
		d.Action = action
		d.Headers = map[string]string{"Allow": method}
		return d
	}
	d := Decision{Action: action, RotationID: webhookID}
	named, zones, err := parseBody(r.Body)
	if err != nil {
		d.Status, d.Message = http.StatusBadRequest, err.Error()
		return d
	}
	if msg := bindAction(action, named, webhookID != ""); msg != "" {
		d.Status, d.Message = http.StatusBadRequest, msg
		return d
	}
	for _, z := range zones {
		if !slices.Contains(c.Allowed, z) {
			d.Status, d.Message = http.StatusForbidden, fmt.Sprintf("zone %s is not in this function's ZONE_IDS", z)
			return d
		}
	}
	if webhookID != "" && c.Replay != nil && !c.Replay.claim(webhookID, now) {
		d.Status, d.Message = http.StatusConflict, "this webhook-id has already been served"
		return d
	}
	d.Zones = zones
	return d
}

func refuse(status int, msg string) Decision {
	return Decision{Status: status, Message: msg}
}

// lastSegment is the route name: the last path segment, ignoring trailing
// slashes, so a stage or prefix (/release/rotate) does not matter.
func lastSegment(path string) string {
	path = strings.TrimRight(path, "/")
	return path[strings.LastIndexByte(path, '/')+1:]
}

// bindAction checks the action the body names against the route's. A
// Standard Webhooks signature covers id.timestamp.body, not the method or
// the path: without the action in the signed body, a captured signed GET
// …/check could be replayed as POST …/rotate. So a signed request must name
// its action, and any request that names one must name its route's. It is
// a bad body (400), checked after the route and method (404, 405) are
// known and before the zones (403). Bearer requests need not name it: the
// token is not bound to a request at all.
func bindAction(route, named rotate.Action, signed bool) string {
	switch {
	case named != "" && named != route:
		return fmt.Sprintf("the body names action %q but the route is …/%s: they must agree", named, route)
	case named == "" && signed:
		return fmt.Sprintf(`a signed request must name its action in the signed body, as {"action":%q,…}: the signature does not cover the route`, route)
	}
	return ""
}

// parseBody reads an optional {"action":..,"zones":[..]}. An empty body or
// {} means all zones and no action named; anything else is refused rather
// than guessed at.
func parseBody(body []byte) (action rotate.Action, zones []string, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", nil, nil
	}
	const want = `the body must be empty or {"action":"rotate|sync|check","zones":["zone-…",…]}`
	// One pass: the members, and any member given twice (json.Unmarshal
	// would keep the last one: {"action":"check","action":"rotate"}).
	obj, dup, err := event.Members(body)
	if err != nil || obj == nil {
		return "", nil, fmt.Errorf("%s: not a JSON object", want)
	}
	if dup != nil {
		return "", nil, fmt.Errorf("%s: member %q appears more than once", want, excerpt.Of(*dup, 32))
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		if key != "zones" && key != "action" {
			return "", nil, fmt.Errorf("%s: unknown member %q", want, excerpt.Of(key, 32))
		}
	}
	if raw, ok := obj["action"]; ok {
		if action, err = event.DecodeAction(raw); err != nil {
			return "", nil, fmt.Errorf("%s: %v", want, err)
		}
	}
	raw, ok := obj["zones"]
	if !ok {
		return action, nil, nil
	}
	if zones, err = event.DecodeZones(raw); err != nil {
		return "", nil, fmt.Errorf("%s: %v", want, err)
	}
	return action, zones, nil
}
