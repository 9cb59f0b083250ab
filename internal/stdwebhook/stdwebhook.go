// Package stdwebhook holds the Standard Webhooks rules this function signs
// and verifies by: the whsec_ secret (ParseSecret, and CheckSecret for a
// configured one), the webhook-* headers, the v1 signature over
// id.timestamp.body (Secret.Sign, Secret.Verify) and the timestamp
// tolerance. The webhook sink signs with it; the webhook receiver, the HTTP
// trigger and the configuration check use it to verify and validate.
//
// No error of this package quotes a secret, a key or a signature.
package stdwebhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The headers of a signed message.
const (
	HeaderID        = standardwebhooks.HeaderWebhookID
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

// Tolerance is how far a message's webhook-timestamp may be from now, in
// either direction: the Standard Webhooks reference value.
const Tolerance = 5 * time.Minute

// The shape of a configured secret: the prefix, then the standard base64 of
// MinKeyBytes to MaxKeyBytes random bytes.
const (
	SecretPrefix = "whsec_"
	MinKeyBytes  = 24
	MaxKeyBytes  = 64
)

// ErrSecret is ParseSecret's refusal. It never quotes the secret or the
// decoder's message about it.
var ErrSecret = errors.New("the signing secret is not a Standard Webhooks secret (whsec_ followed by base64)")

// Secret signs and verifies messages with one key. It is safe for
// concurrent use.
type Secret struct {
	wh *standardwebhooks.Webhook
}

// ParseSecret accepts what a Standard Webhooks library accepts, for signing
// or verifying: the base64 of a key, whsec_ in front or not. The library
// (v0.0.1) also takes an empty key, which would make every signature
// forgeable, so that is refused. A configured secret must also pass
// CheckSecret.
func ParseSecret(secret string) (*Secret, error) {
	raw, _ := strings.CutPrefix(secret, SecretPrefix)
	if raw == "" {
		return nil, ErrSecret
	}
	wh, err := standardwebhooks.NewWebhook(raw)
	if err != nil {
		return nil, ErrSecret
	}
	return &Secret{wh: wh}, nil
}

// CheckSecret is the rule for a configured secret (WEBHOOK_SECRET,
// TRIGGER_SECRET): SecretPrefix and the base64 of MinKeyBytes to
// MaxKeyBytes random bytes. Its message says what is wrong without the
// value.
func CheckSecret(secret string) error {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return errors.New("want a Standard Webhooks secret: whsec_ followed by base64")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return errors.New("the part after whsec_ is not valid base64")
	}
	if len(key) < MinKeyBytes || len(key) > MaxKeyBytes {
		return fmt.Errorf("the secret decodes to %d bytes; want %d to %d random bytes", len(key), MinKeyBytes, MaxKeyBytes)
	}
	return nil
}

// NewSecret returns a fresh configured secret: SecretPrefix and the base64
// of 32 random bytes.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign sets h's webhook-id, webhook-timestamp and webhook-signature for
// body sent as message id at at.
func (s *Secret) Sign(h http.Header, id string, at time.Time, body []byte) error {
	sig, err := s.wh.Sign(id, at, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// Verify checks the webhook-* headers of h over body, the exact bytes
// received, with the timestamp within Tolerance of now, and returns the
// webhook-id. The caller supplies now (the library's own check reads the
// wall clock) so that one clock governs this and any replay window. The
// errors are the library's, in its order: missing or unreadable headers,
// timestamp, signature.
func (s *Secret) Verify(body []byte, h http.Header, now time.Time) (id string, err error) {
	id = h.Get(HeaderID)
	sec, perr := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if id == "" || h.Get(HeaderSignature) == "" || perr != nil {
		// The library names what is missing or unreadable.
		if err := s.wh.VerifyIgnoringTimestamp(body, h); err != nil {
			return "", err
		}
		return "", standardwebhooks.ErrInvalidHeaders
	}
	switch at := time.Unix(sec, 0); {
	case at.Before(now.Add(-Tolerance)):
		return "", fmt.Errorf("unable to verify payload, err: %w", standardwebhooks.ErrMessageTooOld)
	case at.After(now.Add(Tolerance)):
		return "", fmt.Errorf("unable to verify payload, err: %w", standardwebhooks.ErrMessageTooNew)
	}
	if err := s.wh.VerifyIgnoringTimestamp(body, h); err != nil {
		return "", err
	}
	return id, nil
}
