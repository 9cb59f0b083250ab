package sink

import (
	"context"
	"log/slog"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

// Log writes the lines a store logs when a step on a zone's secret ends,
// the same way in every store: "<sink> <step> failed" at Warn, or
// "<sink> <step>" at Info with the outcome and the key's fingerprint.
type Log struct {
	Logger *slog.Logger
	Sink   string // the lines' first word: "ssm", "aws"
	// Failure is what the store tells of an error, logged after zoneId and
	// secret: the failed call, its code.
	Failure func(err error) []slog.Attr
}

// Failed logs at Warn that step failed for zone's secret name with err.
func (l Log) Failed(ctx context.Context, step, zone, name string, err error) {
	attrs := append([]slog.Attr{slog.String("zoneId", zone), slog.String("secret", name)}, l.Failure(err)...)
	l.Logger.LogAttrs(ctx, slog.LevelWarn, l.Sink+" "+step+" failed", attrs...)
}

// Ended logs how step ended for zone's secret name and returns the outcome
// to report: Failed when err is set (logged by Failed), else outcome, logged
// at Info with key's fingerprint.
func (l Log) Ended(ctx context.Context, step, zone, name string, key secret.Key, outcome Outcome, err error) Outcome {
	if err != nil {
		l.Failed(ctx, step, zone, name, err)
		return Failed
	}
	l.Logger.LogAttrs(ctx, slog.LevelInfo, l.Sink+" "+step, slog.String("zoneId", zone), slog.String("secret", name),
		slog.String("outcome", string(outcome)), slog.String("fingerprint", key.Fingerprint()))
	return outcome
}
