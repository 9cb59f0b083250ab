package rotate

// The staged mode (ROTATION_MODE=staged) closes the window in which the
// only copy of the live key is in the function's memory: the function makes
// the key itself and stores it durably before TEO makes it live, in the four
// steps of the AWS Secrets Manager rotation template:
//
//  1. create: a key from crypto/rand; the rotation recorded (To is the new
//     key's fingerprint) and the key stored as pending in every store, the
//     record first; then announced as pending (webhook), so consumers can
//     preload it;
//  2. set: ModifyMultiPathGatewaySecretKey makes it live;
//  3. test: Describe answers that key;
//  4. finish: every store promotes it (current takes it, pending goes, the
//     record says done), the webhook gets it, Describe confirms.
//
// A retry of the same rotation id finds its record and enters at the step
// the live key shows, with the key the stores hold as pending: it never
// makes a second key once one was stored. A live key that is neither the
// one replaced nor the pending one was changed by someone else: it is
// delivered (promoted) as in refresh mode.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// newKey is a fresh gateway key: the base64 of 32 random bytes, the shape
// TEO documents (32 to 48 bytes before encoding).
func newKey() secret.Key {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return secret.New(base64.StdEncoding.EncodeToString(b))
}

// staged runs a rotation of z in the staged mode.
func (z *rotation) staged() ZoneResult {
	if z.own != nil {
		return z.resumeStaged()
	}
	return z.newKey()
}

// newKey runs the steps with a new key (create, then set, test, finish),
// unless a broken step or the time left forbids changing the key.
func (z *rotation) newKey() ZoneResult {
	if stop, ok := z.mayChangeKey(z.res); !ok {
		return stop
	}
	key, err := z.create()
	if err != nil {
		return z.unchanged(z.res, err)
	}
	return z.setTestFinish(key)
}

// create is step 1: a new key, recorded and stored as pending everywhere
// before anything changes in TEO, then announced.
func (z *rotation) create() (secret.Key, error) {
	if err := z.ensureFrom(); err != nil {
		return secret.Key{}, err
	}
	key := newKey()
	rec := sink.Record{RotationID: z.req.RotationID, State: sink.Pending, From: z.from, To: key.Fingerprint(), At: z.started.UTC()}
	for _, st := range z.stores {
		stager, ok := st.store.(sink.Stager)
		if !ok {
			return secret.Key{}, fmt.Errorf("%s cannot hold a pending key: staged mode is not possible with it", st.store.Name())
		}
		if err := stager.Stage(z.ctx, z.zone, st.holding, rec, key, z.live); err != nil {
			z.res.Sinks = append(z.res.Sinks, SinkResult{Name: st.store.Name(), Outcome: sink.Failed, Error: err.Error()})
			return secret.Key{}, fmt.Errorf("storing the new key as pending before it goes live: %s: %w", st.store.Name(), err)
		}
	}
	if z.e.Memory != nil {
		z.e.Memory.save(z.zone, rec)
	}
	z.res.PreviousFingerprint = z.from
	d := sink.Delivery{ZoneID: z.zone, Key: key, Action: string(z.req.Action), RotationID: z.req.RotationID, Previous: z.from, Fresh: true}
	for _, s := range z.e.Sinks {
		if n, ok := s.(sink.PendingNotifier); ok {
			if err := n.NotifyPending(z.ctx, d); err != nil {
				// Consumers could not preload it: do not make it live. The
				// pending version stays stored; the next rotation replaces it.
				z.markBroken(s.Name(), err)
				z.res.Sinks = append(z.res.Sinks, SinkResult{Name: s.Name(), Outcome: sink.Failed, Error: err.Error()})
				return secret.Key{}, fmt.Errorf("%s: announcing the pending key: %w", s.Name(), err)
			}
		}
	}
	return key, nil
}

// set is step 2: Modify makes key live (see changeKey).
func (z *rotation) set(key secret.Key) (live secret.Key, changed bool, err error) {
	return z.changeKey(func(ctx context.Context) (secret.Key, error) { return key, z.e.TEO.Modify(ctx, z.zone, key) })
}

// setTestFinish runs steps 2 to 4 for key, already stored as pending.
func (z *rotation) setTestFinish(key secret.Key) ZoneResult {
	live, changed, err := z.set(key)
	if err != nil {
		if changed {
			return z.stagedFailure(fail(z.res, true, err))
		}
		return z.unchanged(z.res, err)
	}
	z.res.KeyChanged = true
	return z.refusedOutcome(z.testFinish(key, live))
}

// testFinish is steps 3 and 4: Describe answers key (or a key someone else
// set, which is then the one delivered), every store promotes it.
func (z *rotation) testFinish(key, live secret.Key) ZoneResult {
	if live.IsZero() || live.Equal(key) {
		now, err := z.e.TEO.Describe(z.ctx, z.zone)
		if err != nil {
			z.markBroken("confirming the live key with TEO", err)
			return z.stagedFailure(fail(z.res, true, fmt.Errorf("set, but testing the live key failed: %w", err)))
		}
		live = now
	}
	if !live.Equal(key) {
		z.log.Warn("the live key is not the one this rotation set; delivering the live key",
			"zoneId", z.zone, "pending", key.Fingerprint(), "live", live.Fingerprint())
	}
	z.res.Fingerprint = live.Fingerprint()
	return z.stagedFailure(z.deliver(z.zone, live, false, z.res, Rotated))
}

// resumeStaged continues a staged rotation its record shows began: with
// the pending key the stores hold, at the step the live key shows.
func (z *rotation) resumeStaged() ZoneResult {
	if err := z.describe(); err != nil {
		return z.unchanged(z.res, err)
	}
	z.res.PreviousFingerprint = z.own.From
	if live := z.live.Fingerprint(); z.own.State == sink.Done || live == z.own.To || live != z.own.From {
		// Set already (or changed by someone else): the Describe just made
		// is the test; finish with the live key, no pending key needed.
		z.res.KeyChanged, z.res.Redelivered = true, true
		z.res.RotatedAt = z.own.At.UTC().Format(time.RFC3339)
		z.res.Fingerprint = z.live.Fingerprint()
		return z.stagedFailure(z.deliver(z.zone, z.live, false, z.res, Rotated))
	}
	key, found, err := z.pendingKey(z.own.To)
	if err != nil {
		return z.unchanged(z.res, err)
	}
	z.from = z.own.From
	if !found {
		// Recorded but never stored (a crash between the two): that key
		// never left this process, so a new one takes its place.
		return z.newKey()
	}
	// Stored, not yet live: set the same key.
	if stop, ok := z.mayChangeKey(z.res); !ok {
		return stop
	}
	return z.setTestFinish(key)
}

// pendingKey is the key a store holds as pending whose fingerprint is want.
func (z *rotation) pendingKey(want string) (secret.Key, bool, error) {
	for _, st := range z.stores {
		stager, ok := st.store.(sink.Stager)
		if !ok {
			continue
		}
		key, found, err := stager.Pending(z.ctx, z.zone)
		if err != nil {
			return secret.Key{}, false, fmt.Errorf("%s: reading the pending key: %w", st.store.Name(), err)
		}
		if found && key.Fingerprint() == want {
			return key, true, nil
		}
	}
	return secret.Key{}, false, nil
}

// stagedFailure words a failure after the key changed the staged way: the
// key is stored durably (as pending, where it was not promoted), and sync
// promotes it.
func (z *rotation) stagedFailure(res ZoneResult) ZoneResult {
	if rest, ok := strings.CutPrefix(res.Error, rotatedIncomplete); ok && res.Outcome == Failed && res.KeyChanged {
		res.Error = "key rotated, stored as pending: run sync: " + rest
	}
	return res
}
