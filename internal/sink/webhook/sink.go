// Package webhook delivers keys as signed Standard Webhooks: an HTTP POST of
// a small JSON event (the shapes are in payload.go), signed by package
// stdwebhook over id, timestamp and body.
//
// The old key dies the instant a new one is issued, so delivery retries
// transient failures inside the invocation's deadline, and every attempt of
// one event carries the same webhook-id so the receiver can apply it once.
// The package also holds Receiver, a consumer of these events: the demo
// command serves it as the webhook target, and the tests read what it holds.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
)

// defaultRetry is the policy of a Sink whose Retry is the zero value: waits
// of up to 0.5, 1 and 2 s (jittered) between four attempts, short enough to leave a
// timer invocation time for its other sinks.
func defaultRetry() retry.Policy {
	return retry.Policy{Attempts: 4, Initial: 500 * time.Millisecond, Max: 4 * time.Second}
}

// DefaultAttemptTimeout bounds one POST (connect, send, answer): it is the
// attempt timeout of the retry policy, the one timer of an attempt. Like a
// cloud API attempt (retry.APITimeout) it fits in the default
// DELIVERY_WINDOW, so a receiver that hangs once still leaves a retry time
// at a realistic deadline.
const DefaultAttemptTimeout = retry.APITimeout

const userAgent = "mpgw-keyrotator"

// Sink posts each new key, and each failure notice, to one URL. It is safe
// for concurrent use; create it with New.
type Sink struct {
	URL            *url.URL
	IncludeKey     bool          // false: announce the rotation without the key
	Retry          retry.Policy  // zero value = defaultRetry()
	AttemptTimeout time.Duration // zero = DefaultAttemptTimeout
	// Client sends the requests; nil uses a shared client. Redirects are
	// never followed, whatever the client says: a redirect must not carry
	// the key to another address, and Standard Webhooks counts 3xx as failure.
	// Its Timeout is ignored too: AttemptTimeout bounds an attempt.
	Client *http.Client
	Now    func() time.Time // nil = time.Now; stamps events and attempts
	Logger *slog.Logger     // nil = discard

	secret *stdwebhook.Secret
}

var (
	_ sink.Sink            = (*Sink)(nil)
	_ sink.Notifier        = (*Sink)(nil)
	_ sink.StaleNotifier   = (*Sink)(nil)
	_ sink.PendingNotifier = (*Sink)(nil)
)

// New returns the sink for cfg. The error never contains the secret.
func New(cfg config.Webhook) (*Sink, error) {
	if cfg.URL == nil {
		return nil, errors.New("webhook: no URL")
	}
	sec, err := stdwebhook.ParseSecret(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return &Sink{URL: cfg.URL, IncludeKey: cfg.IncludeKey, secret: sec}, nil
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return "webhook" }

// Deliver implements sink.Sink: it posts a rotated event for d and answers
// OK once the receiver answers 2xx. A webhook cannot be read back, so it is
// never Unchanged: sync always sends again, and the stable webhook-id lets
// the receiver ignore what it already applied.
func (s *Sink) Deliver(ctx context.Context, d sink.Delivery) (sink.Outcome, error) {
	if d.Key.IsZero() {
		return sink.Failed, retry.Final(fmt.Errorf("webhook: no key to deliver for %s", d.ZoneID))
	}
	start := time.Now()
	fp := d.Key.Fingerprint()
	attempts, err := s.post(ctx, MessageID(d.ZoneID, d.RotationID, fp), rotatedBody(d, s.IncludeKey, s.now()))
	s.logOutcome(ctx, "webhook delivery", start, attempts, err,
		slog.String("zoneId", d.ZoneID), slog.String("action", d.Action),
		slog.String("rotationId", d.RotationID), slog.String("fingerprint", fp))
	if err != nil {
		return sink.Failed, err
	}
	return sink.OK, nil
}

// NotifyFailure implements sink.Notifier: it posts a rotation_failed event,
// with the same retries as a delivery.
func (s *Sink) NotifyFailure(ctx context.Context, f sink.Failure) error {
	start := time.Now()
	attempts, err := s.post(ctx, MessageID(f.ZoneID, f.RotationID, "failed"), failedBody(f, s.now()))
	s.logOutcome(ctx, "webhook failure notice", start, attempts, err,
		slog.String("zoneId", f.ZoneID), slog.String("action", f.Action),
		slog.String("rotationId", f.RotationID), slog.String("fingerprint", f.Fingerprint))
	return err
}

// NotifyPending implements sink.PendingNotifier: it posts a pending event
// (with the key unless IncludeKey is off) so that consumers can preload the
// key before it goes live; the same retries as a delivery.
func (s *Sink) NotifyPending(ctx context.Context, d sink.Delivery) error {
	if d.Key.IsZero() {
		return retry.Final(fmt.Errorf("webhook: no key to announce for %s", d.ZoneID))
	}
	start := time.Now()
	fp := d.Key.Fingerprint()
	attempts, err := s.post(ctx, MessageID(d.ZoneID, d.RotationID, "pending:"+fp), keyBody(TypePending, d, s.IncludeKey, s.now()))
	s.logOutcome(ctx, "webhook pending notice", start, attempts, err,
		slog.String("zoneId", d.ZoneID), slog.String("rotationId", d.RotationID), slog.String("fingerprint", fp))
	return err
}

// NotifyStale implements sink.StaleNotifier: it posts a stale notice, with
// the same retries as a delivery, once per check (the id names the request).
func (s *Sink) NotifyStale(ctx context.Context, st sink.Stale) error {
	start := time.Now()
	attempts, err := s.post(ctx, MessageID(st.ZoneID, st.RequestID, "stale"), staleBody(st, s.now()))
	s.logOutcome(ctx, "webhook stale notice", start, attempts, err,
		slog.String("zoneId", st.ZoneID), slog.String("fingerprint", st.Fingerprint))
	return err
}

// StatusError is a receiver's answer other than 2xx.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return "HTTP " + strconv.Itoa(e.Code) }

// Retryable classifies the answer for retry: a timeout, throttling or a
// server error may pass; any other answer (4xx, and 3xx, which is never
// followed) will be the same next time.
func (e *StatusError) Retryable() bool {
	return e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// post sends body under id until the receiver takes it, retries are spent,
// or ctx ends. Errors name the host only: the path or query may hold a token.
func (s *Sink) post(ctx context.Context, id string, body []byte) (attempts int, err error) {
	client := s.client()
	policy := s.policy()
	policy.AttemptTimeout = s.attemptTimeout()
	err = policy.Do(ctx, func(ctx context.Context, attempt int) error {
		attempts = attempt
		return s.attempt(ctx, client, id, body, attempt)
	})
	if err != nil {
		return attempts, &Error{Host: s.URL.Host, Attempts: attempts, Err: err}
	}
	return attempts, nil
}

// Error is a webhook that was not delivered. It names the host only: the
// path or query may hold a token.
type Error struct {
	Host     string
	Attempts int // 0: never sent
	Err      error
}

func (e *Error) Error() string {
	switch e.Attempts {
	case 0:
		return fmt.Sprintf("webhook POST %s: not sent: %v", e.Host, e.Err)
	case 1:
		return fmt.Sprintf("webhook POST %s: %v after 1 attempt", e.Host, e.Err)
	}
	return fmt.Sprintf("webhook POST %s: %v after %d attempts", e.Host, e.Err, e.Attempts)
}

func (e *Error) Unwrap() error { return e.Err }

// Operation names the failed call in reports.
func (e *Error) Operation() string { return "webhook POST" }

// ErrorCode is the report's code: the HTTP status, or what kept it from coming.
func (e *Error) ErrorCode() string {
	var status *StatusError
	switch {
	case errors.As(e.Err, &status):
		return status.Error()
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "DeadlineExceeded"
	case errors.Is(e.Err, context.Canceled):
		return "Canceled"
	case errors.Is(e.Err, retry.ErrAttemptTimeout):
		return "Timeout"
	}
	return "NetworkError"
}

// attempt posts once; ctx is the attempt's context from retry.Do, whose
// timer bounds connect, send and answer.
func (s *Sink) attempt(ctx context.Context, client *http.Client, id string, body []byte, attempt int) error {
	req, err := s.newRequest(ctx, id, s.now(), body)
	if err != nil {
		return retry.Final(err)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		err = transportError(ctx, s.attemptTimeout(), err)
		s.logAttempt(ctx, attempt, 0, start, err)
		return err
	}
	// Read a little so the connection can be reused, then drop it: the body
	// is never logged, since a misbehaving receiver could echo the key.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	s.logAttempt(ctx, attempt, resp.StatusCode, start, nil)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	serr := &StatusError{Code: resp.StatusCode}
	if wait := retryAfter(resp.Header, s.policy().Max); serr.Retryable() && wait > 0 {
		return retry.After(serr, wait)
	}
	return serr
}

// newRequest builds one signed attempt: the body is the same on every
// attempt, the timestamp (and so the signature) is the attempt's own.
func (s *Sink) newRequest(ctx context.Context, id string, at time.Time, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL.String(), bytes.NewReader(body))
	if err != nil {
		// The parse error would quote the URL, path and query included.
		return nil, fmt.Errorf("webhook POST %s: invalid URL", s.URL.Host)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if err := s.secret.Sign(req.Header, id, at, body); err != nil {
		return nil, fmt.Errorf("webhook: signing: %w", err)
	}
	return req, nil
}

// transportError turns a failed round trip into an error that says what
// happened and is safe to show; retry.Do classifies it.
func transportError(ctx context.Context, timeout time.Duration, err error) error {
	if retry.AttemptTimedOut(ctx) {
		// Whatever the transport made of it, the attempt's timer fired.
		return fmt.Errorf("%w: no answer within %s", retry.ErrAttemptTimeout, timeout)
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr // the invocation is out of time or cancelled
	}
	// *url.Error quotes the whole URL; keep what it wraps (a net.OpError, EOF,
	// a TLS failure), which retry.IsNetwork classifies.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// A bare "EOF" tells an operator nothing.
		return fmt.Errorf("connection closed before an answer: %w", err)
	}
	return err
}

// retryAfter reads a Retry-After answer (seconds or an HTTP date), capped at
// limit (when positive) so a receiver cannot stall the rotation.
func retryAfter(h http.Header, limit time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	if limit > 0 && d > limit {
		return limit
	}
	return max(d, 0)
}

// sharedClient follows no redirects and keeps no cookies. Its transport is
// the function's one keep-alive transport, without timers of its own: the
// attempt's context is the one timer of a POST.
var sharedClient = &http.Client{Transport: endpoint.Transport(), CheckRedirect: noRedirect}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (s *Sink) client() *http.Client {
	if s.Client == nil {
		return sharedClient
	}
	c := *s.Client
	c.CheckRedirect = noRedirect
	c.Timeout = 0 // a second timer would race the attempt's
	return &c
}

func (s *Sink) policy() retry.Policy {
	if s.Retry == (retry.Policy{}) {
		return defaultRetry()
	}
	return s.Retry
}

func (s *Sink) attemptTimeout() time.Duration {
	if s.AttemptTimeout > 0 {
		return s.AttemptTimeout
	}
	return DefaultAttemptTimeout
}

func (s *Sink) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sink) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// logAttempt writes one Debug line per POST. status is 0 when no answer came.
func (s *Sink) logAttempt(ctx context.Context, attempt, status int, start time.Time, err error) {
	attrs := []slog.Attr{
		slog.String("host", s.URL.Host), slog.Int("attempt", attempt),
		slog.Int("status", status), slog.Duration("duration", time.Since(start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.logger().LogAttrs(ctx, slog.LevelDebug, "webhook attempt", attrs...)
}

// logOutcome writes one line per event: Info when delivered, Warn when not.
func (s *Sink) logOutcome(ctx context.Context, msg string, start time.Time, attempts int, err error, attrs ...slog.Attr) {
	level, outcome := slog.LevelInfo, sink.OK
	if err != nil {
		level, outcome = slog.LevelWarn, sink.Failed
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	attrs = append(attrs, slog.String("host", s.URL.Host), slog.String("outcome", string(outcome)),
		slog.Int("attempts", attempts), slog.Duration("duration", time.Since(start)))
	s.logger().LogAttrs(ctx, level, msg, attrs...)
}
