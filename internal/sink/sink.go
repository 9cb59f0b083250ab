// Package sink defines where a rotated key goes. Each sink lives in its own
// folder below this one (ssm, awssm, webhook) and implements Sink; sinks
// whose copy can be read back and that durably record a rotation beside the
// key implement Store; sinks that can tell people about failures implement
// Notifier. Inspect and ConfirmWrite are the steps the stores share.
package sink

import (
	"context"
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
	// Fresh says the key was just made by a refresh and no sink can hold it
	// yet: a store may write without reading first.
	Fresh bool
}

// Sink receives keys.
type Sink interface {
	// Name as reported: "ssm", "webhook".
	Name() string
	// Deliver makes the sink hold d.Key. It is idempotent, retries transient
	// failures itself within ctx, and answers OK or Unchanged, or an error.
	Deliver(ctx context.Context, d Delivery) (Outcome, error)
}

// Holding is what a store holds for a zone, read without writing.
type Holding struct {
	Exists bool       // the store for the zone (the secret) exists
	Key    secret.Key // the key consumers read; zero when there is none
	Record *Record    // the last rotation record; nil when none can be trusted
}

// Store is a sink whose copy can be read back and that durably records each
// rotation beside the key, so that a platform retry on any instance finishes
// the rotation it already began instead of refreshing again.
type Store interface {
	Sink
	// Inspect reads what the store holds for zone and proves, without
	// writing, that a Deliver can succeed now: the store answers, consumers
	// can read it, it has room for the key. A failure means the key must not
	// be refreshed.
	Inspect(ctx context.Context, zone string) (Holding, error)
	// Begin durably records rec before the refresh. When the store for zone
	// does not exist (h.Exists false) it is created holding live, the zone's
	// live key, and read back, so that a record never sits beside a key that
	// does not work and the read that consumers make is proven.
	Begin(ctx context.Context, zone string, h Holding, rec Record, live secret.Key) error
}

// Notifier is implemented by sinks that announce failures to people.
type Notifier interface {
	NotifyFailure(ctx context.Context, f Failure) error
}

// Stager is a store that can hold a key before it goes live, for the
// staged rotation mode (ROTATION_MODE=staged): the function makes the key,
// stores it as pending, makes it live in TEO (Modify), then promotes it.
// Every method is idempotent, so a retry after a crash at any point
// continues with the same key.
type Stager interface {
	Store
	// Stage durably records rec (To is the pending key's fingerprint) and
	// stores key as the pending version, the record first (or in the same
	// call), before anything changes in TEO: a pending version no record
	// claims is never taken for this rotation's key. When the store for
	// zone does not exist yet (h.Exists false) it is created holding live
	// as the current version.
	Stage(ctx context.Context, zone string, h Holding, rec Record, key, live secret.Key) error
	// Pending returns the pending key held for zone; found is false when
	// there is none.
	Pending(ctx context.Context, zone string) (key secret.Key, found bool, err error)
	// Promote makes key the version consumers read, removes the pending
	// version and records rec (State Done; the zero Record, for sync, leaves
	// the record as it is). Unchanged when key was already current and
	// nothing was pending.
	Promote(ctx context.Context, zone string, key secret.Key, rec Record) (Outcome, error)
}

// PendingNotifier is implemented by sinks that announce a key about to go
// live, so that consumers can preload it (staged mode).
type PendingNotifier interface {
	NotifyPending(ctx context.Context, d Delivery) error
}

// StaleNotifier is implemented by sinks that tell people about a key that
// has not been rotated for too long.
type StaleNotifier interface {
	NotifyStale(ctx context.Context, s Stale) error
}

// Stale describes a zone whose live key is older than MAX_KEY_AGE. It never
// holds a key.
type Stale struct {
	ZoneID      string
	RequestID   string // the check that found it
	RotatedAt   time.Time
	Age, MaxAge time.Duration
	Fingerprint string // of the live key
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
