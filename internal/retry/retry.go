// Package retry runs an operation again after transient failures, with
// exponential backoff and jitter, never past the context's deadline.
//
// Whether a failed attempt is worth another one is decided in Do, once, in
// this order: when the caller's context is done (the invocation is out of
// time, or cancelled) nothing is retried; when the attempt's own timer
// (Policy.AttemptTimeout) fired, it is retried whatever its error says, since
// a timeout surfaces as a context error, a net timeout or an SDK network
// error depending on which layer noticed first; otherwise IsRetryable
// classifies the error: an error that knows (it has a Retryable method, such
// as a cloud API error classified by its code, or a webhook answer classified
// by its status) says so itself, and network failures are retryable.
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
	// AttemptTimeout bounds one attempt; 0 = only the caller's deadline.
	// It is the one timer of an attempt: operations use the context Do
	// gives them and set no timeout of their own.
	AttemptTimeout time.Duration
}

// APITimeout bounds one attempt of a cloud API call (TEO, SSM, STS, AWS
// Secrets Manager): the key APIs answer in well under a second, and a
// request that hangs is better sent again.
const APITimeout = 5 * time.Second

// API is the policy of one idempotent cloud API call: transient failures
// are sent again three times, each attempt bounded by APITimeout.
func API() Policy {
	return Policy{Attempts: 4, Initial: 200 * time.Millisecond, Max: 2 * time.Second, AttemptTimeout: APITimeout}
}

// ErrAttemptTimeout is the cause (context.Cause) of an attempt's context
// when the attempt's own timer fired, as opposed to the caller's deadline.
var ErrAttemptTimeout = errors.New("attempt timeout")

// AttemptTimedOut reports whether ctx, an attempt's context from Do, ended
// because the attempt's own timer fired. Operations use it to word their
// errors; Do uses it to classify them.
func AttemptTimedOut(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrAttemptTimeout)
}

// Do calls op until it succeeds, fails for good (see the package comment),
// has been tried p.Attempts times, or the next wait would not end before
// ctx's deadline. Each attempt gets a context bounded by p.AttemptTimeout
// and by the time left before ctx's deadline, whichever ends first. It
// returns op's last error unchanged.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context, attempt int) error) error {
	return p.DoPaced(ctx, nil, op)
}

// DoPaced is Do with pace, when not nil, called with the caller's context
// before each attempt's timer starts: waiting for a rate-limit slot is no
// part of an attempt. An error from pace ends DoPaced with that error.
func (p Policy) DoPaced(ctx context.Context, pace func(ctx context.Context) error, op func(ctx context.Context, attempt int) error) error {
	attempts := max(p.Attempts, 1)
	var err error
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				return cerr
			}
			return err
		}
		if pace != nil {
			if perr := pace(ctx); perr != nil {
				return perr
			}
		}
		actx, cancel := p.attemptContext(ctx)
		err = op(actx, attempt)
		// Stop the timer before looking at it: a timer firing after op
		// returned does not make its error a timeout.
		cancel()
		if err == nil || attempt >= attempts || !retryable(ctx, actx, err) {
			return err
		}
		wait := p.Backoff(attempt)
		if after := retryAfter(err); after > wait {
			wait = after
		}
		// A wait that ends at the deadline leaves no time for the attempt
		// it waits for.
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return err
		}
		if Sleep(ctx, wait) != nil {
			return err
		}
	}
}

// Sleep waits d, or less if ctx ends first: then it returns ctx's error. A
// d of zero or less does not wait.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attemptContext bounds one attempt by p.AttemptTimeout, unless ctx ends
// first: then the attempt simply ends with ctx, so that exactly one timer
// bounds it and its end is never mistaken for the attempt's own timeout.
func (p Policy) attemptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.AttemptTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	end := time.Now().Add(p.AttemptTimeout)
	if deadline, ok := ctx.Deadline(); ok && !end.Before(deadline) {
		return context.WithCancel(ctx)
	}
	return context.WithDeadlineCause(ctx, end, ErrAttemptTimeout)
}

// retryable is the one classification of a failed attempt; see the package
// comment. An error marked Final stays final even when the attempt timed
// out: the operation knows that repeating it is unsafe (a refresh that may
// have happened), whatever the timer says.
func retryable(ctx, actx context.Context, err error) bool {
	switch {
	case ctx.Err() != nil:
		return false
	case isFinal(err):
		return false
	case AttemptTimedOut(actx):
		return true
	}
	return IsRetryable(err)
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

// IsRetryable reports whether err is transient: worth another attempt. It
// cannot know which timer ended an attempt (Do asks that first), so it takes
// a cancelled or expired context for the caller's, which is final. That is
// why operations word a timed-out attempt without wrapping a context error:
// a retry loop around theirs then still sees a transient failure.
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

func isFinal(err error) bool {
	var f finalError
	return errors.As(err, &f)
}

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
