// Package handlerkit builds the function's Handler on a testkit Cloud. It is
// apart from testkit because it imports the root package: testkit does not,
// so that the lower packages' tests can use it.
package handlerkit

import (
	"log/slog"
	"time"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

// Fast retries: the same logic as production, without the waiting.
var Fast = keyrotator.Tuning{
	APITimeout:     5 * time.Second,
	APIRetry:       testkit.FastRetry,
	WebhookRetry:   testkit.FastRetry,
	WebhookTimeout: 2 * time.Second,
	RefreshRetry:   retry.Policy{Attempts: 3, Initial: testkit.FastRetry.Initial, Max: testkit.FastRetry.Max},
}

// New returns a new function instance on c with Fast tuning, logging (debug
// and up) to c.Logs.
func New(c *testkit.Cloud) *keyrotator.Handler {
	return &keyrotator.Handler{
		Getenv: c.Getenv,
		Logger: slog.New(slog.NewJSONHandler(c.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tuning: Fast,
	}
}
