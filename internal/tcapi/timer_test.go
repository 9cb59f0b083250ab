package tcapi

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
)

const (
	testRegion  = "ap-guangzhou"
	testSecret  = "mpgw-tcapi"
	testVersion = "v1"
)

// withSSM seeds testSecret and returns an SSM client of the same emulator
// as c, with c's timeout and retries.
func withSSM(t *testing.T, emu *emulator.Emulator, c *Client) *Client {
	t.Helper()
	emu.PutSecret(emulator.SecretState{Region: testRegion, Name: testSecret,
		Versions: []emulator.Version{{ID: testVersion, Value: "old-value"}}})
	return &Client{Service: "ssm", Version: "2019-09-23", Region: testRegion, Endpoint: c.Endpoint,
		Credential: c.Credential, Timeout: c.Timeout, Retry: c.Retry}
}

type secretParams struct{ SecretName string }

type versionParams struct{ SecretName, VersionId string }

type valueParams struct{ SecretName, VersionId, SecretString string }

// slowCalls are the idempotent actions of a rotation, each sent with Call.
var slowCalls = []struct {
	service, action string
	params          any
}{
	{"teo", actionDescribe, zoneParams{testZone}},
	{"ssm", "DescribeSecret", secretParams{testSecret}},
	{"ssm", "GetSecretValue", versionParams{testSecret, testVersion}},
	{"ssm", "UpdateSecret", valueParams{testSecret, testVersion, "new-value"}},
	{"ssm", "ListSecretVersionIds", secretParams{testSecret}},
}

// TestTimedOutAttemptIsRetried: one answer slower than the attempt timeout
// costs one attempt, whichever layer noticed the timeout first; the next
// attempt succeeds.
func TestTimedOutAttemptIsRetried(t *testing.T) {
	for _, tc := range slowCalls {
		t.Run(tc.action, func(t *testing.T) {
			emu, c := newCloud(t)
			c.Timeout = 300 * time.Millisecond
			if tc.service == "ssm" {
				c = withSSM(t, emu, c)
			}
			emu.Inject(emulator.Fault{Action: tc.action, Delay: time.Minute, Times: 1})
			if err := c.Call(context.Background(), tc.action, tc.params, nil); err != nil {
				t.Fatalf("err = %v, want the second attempt to succeed", err)
			}
			if got := emu.Calls(tc.action); got != 2 {
				t.Errorf("%d calls, want 2", got)
			}
		})
	}
}

// TestProductionTimeoutSurvivesSlowAnswer: with the production timeout and
// retries, an answer 6 s late is retried. Before one timer bounded an
// attempt, the transport's own 5 s timers raced the attempt's and about
// half of these calls failed for good; three runs catch that.
func TestProductionTimeoutSurvivesSlowAnswer(t *testing.T) {
	for _, run := range []string{"run 1", "run 2", "run 3"} {
		t.Run(run, func(t *testing.T) {
			t.Parallel()
			emu, c := newCloud(t)
			c.Timeout, c.Retry = 0, retry.Policy{} // retry.APITimeout, retry.API()
			c = withSSM(t, emu, c)
			emu.Inject(emulator.Fault{Action: "UpdateSecret", Delay: 6 * time.Second, Times: 1})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			if err := c.Call(ctx, "UpdateSecret", valueParams{testSecret, testVersion, "new-value"}, nil); err != nil {
				t.Fatalf("err = %v, want the second attempt to succeed", err)
			}
			if got := emu.Calls("UpdateSecret"); got != 2 {
				t.Errorf("%d calls, want 2", got)
			}
			if d := time.Since(start); d < retry.APITimeout {
				t.Errorf("took %v: the first attempt ended before retry.APITimeout", d)
			}
			s, _ := emu.Secret(testRegion, testSecret)
			if len(s.Versions) != 1 || s.Versions[0].Value != "new-value" {
				t.Error("the secret does not hold the new value")
			}
		})
	}
}

// TestCallOnceResendsOnlyRejected: CallOnce never resends a request that
// may have been processed (not even one that timed out), but does resend
// one the API rejected unprocessed for its rate limit.
func TestCallOnceResendsOnlyRejected(t *testing.T) {
	tests := []struct {
		name      string
		fault     emulator.Fault
		wantCalls int
		wantCode  string // "" = success
		wantMsg   string
	}{
		{name: "slow answer is not resent", fault: emulator.Fault{Delay: time.Minute, Times: 1},
			wantCalls: 1, wantCode: codeNetwork, wantMsg: "no answer within 300ms"},
		{name: "RequestLimitExceeded is resent", fault: emulator.Fault{Code: "RequestLimitExceeded", Times: 1}, wantCalls: 2},
		{name: "RequestLimitExceeded sub-code is resent", fault: emulator.Fault{Code: "RequestLimitExceeded.UinLimitExceeded", Times: 2}, wantCalls: 3},
		{name: "persistent RequestLimitExceeded uses Call's attempts", fault: emulator.Fault{Code: "RequestLimitExceeded"},
			wantCalls: fastRetry.Attempts, wantCode: "RequestLimitExceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu, c := newCloud(t)
			c.Timeout = 300 * time.Millisecond
			old := liveKey(t, emu)
			tc.fault.Action = actionRefresh
			emu.Inject(tc.fault)
			var out keyAnswer
			err := c.CallOnce(context.Background(), actionRefresh, zoneParams{testZone}, &out)
			if got := emu.Calls(actionRefresh); got != tc.wantCalls {
				t.Errorf("%d calls, want %d", got, tc.wantCalls)
			}
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if out.SecretKey == old || out.SecretKey != liveKey(t, emu) {
					t.Error("the answer is not the new live key")
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.wantCode || e.Action != actionRefresh {
				t.Fatalf("err = %v, want %s %s", err, actionRefresh, tc.wantCode)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want it to say %q", err, tc.wantMsg)
			}
			// The error keeps its own class: a caller that proves the refresh
			// did not happen (Describe) may send it again.
			if !retry.IsRetryable(err) {
				t.Error("the error lost its retryable class")
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Error("a timed-out attempt reads as the invocation's deadline")
			}
		})
	}
}
