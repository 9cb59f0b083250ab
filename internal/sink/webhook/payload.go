package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// Event types sent by the sink (the "type" field of the body).
const (
	TypeRotated        = "teo.mpgw.secret_key.rotated"
	TypeRotationFailed = "teo.mpgw.secret_key.rotation_failed"
	TypeStale          = "teo.mpgw.secret_key.stale"
	TypePending        = "teo.mpgw.secret_key.pending" // staged mode: the key about to go live
)

// maxBody bounds what is read of a receiver's answer and what the Receiver
// accepts. Our events are well under 1 KiB; the limit only has to stop a
// misbehaving peer from holding memory or the invocation.
const maxBody = 64 << 10

// envelope is the Standard Webhooks recommended shape. Field order is the
// order on the wire.
type envelope[T any] struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"` // RFC 3339, UTC, of the event (not of the attempt)
	Data      T      `json:"data"`
}

type rotatedData struct {
	ZoneID              string `json:"zoneId"`
	SecretKey           string `json:"secretKey,omitempty"` // left out unless WEBHOOK_INCLUDE_KEY
	Fingerprint         string `json:"fingerprint"`
	PreviousFingerprint string `json:"previousFingerprint,omitempty"`
	Action              string `json:"action"`
	RotationID          string `json:"rotationId"`
}

type failedData struct {
	ZoneID      string `json:"zoneId"`
	Action      string `json:"action"`
	RotationID  string `json:"rotationId"`
	KeyChanged  bool   `json:"keyChanged"`
	APIAction   string `json:"apiAction"`
	Code        string `json:"code"`
	Error       string `json:"error"`
	Remedy      string `json:"remedy"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

type staleData struct {
	ZoneID      string `json:"zoneId"`
	RotatedAt   string `json:"rotatedAt"` // RFC 3339
	Age         string `json:"age"`       // Go duration, whole seconds
	AgeSeconds  int64  `json:"ageSeconds"`
	MaxKeyAge   string `json:"maxKeyAge"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// rotatedBody is the body announcing d. This is the one place the key is
// revealed, and only when includeKey is set.
func rotatedBody(d sink.Delivery, includeKey bool, at time.Time) []byte {
	return keyBody(TypeRotated, d, includeKey, at)
}

// keyBody is the body of an event carrying d's key (rotated, pending).
func keyBody(typ string, d sink.Delivery, includeKey bool, at time.Time) []byte {
	data := rotatedData{
		ZoneID:              d.ZoneID,
		Fingerprint:         d.Key.Fingerprint(),
		PreviousFingerprint: d.Previous,
		Action:              d.Action,
		RotationID:          d.RotationID,
	}
	if includeKey {
		data.SecretKey = d.Key.Reveal()
	}
	return encode(typ, at, data)
}

// failedBody is the body of a failure notice. sink.Failure holds no key, so
// neither can this.
func failedBody(f sink.Failure, at time.Time) []byte {
	return encode(TypeRotationFailed, at, failedData{
		ZoneID:      f.ZoneID,
		Action:      f.Action,
		RotationID:  f.RotationID,
		KeyChanged:  f.KeyChanged,
		APIAction:   f.APIAction,
		Code:        f.Code,
		Error:       f.Reason,
		Remedy:      f.Remedy,
		Fingerprint: f.Fingerprint,
	})
}

// staleBody is the body of a stale-key notice; sink.Stale holds no key.
func staleBody(st sink.Stale, at time.Time) []byte {
	return encode(TypeStale, at, staleData{
		ZoneID:      st.ZoneID,
		RotatedAt:   st.RotatedAt.UTC().Format(time.RFC3339),
		Age:         st.Age.Truncate(time.Second).String(),
		AgeSeconds:  int64(st.Age / time.Second),
		MaxKeyAge:   st.MaxAge.String(),
		Fingerprint: st.Fingerprint,
	})
}

func encode[T any](typ string, at time.Time, data T) []byte {
	// Marshal cannot fail on structs of strings and bools.
	body, _ := json.Marshal(envelope[T]{Type: typ, Timestamp: at.UTC().Format(time.RFC3339), Data: data})
	return body
}

// MessageID is the webhook-id of an event: "msg_" and the first 24 hex digits
// of sha256(zone|rotation|fingerprint). It depends only on what identifies
// the event, never on time or attempt, so retries and platform re-runs of one
// zone's rotation to one key share an id and dedupe at the receiver, while a
// different key (or zone, or rotation) gets a new one. Failure notices pass
// "failed" as the fingerprint. The id never contains '.', which Standard
// Webhooks forbids.
func MessageID(zoneID, rotationID, fingerprint string) string {
	sum := sha256.Sum256([]byte(zoneID + "|" + rotationID + "|" + fingerprint))
	return "msg_" + hex.EncodeToString(sum[:])[:24]
}
