package rotate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// Action is what a request asks for.
type Action string

const (
	Rotate Action = "rotate" // refresh each zone's key and deliver it
	Sync   Action = "sync"   // deliver the live key where a sink differs; never refresh
	Check  Action = "check"  // compare the live key with every readable sink; write nothing
)

// Actions are every action there is: the one list that events, HTTP routes
// and the command line are checked against.
func Actions() []Action { return []Action{Rotate, Sync, Check} }

// Valid reports whether a is one of Actions ("" is not).
func (a Action) Valid() bool { return slices.Contains(Actions(), a) }

// ParseAction accepts the three action names; "" means rotate.
func ParseAction(s string) (Action, error) {
	if s == "" {
		return Rotate, nil
	}
	if a := Action(s); a.Valid() {
		return a, nil
	}
	return "", fmt.Errorf("unknown action %q: want rotate, sync or check", excerpt.Of(s, 32))
}

// Outcome of one zone.
type Outcome string

const (
	Rotated Outcome = "rotated" // refreshed, and every sink holds the live key
	Synced  Outcome = "synced"  // sync wrote the live key where it differed
	InSync  Outcome = "in-sync" // sync, check: nothing to do
	Drifted Outcome = "drift"   // check: a sink differs from the live key
	Stale   Outcome = "stale"   // check: in sync, but last rotated longer ago than MAX_KEY_AGE
	Planned Outcome = "planned" // dry run: would rotate
	Skipped Outcome = "skipped" // not attempted (e.g. no time left before the deadline)
	Failed  Outcome = "failed"
)

// Good reports whether the outcome leaves nothing for a person to do.
func (o Outcome) Good() bool {
	return o == Rotated || o == Synced || o == InSync || o == Planned
}

// Report is the result of one request, in every runtime.
type Report struct {
	Action     Action `json:"action"`
	RequestID  string `json:"requestId"`
	RotationID string `json:"rotationId,omitempty"`
	DryRun     bool   `json:"dryRun,omitempty"`
	OK         bool   `json:"ok"`
	// Error explains a problem of the whole request (a function timeout too
	// short to refresh any zone); each zone still says what happened to it.
	Error string `json:"error,omitempty"`
	// RetryAfterSeconds is set when a rotate was refused because a zone was
	// rotated less than MIN_ROTATION_INTERVAL ago: when to try again.
	RetryAfterSeconds int64        `json:"retryAfterSeconds,omitempty"`
	Zones             []ZoneResult `json:"zones"`
}

// ZoneResult is what happened to one zone.
type ZoneResult struct {
	ZoneID      string  `json:"zoneId"`
	Outcome     Outcome `json:"outcome"`
	Fingerprint string  `json:"fingerprint"` // of the live key at the end
	// PreviousFingerprint is the key this rotation replaced.
	PreviousFingerprint string       `json:"previousFingerprint,omitempty"`
	Sinks               []SinkResult `json:"sinks"`
	// Error says why the zone is not good: for failed, whether the key
	// changed, the API action and the error code.
	Error string `json:"error"`
	// KeyChanged is true when the zone's key was replaced during this request.
	KeyChanged bool `json:"keyChanged"`
	// RotatedAt (RFC 3339) is when this function last rotated the zone's
	// live key, from the rotation record: check reports it with AgeSeconds,
	// a redelivered rotation with Redelivered.
	RotatedAt  string `json:"rotatedAt,omitempty"`
	AgeSeconds int64  `json:"ageSeconds,omitempty"`
	APIAction  string `json:"apiAction,omitempty"`
	Code       string `json:"code,omitempty"`
	DurationMs int64  `json:"durationMs"`
	// Redelivered is true when this request's rotation id had already
	// rotated the zone (a platform retry, or a re-used id): the key was not
	// refreshed again, only delivered; RotatedAt then says when that
	// rotation was recorded.
	Redelivered bool `json:"redelivered,omitempty"`
}

// SinkResult is one sink's part for one zone.
type SinkResult struct {
	Name    string       `json:"name"`
	Outcome sink.Outcome `json:"outcome"`
	Error   string       `json:"error,omitempty"`
}

// Err is nil when the report is ok, otherwise an error naming every zone that
// is not good with its outcome and code: the message of the invocation error
// that makes the platform retry.
func (r Report) Err() error {
	if r.OK {
		return nil
	}
	var parts []string
	for _, z := range r.Zones {
		if z.Outcome.Good() {
			continue
		}
		p := z.ZoneID + " " + string(z.Outcome)
		var detail []string
		if z.APIAction != "" {
			detail = append(detail, z.APIAction)
		}
		if z.Code != "" {
			detail = append(detail, z.Code)
		}
		if z.Outcome == Failed && z.KeyChanged {
			detail = append(detail, "key rotated, run sync")
		}
		if len(detail) > 0 {
			p += " (" + strings.Join(detail, " ") + ")"
		}
		parts = append(parts, p)
	}
	summary := strings.Join(parts, "; ")
	if r.Error != "" {
		summary = r.Error + ": " + summary
	}
	return &ReportError{Action: r.Action, Summary: summary}
}

// ReportError is a report that is not ok, as an error.
type ReportError struct {
	Action  Action
	Summary string
}

func (e *ReportError) Error() string {
	return fmt.Sprintf("%s not ok: %s", e.Action, e.Summary)
}

// failedCall names the API action and error code behind err, for the report
// and for failure notices. Errors tell it through two methods (tcapi.Error
// for cloud APIs, the webhook sink's errors for HTTP answers).
func failedCall(err error) (apiAction, code string) {
	var c interface {
		Operation() string
		ErrorCode() string
	}
	if errors.As(err, &c) {
		return c.Operation(), c.ErrorCode()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "", "DeadlineExceeded"
	case errors.Is(err, context.Canceled):
		return "", "Canceled"
	}
	return "", ""
}
