package sink

import (
	"cmp"
	"context"
	"sync"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

// Read is a store's read of one version of a zone's secret: found is false
// when the secret or the version does not exist.
type Read func() (key secret.Key, found bool, err error)

// Metadata is what a store's metadata read tells of a zone's secret.
type Metadata struct {
	Exists bool   // the secret exists
	Record string // the text holding the rotation record; "" for none
	// Unusable, for a secret that exists, is why it must not be written
	// (disabled, scheduled for deletion), with the remedy; nil otherwise.
	Unusable error
}

// Inspect is what every Store's Inspect does: read (the one consumers make)
// and describe sent together; an unusable secret fails with its remedy
// before the read's own error, which has none; a record that does not parse
// (none, or one edited by hand) is not trusted. found says whether read
// found a value.
func Inspect(read Read, describe func() (Metadata, error)) (h Holding, found bool, err error) {
	var (
		key     secret.Key
		readErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() { key, found, readErr = read() })
	meta, descErr := describe()
	wg.Wait()
	if descErr == nil && meta.Exists && meta.Unusable != nil {
		return Holding{}, false, meta.Unusable
	}
	if err := cmp.Or(readErr, descErr); err != nil {
		return Holding{}, false, err
	}
	if !meta.Exists {
		return Holding{}, false, nil // Begin creates it
	}
	h.Exists = true
	if rec, err := ParseRecord(meta.Record); err == nil {
		h.Record = &rec
	}
	if found {
		h.Key = key
	}
	return h, found, nil
}

// ConfirmWrite returns err, the failure of a write of want, or nil when the
// write landed all the same: err is transient (every answer was lost), ctx
// has time left, and one read finds want in place.
func ConfirmWrite(ctx context.Context, err error, want secret.Key, read Read) error {
	if err == nil || !retry.IsRetryable(err) || ctx.Err() != nil {
		return err
	}
	if held, found, rerr := read(); rerr == nil && found && held.Equal(want) {
		return nil
	}
	return err
}
