package httptrigger

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/event"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
)

// Tolerance is how far a signed request's webhook-timestamp may be from
// now, in either direction: the Standard Webhooks reference value.
const Tolerance = 5 * time.Minute

// The 401 messages. The second is the same whichever credential was sent,
// wrong or expired, so a caller cannot probe what is configured.
const (
	msgNoCredentials = "this function has no TRIGGER_TOKEN or TRIGGER_SECRET set, so every HTTP call is refused"
	msgUnauthorized  = "authentication required: send Authorization: Bearer <token>, or sign the request " +
		"(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)"
)

// Challenge is the WWW-Authenticate value of every 401: both ways in, a
// bearer token and a Standard Webhooks signature, whichever is configured,
// so that, like the message, it does not tell a caller what is.
const Challenge = `Bearer realm="mpgw-keyrotator", StandardWebhooks realm="mpgw-keyrotator", headers="webhook-id webhook-timestamp webhook-signature"`

// authenticate accepts a request carrying a valid signature or the bearer
// token, whichever is configured (either suffices when both are). It returns
// the webhook-id of a signed request, or a 401 status and message.
func (c Config) authenticate(r *event.HTTPRequest, now time.Time) (webhookID string, status int, msg string) {
	// A token that is only whitespace could never be matched: HTTP trims
	// header values. Treat it, like an unusable secret, as absent.
	token := strings.TrimSpace(c.Token)
	wh := verifier(c.Secret)
	if token == "" && wh == nil {
		return "", http.StatusUnauthorized, msgNoCredentials
	}
	// The signature is tried first so that a request carrying both yields
	// its webhook-id for the replay check.
	if wh != nil {
		if id, ok := verifySignature(wh, r, now); ok {
			return id, 0, ""
		}
	}
	if token != "" && bearerMatches(r.Headers, token) {
		return "", 0, ""
	}
	return "", http.StatusUnauthorized, msgUnauthorized
}

// verifier returns the Standard Webhooks verifier for a whsec_ secret, or
// nil when there is no usable key (an unset, malformed or empty secret).
func verifier(secret string) *standardwebhooks.Webhook {
	wh, err := webhook.ParseSecret(secret)
	if err != nil {
		return nil
	}
	return wh
}

// verifySignature checks the webhook-* headers over the raw body. The
// timestamp is checked here against now rather than by the library's
// Verify, which reads the wall clock itself; Config.Now must govern both
// this and the replay window.
func verifySignature(wh *standardwebhooks.Webhook, r *event.HTTPRequest, now time.Time) (string, bool) {
	id := r.Headers.Get(standardwebhooks.HeaderWebhookID)
	sec, err := strconv.ParseInt(r.Headers.Get(standardwebhooks.HeaderWebhookTimestamp), 10, 64)
	if id == "" || err != nil {
		return "", false
	}
	if ts := time.Unix(sec, 0); ts.Before(now.Add(-Tolerance)) || ts.After(now.Add(Tolerance)) {
		return "", false
	}
	if wh.VerifyIgnoringTimestamp(r.Body, r.Headers) != nil {
		return "", false
	}
	return id, true
}

// bearerMatches reports whether any Authorization header is "Bearer
// <token>" (scheme in any case). Digests of equal length are compared in
// constant time, so neither the token's content nor its length leaks
// through timing.
func bearerMatches(h http.Header, token string) bool {
	want := sha256.Sum256([]byte(token))
	match := 0
	for _, v := range h.Values("Authorization") {
		scheme, cred, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1
}
