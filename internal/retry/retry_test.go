package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"
)

type coded struct{ retryable bool }

func (c coded) Error() string   { return fmt.Sprintf("coded retryable=%v", c.retryable) }
func (c coded) Retryable() bool { return c.retryable }

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
		{"classified retryable", coded{true}, true},
		{"classified final", coded{false}, false},
		{"wrapped classified", fmt.Errorf("ssm: %w", coded{true}), true},
		{"final wins over retryable", Final(coded{true}), false},
		{"after keeps class", After(coded{true}, time.Second), true},
		{"eof", io.EOF, true},
		{"unexpected eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{"refused", syscall.ECONNREFUSED, true},
		{"deadline", context.DeadlineExceeded, false},
		{"canceled wrapping network", fmt.Errorf("%w: %w", context.Canceled, io.EOF), false},
	}
	for _, tc := range tests {
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("%s: IsRetryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDo(t *testing.T) {
	fast := Policy{Attempts: 4, Initial: time.Microsecond, Max: time.Millisecond}
	tests := []struct {
		name      string
		failures  []error // returned by successive attempts, then nil
		wantCalls int
		wantErr   bool
	}{
		{"first try", nil, 1, false},
		{"transient then ok", []error{coded{true}, io.EOF}, 3, false},
		{"final stops at once", []error{coded{false}}, 1, true},
		{"attempts used up", []error{io.EOF, io.EOF, io.EOF, io.EOF, io.EOF}, 4, true},
	}
	for _, tc := range tests {
		calls := 0
		err := fast.Do(context.Background(), func(ctx context.Context, attempt int) error {
			calls++
			if attempt != calls {
				t.Errorf("%s: attempt %d on call %d", tc.name, attempt, calls)
			}
			if calls <= len(tc.failures) {
				return tc.failures[calls-1]
			}
			return nil
		})
		if calls != tc.wantCalls || (err != nil) != tc.wantErr {
			t.Errorf("%s: calls=%d err=%v; want calls=%d err=%v", tc.name, calls, err, tc.wantCalls, tc.wantErr)
		}
	}
}

func TestDoRespectsDeadline(t *testing.T) {
	// The wait (an hour) does not fit before the deadline: Do gives up at once
	// with the operation's error instead of sleeping past the deadline.
	p := Policy{Attempts: 3, Initial: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calls := 0
	err := p.Do(ctx, func(context.Context, int) error { calls++; return io.EOF })
	if calls != 1 || !errors.Is(err, io.EOF) {
		t.Fatalf("calls=%d err=%v", calls, err)
	}

	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	err = p.Do(done, func(context.Context, int) error { t.Fatal("called with a cancelled context"); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestBackoff(t *testing.T) {
	p := Policy{Attempts: 4, Initial: 100 * time.Millisecond, Max: 300 * time.Millisecond}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 300 * time.Millisecond, 9: 300 * time.Millisecond} {
		for range 50 {
			if got := p.Backoff(attempt); got < want/2 || got > want {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", attempt, got, want/2, want)
			}
		}
	}
}

// timeoutError is a net.Error timeout, as a transport reports its own
// deadline.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestDoRetriesTimedOutAttempt: when the attempt's own timer fired, the
// attempt is retried whatever its error says; only an explicit Final wins.
func TestDoRetriesTimedOutAttempt(t *testing.T) {
	tests := []struct {
		name      string
		err       func(ctx context.Context) error // the first attempt's error, once its ctx is done
		wantCalls int
	}{
		{"context.DeadlineExceeded", func(ctx context.Context) error { return ctx.Err() }, 2},
		{"wrapped DeadlineExceeded", func(ctx context.Context) error { return fmt.Errorf("POST: %w", ctx.Err()) }, 2},
		{"net timeout", func(context.Context) error { return &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}} }, 2},
		{"classified final", func(context.Context) error { return coded{false} }, 2},
		{"plain error", func(context.Context) error { return errors.New("no answer") }, 2},
		{"explicit Final", func(ctx context.Context) error { return Final(ctx.Err()) }, 1},
	}
	p := Policy{Attempts: 3, Initial: time.Microsecond, Max: time.Millisecond, AttemptTimeout: 20 * time.Millisecond}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := p.Do(context.Background(), func(ctx context.Context, attempt int) error {
				calls++
				if attempt > 1 {
					return nil
				}
				<-ctx.Done()
				if !AttemptTimedOut(ctx) {
					t.Errorf("AttemptTimedOut = false after the attempt's timer fired (cause %v)", context.Cause(ctx))
				}
				return tc.err(ctx)
			})
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if (err != nil) != (tc.wantCalls == 1) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// TestDoStopsWhenParentEnds: once the caller's context is done nothing is
// retried, even an error that is retryable by its type, and the attempt's
// error comes back unchanged.
func TestDoStopsWhenParentEnds(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // the attempt's; the parent's deadline is 30ms
		cancel  bool          // cancel the parent instead
		err     func(ctx context.Context) error
		want    error
	}{
		{"deadline, no attempt timeout", 0, false, func(ctx context.Context) error { return fmt.Errorf("x: %w", ctx.Err()) }, context.DeadlineExceeded},
		{"deadline before the attempt timeout", time.Hour, false, func(ctx context.Context) error { return fmt.Errorf("x: %w", ctx.Err()) }, context.DeadlineExceeded},
		{"deadline, retryable error", time.Hour, false, func(context.Context) error { return io.EOF }, io.EOF},
		{"cancelled", time.Hour, true, func(ctx context.Context) error { return ctx.Err() }, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			if tc.cancel {
				ctx, cancel = context.WithCancel(context.Background())
				defer cancel()
			}
			p := Policy{Attempts: 5, Initial: time.Microsecond, Max: time.Millisecond, AttemptTimeout: tc.timeout}
			calls := 0
			err := p.Do(ctx, func(actx context.Context, attempt int) error {
				calls++
				if tc.cancel {
					cancel()
				}
				<-actx.Done()
				if AttemptTimedOut(actx) {
					t.Error("the parent's end is taken for the attempt's timeout")
				}
				return tc.err(actx)
			})
			if calls != 1 || !errors.Is(err, tc.want) {
				t.Errorf("calls=%d err=%v; want 1 call and %v", calls, err, tc.want)
			}
		})
	}
}

// TestDoAttemptDeadline: the attempt's deadline is the earlier of its own
// timeout and the caller's deadline.
func TestDoAttemptDeadline(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // Policy.AttemptTimeout
		parent  time.Duration // 0 = no deadline
		want    time.Duration // from now; 0 = no deadline
		own     bool          // the attempt's own timer, not the parent's deadline
	}{
		{"neither", 0, 0, 0, false},
		{"attempt timeout only", time.Second, 0, time.Second, true},
		{"parent deadline only", 0, time.Minute, time.Minute, false},
		{"attempt timeout first", time.Second, time.Minute, time.Second, true},
		{"parent deadline first", time.Hour, time.Minute, time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.parent > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.parent)
				defer cancel()
			}
			parentDeadline, _ := ctx.Deadline()
			before := time.Now()
			p := Policy{Attempts: 1, AttemptTimeout: tc.timeout}
			_ = p.Do(ctx, func(actx context.Context, _ int) error {
				after := time.Now()
				deadline, ok := actx.Deadline()
				switch {
				case tc.want == 0:
					if ok {
						t.Errorf("deadline %v, want none", deadline)
					}
				case !ok:
					t.Error("no deadline")
				case !tc.own:
					if !deadline.Equal(parentDeadline) {
						t.Errorf("deadline %v, want the parent's %v", deadline, parentDeadline)
					}
				case deadline.Before(before.Add(tc.want)) || deadline.After(after.Add(tc.want)):
					t.Errorf("deadline in %v, want %v", deadline.Sub(before), tc.want)
				}
				return nil
			})
		})
	}
}

// TestDoNoWaitPastDeadline: a wait (backoff or Retry-After) that would not
// end before the deadline is not started: Do returns at once, with time
// left, and the error of the last attempt.
func TestDoNoWaitPastDeadline(t *testing.T) {
	tests := []struct {
		name      string
		initial   time.Duration
		after     time.Duration // Retry-After asked by the error
		wantCalls int
	}{
		{"backoff fits", time.Millisecond, 0, 3},
		{"backoff past the deadline", time.Hour, 0, 1},
		{"Retry-After past the deadline", time.Millisecond, time.Hour, 1},
		{"Retry-After ends at the deadline", time.Millisecond, time.Minute, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p := Policy{Attempts: 3, Initial: tc.initial, Max: tc.initial, AttemptTimeout: time.Second}
			calls := 0
			err := p.Do(ctx, func(context.Context, int) error {
				calls++
				if tc.after > 0 {
					return After(io.EOF, tc.after)
				}
				return io.EOF
			})
			if calls != tc.wantCalls || !errors.Is(err, io.EOF) {
				t.Errorf("calls=%d err=%v; want %d calls and EOF", calls, err, tc.wantCalls)
			}
			if ctx.Err() != nil {
				t.Error("Do waited for the deadline")
			}
		})
	}
}

// TestDoPaced: pace runs before every attempt with the caller's context,
// outside the attempt's timer, and its error ends DoPaced unchanged.
func TestDoPaced(t *testing.T) {
	p := Policy{Attempts: 3, AttemptTimeout: time.Hour}
	var paced []bool // the caller's context has no deadline of its own
	var attemptDeadlines []time.Time
	errFlaky := errors.New("flaky")
	err := p.DoPaced(context.Background(), func(ctx context.Context) error {
		_, has := ctx.Deadline()
		paced = append(paced, has)
		return nil
	}, func(ctx context.Context, attempt int) error {
		d, _ := ctx.Deadline()
		attemptDeadlines = append(attemptDeadlines, d)
		if attempt < 3 {
			return retryableErr{errFlaky}
		}
		return nil
	})
	if err != nil || len(paced) != 3 || len(attemptDeadlines) != 3 || slices.Contains(paced, true) {
		t.Fatalf("err %v, paced %v (deadline seen), attempts %d", err, paced, len(attemptDeadlines))
	}

	errNoSlot := errors.New("no slot")
	calls := 0
	err = p.DoPaced(context.Background(), func(context.Context) error { return errNoSlot },
		func(context.Context, int) error { calls++; return nil })
	if !errors.Is(err, errNoSlot) || calls != 0 {
		t.Errorf("pace error: got %v after %d attempts, want the pace error and none", err, calls)
	}
}

type retryableErr struct{ error }

func (retryableErr) Retryable() bool { return true }

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep after cancel = %v, want context.Canceled", err)
	}
}
