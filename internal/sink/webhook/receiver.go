package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
)

// Receiver is a Standard Webhooks consumer of this sink's events, as a
// gateway operator would write one: it verifies each request, applies each
// webhook-id once, and keeps every zone's current key. The demo command runs
// it as the webhook target; tests use it to prove what a receiver ends with.
// It is safe for concurrent use.
type Receiver struct {
	secret *stdwebhook.Secret

	mu       sync.Mutex
	seen     map[string]bool // webhook-ids applied
	events   []Event
	failures []Event
	keys     map[string]secret.Key
	pending  map[string]secret.Key // staged mode: announced, not yet live
}

// Event is one request the Receiver accepted.
type Event struct {
	ID          string // webhook-id
	Type        string
	ZoneID      string
	Fingerprint string
	RotationID  string
	Action      string
	HasKey      bool   // the event carried the key (WEBHOOK_INCLUDE_KEY)
	RotatedAt   string // stale notices: when the key was last rotated
	Received    time.Time
	Duplicate   bool // the id had been applied before: nothing was done
}

// NewReceiver verifies requests with signingSecret (whsec_…). The error
// never contains the secret.
func NewReceiver(signingSecret string) (*Receiver, error) {
	sec, err := stdwebhook.ParseSecret(signingSecret)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return &Receiver{secret: sec, seen: map[string]bool{}, keys: map[string]secret.Key{}, pending: map[string]secret.Key{}}, nil
}

// ServeHTTP takes one event. Answers: 204 applied; 200 a webhook-id already
// applied (so the sender stops retrying); 401 bad or stale signature
// (stdwebhook.Tolerance); 400 a body that is not a valid event, or a key
// whose fingerprint differs from the one announced; 405 not a POST; 413
// over 64 KiB.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body over 64 KiB", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading body failed", http.StatusBadRequest)
		return
	}
	// Verify the exact bytes received, before parsing anything.
	id, err := r.secret.Verify(body, req.Header, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	ev, key, err := parseEvent(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ev.ID = id
	ev.Received = time.Now()
	if r.apply(ev, key) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// apply records ev and acts on it unless its id was applied before; it
// reports whether it did.
func (r *Receiver) apply(ev Event, key secret.Key) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[ev.ID] {
		ev.Duplicate = true
		r.events = append(r.events, ev)
		return false
	}
	r.seen[ev.ID] = true
	r.events = append(r.events, ev)
	switch ev.Type {
	case TypeRotated:
		// Latest applied wins: the sender converges every sink to the live
		// key, so the last key announced is the one to hold.
		if !key.IsZero() {
			r.keys[ev.ZoneID] = key
		}
	case TypePending:
		if !key.IsZero() {
			r.pending[ev.ZoneID] = key
		}
	case TypeRotationFailed, TypeStale:
		r.failures = append(r.failures, ev)
	}
	return true
}

var (
	errNotEvent     = errors.New("body is not an event")
	errMissingField = errors.New("event without zoneId or fingerprint")
	errFingerprint  = errors.New("data.fingerprint does not match data.secretKey")
)

// parseEvent reads a verified body. Messages are fixed: a decoder's message
// could quote a value, and the value could be a key.
func parseEvent(body []byte) (Event, secret.Key, error) {
	var env envelope[json.RawMessage]
	if err := json.Unmarshal(body, &env); err != nil || env.Type == "" {
		return Event{}, secret.Key{}, errNotEvent
	}
	switch env.Type {
	case TypeRotated, TypePending:
		var d rotatedData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return Event{}, secret.Key{}, errNotEvent
		}
		if d.ZoneID == "" || d.Fingerprint == "" {
			return Event{}, secret.Key{}, errMissingField
		}
		if d.SecretKey != "" && secret.Fingerprint(d.SecretKey) != d.Fingerprint {
			return Event{}, secret.Key{}, errFingerprint
		}
		return Event{
			Type: env.Type, ZoneID: d.ZoneID, Fingerprint: d.Fingerprint,
			RotationID: d.RotationID, Action: d.Action, HasKey: d.SecretKey != "",
		}, secret.New(d.SecretKey), nil
	case TypeRotationFailed:
		var d failedData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return Event{}, secret.Key{}, errNotEvent
		}
		if d.ZoneID == "" {
			return Event{}, secret.Key{}, errMissingField
		}
		return Event{
			Type: env.Type, ZoneID: d.ZoneID, Fingerprint: d.Fingerprint,
			RotationID: d.RotationID, Action: d.Action,
		}, secret.Key{}, nil
	case TypeStale:
		var d staleData
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return Event{}, secret.Key{}, errNotEvent
		}
		if d.ZoneID == "" || d.RotatedAt == "" {
			return Event{}, secret.Key{}, errMissingField
		}
		return Event{Type: env.Type, ZoneID: d.ZoneID, Fingerprint: d.Fingerprint, RotatedAt: d.RotatedAt}, secret.Key{}, nil
	default:
		// A newer sender's event type: accept it (a 4xx would only make the
		// sender give up) and act on nothing.
		return Event{Type: env.Type}, secret.Key{}, nil
	}
}

// Events returns every request accepted, in order, duplicates marked.
func (r *Receiver) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Failures returns the notices applied (rotation_failed and stale), in
// order.
func (r *Receiver) Failures() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.failures)
}

// Pending returns the last key announced as pending for zone.
func (r *Receiver) Pending(zone string) (secret.Key, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.pending[zone]
	return k, ok
}

// Key returns the key the receiver holds for zone.
func (r *Receiver) Key(zone string) (secret.Key, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keys[zone]
	return k, ok
}
