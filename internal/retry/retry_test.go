package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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

func TestBackoffAndBudget(t *testing.T) {
	p := Policy{Attempts: 4, Initial: 100 * time.Millisecond, Max: 300 * time.Millisecond}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 300 * time.Millisecond, 9: 300 * time.Millisecond} {
		for range 50 {
			if got := p.Backoff(attempt); got < want/2 || got > want {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", attempt, got, want/2, want)
			}
		}
	}
	// 4 attempts of 1s, waits 100+200+300ms.
	if got := p.Budget(time.Second); got != 4600*time.Millisecond {
		t.Errorf("Budget = %v", got)
	}
}
