// Package retry runs an operation again after transient failures, with
// exponential backoff and jitter, never past the context's deadline.
//
// Whether an error is worth retrying is decided here, once: an error that
// knows (it has a Retryable method, such as a cloud API error classified by
// its code, or a webhook answer classified by its status) says so itself;
// network failures are retryable; a cancelled or expired context never is.
package retry

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"
)

// Policy bounds the attempts of one operation.
type Policy struct {
	Attempts int           // total tries, at least 1
	Initial  time.Duration // wait before the second try
	Max      time.Duration // cap of one wait
}

// Do calls op until it succeeds, returns a final error, has been tried
// p.Attempts times, or the next wait would run past ctx's deadline. It
// returns op's last error.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context, attempt int) error) error {
	attempts := max(p.Attempts, 1)
	var err error
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				return cerr
			}
			return err
		}
		err = op(ctx, attempt)
		if err == nil || attempt >= attempts || !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		wait := p.Backoff(attempt)
		if after := retryAfter(err); after > wait {
			wait = after
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// Backoff is the wait after the given failed attempt: Initial doubled per
// attempt, capped at Max, with jitter in [d/2, d] so that many zones failing
// together do not retry in lockstep.
func (p Policy) Backoff(attempt int) time.Duration {
	d := p.Initial
	for i := 1; i < attempt && (p.Max <= 0 || d < p.Max); i++ {
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Budget is the longest Do may take when every attempt takes perAttempt: the
// attempts plus the waits between them.
func (p Policy) Budget(perAttempt time.Duration) time.Duration {
	attempts := max(p.Attempts, 1)
	total := time.Duration(attempts) * perAttempt
	d := p.Initial
	for i := 1; i < attempts; i++ {
		w := d
		if p.Max > 0 && w > p.Max {
			w = p.Max
		}
		total += w
		d *= 2
	}
	return total
}

// IsRetryable reports whether err is transient: worth another attempt.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return IsNetwork(err)
}

// IsNetwork reports whether err is a transport failure: a refused, reset or
// dropped connection, or a timeout of one attempt.
func IsNetwork(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE)
}

// Final marks err as not worth retrying, whatever it wraps.
func Final(err error) error {
	if err == nil {
		return nil
	}
	return finalError{err}
}

type finalError struct{ error }

func (f finalError) Unwrap() error   { return f.error }
func (f finalError) Retryable() bool { return false }

// After asks the next wait to be at least d (a server's Retry-After).
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return afterError{err, d}
}

type afterError struct {
	error
	after time.Duration
}

func (a afterError) Unwrap() error             { return a.error }
func (a afterError) RetryAfter() time.Duration { return a.after }

func retryAfter(err error) time.Duration {
	var a interface{ RetryAfter() time.Duration }
	if errors.As(err, &a) {
		return a.RetryAfter()
	}
	return 0
}
