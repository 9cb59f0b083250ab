package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
)

// TestOneTimerPerAttempt: the attempt timeout, applied by retry.Do, is the
// only timer of a POST. An attempt that got no answer in time is retried
// while the invocation has time; the report tells an attempt's timeout
// ("Timeout") from the invocation running out ("DeadlineExceeded").
func TestOneTimerPerAttempt(t *testing.T) {
	tests := []struct {
		name      string
		hang      int           // calls that get no answer; -1 = all
		timeout   time.Duration // Sink.AttemptTimeout
		deadline  time.Duration // the invocation's; 0 = none
		attempts  int
		wantCalls int
		wantCode  string // "" = delivered
		wantMsg   string
	}{
		{name: "hangs once, then 200", hang: 1, timeout: 100 * time.Millisecond, attempts: 4, wantCalls: 2},
		{name: "hangs once, then 200, within a deadline", hang: 1, timeout: 100 * time.Millisecond, deadline: time.Minute, attempts: 4, wantCalls: 2},
		{name: "hangs for good, attempts used up", hang: -1, timeout: 50 * time.Millisecond, attempts: 2, wantCalls: 2,
			wantCode: "Timeout", wantMsg: "no answer within 50ms after 2 attempts"},
		{name: "hangs for good, invocation deadline reached", hang: -1, timeout: 5 * time.Second, deadline: 200 * time.Millisecond, attempts: 4, wantCalls: 1,
			wantCode: "DeadlineExceeded", wantMsg: "context deadline exceeded after 1 attempt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release) // before the server closes: Close waits for handlers
			hs := newHookServer(t, func(call int, w http.ResponseWriter, r *http.Request) {
				if tc.hang < 0 || call <= tc.hang {
					select {
					case <-release:
					case <-r.Context().Done():
					}
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			s := newSink(t, hs.hookURL(t))
			s.AttemptTimeout = tc.timeout
			s.Retry = retry.Policy{Attempts: tc.attempts, Initial: time.Millisecond, Max: 5 * time.Millisecond}
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			_, err := s.Deliver(ctx, testDelivery())
			if got := hs.calls(); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("err = %v, want delivered", err)
				}
				return
			}
			var e *webhook.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *webhook.Error", err, err)
			}
			if e.ErrorCode() != tc.wantCode || e.Attempts != tc.wantCalls {
				t.Errorf("code %q after %d attempts, want %q after %d", e.ErrorCode(), e.Attempts, tc.wantCode, tc.wantCalls)
			}
			if !strings.HasSuffix(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want it to end %q", err, tc.wantMsg)
			}
			// Only the invocation's end reads as the context's deadline.
			if got, want := errors.Is(err, context.DeadlineExceeded), tc.wantCode == "DeadlineExceeded"; got != want {
				t.Errorf("err = %v wraps context.DeadlineExceeded: %v, want %v", err, got, want)
			}
		})
	}
}
