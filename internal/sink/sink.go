// Package sink defines where a rotated key goes. Each sink lives in its own
// folder below this one (ssm, webhook) and implements Sink; sinks whose copy
// can be read back also implement Reader, and sinks that can durably record
// a rotation's progress beside the key implement Journal.
package sink

import (
	"context"
	"errors"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

// Outcome of one sink for one zone, as reported.
type Outcome string

const (
	OK        Outcome = "ok"        // the sink now holds the key (written, or re-sent)
	Unchanged Outcome = "unchanged" // it already held the key: nothing written
	Drift     Outcome = "drift"     // check: it holds something else
	Failed    Outcome = "failed"
	Skipped   Outcome = "skipped" // not attempted (a webhook during check, no time left)
)

// Delivery is one key to put in place for one zone.
type Delivery struct {
	ZoneID     string
	Key        secret.Key
	Action     string // "rotate" or "sync"
	RotationID string // identifies the rotation across platform retries
	// Previous is the fingerprint of the key this one replaced, when known.
	Previous string
}

// Sink receives keys.
type Sink interface {
	// Name as reported: "ssm", "webhook".
	Name() string
	// Deliver makes the sink hold d.Key. It is idempotent, retries transient
	// failures itself within ctx, and answers OK or Unchanged, or an error.
	Deliver(ctx context.Context, d Delivery) (Outcome, error)
	// Budget is the longest Deliver may take, retries included: the rotation
	// engine refuses to refresh a key it has no time left to deliver.
	Budget() time.Duration
}

// Reader is a sink whose copy can be read back.
type Reader interface {
	Sink
	// Preflight proves, without writing the key, that a Deliver for zone can
	// succeed now: the store answers, the secret is usable. A failure means
	// the key must not be refreshed.
	Preflight(ctx context.Context, zone string) error
	// Read returns the key held for zone; found is false when there is none.
	Read(ctx context.Context, zone string) (key secret.Key, found bool, err error)
}

// Journal is implemented by sinks that can durably record the progress of a
// rotation beside the key, so that a platform retry on any instance finishes
// the rotation it already began instead of refreshing again.
type Journal interface {
	// LoadRecord returns the last record for zone (found false if none).
	LoadRecord(ctx context.Context, zone string) (rec Record, found bool, err error)
	// SaveRecord stores rec for zone. When the store for zone does not exist
	// yet it is created holding current, the zone's live key, so that a
	// record never sits beside a key that does not work.
	SaveRecord(ctx context.Context, zone string, rec Record, current secret.Key) error
}

// Notifier is implemented by sinks that announce failures to people.
type Notifier interface {
	NotifyFailure(ctx context.Context, f Failure) error
}

// Failure describes a zone whose rotation failed. It never holds a key.
type Failure struct {
	ZoneID      string
	Action      string // rotate, sync
	RotationID  string
	KeyChanged  bool   // true: the old key is dead and consumers may hold it
	APIAction   string // the call that failed, e.g. "UpdateSecret"
	Code        string // its error code
	Reason      string // the report's error text
	Remedy      string // what to run, e.g. "run sync for zone-x"
	Fingerprint string // of the live key, when known
}

// ErrConflict means another writer replaced the value between a sink's
// write and its read-back. Which key must win is for TEO to say: the engine
// confirms the live key and delivers again.
var ErrConflict = errors.New("read back a different value after writing: a concurrent writer")
