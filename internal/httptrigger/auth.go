package httptrigger

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/event"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
)

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
	sec, err := stdwebhook.ParseSecret(c.Secret) // fails for an unset, malformed or empty secret
	if token == "" && err != nil {
		return "", http.StatusUnauthorized, msgNoCredentials
	}
	// The signature is tried first so that a request carrying both yields
	// its webhook-id for the replay check. Its timestamp is checked against
	// now, which governs the replay window too.
	if err == nil {
		if id, err := sec.Verify(r.Body, r.Headers, now); err == nil {
			return id, 0, ""
		}
	}
	if token != "" && bearerMatches(r.Headers, token) {
		return "", 0, ""
	}
	return "", http.StatusUnauthorized, msgUnauthorized
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
