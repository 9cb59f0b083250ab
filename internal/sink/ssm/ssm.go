// Package ssm delivers keys to Tencent Cloud Secrets Manager (SSM, API
// 2019-09-23): one secret per zone (SSM_SECRET_NAME with {zone}), whose
// version SSM_VERSION_ID always holds the live key. Consumers read it with
// GetSecretValue(SecretName, VersionId). The secret's description carries the
// rotation record, so a platform retry on any instance can tell whether the
// refresh already happened.
package ssm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
)

// Service and Version of the SSM API.
const (
	Service = "ssm"
	Version = "2019-09-23"
)

// Actions used, exactly the ones the CAM policy in README grants.
const (
	ActionGet               = "GetSecretValue"
	ActionDescribe          = "DescribeSecret"
	ActionCreate            = "CreateSecret"
	ActionPut               = "PutSecretValue"
	ActionUpdate            = "UpdateSecret"
	ActionListVersions      = "ListSecretVersionIds"
	ActionUpdateDescription = "UpdateDescription"
)

// RateLimits are SSM's documented requests per second per action, for
// tcapi.NewLimits.
var RateLimits = map[string]float64{
	Service + "." + ActionGet:               300,
	Service + "." + ActionDescribe:          40,
	Service + "." + ActionCreate:            100,
	Service + "." + ActionPut:               100,
	Service + "." + ActionUpdate:            50,
	Service + "." + ActionListVersions:      40,
	Service + "." + ActionUpdateDescription: 20,
}

// maxVersions is SSM's limit of versions per custom secret.
const maxVersions = 10

// Sink writes each zone's key to its secret.
type Sink struct {
	API        *tcapi.Client
	SecretName string // may hold {zone}
	VersionID  string
	// Retry repeats a whole delivery (read, write, read back) after a
	// transient failure; each call also has API's own retries.
	Retry  retry.Policy
	Logger *slog.Logger
}

// New returns the sink for cfg over api (Service, Version and Region are set
// from cfg).
func New(cfg config.SSM, api *tcapi.Client) *Sink {
	api.Service, api.Version, api.Region = Service, Version, cfg.Region
	return &Sink{
		API: api, SecretName: cfg.SecretName, VersionID: cfg.VersionID,
		Retry: retry.Policy{Attempts: 3, Initial: 200 * time.Millisecond, Max: time.Second},
	}
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return "ssm" }

// Budget implements sink.Sink: a delivery is up to four calls (read, create
// or put or update, describe when the secret is missing, read back), one of
// which may need all its retries, and the delivery itself may be repeated.
func (s *Sink) Budget() time.Duration {
	perCall := s.API.Timeout
	if perCall == 0 {
		perCall = tcapi.DefaultTimeout
	}
	return s.API.Budget() + 3*perCall + s.Retry.Budget(0)
}

func (s *Sink) secretName(zone string) string {
	return strings.ReplaceAll(s.SecretName, config.ZonePlaceholder, zone)
}

func (s *Sink) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Error is a failure of the SSM sink for one secret.
type Error struct {
	Secret string
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("ssm secret %s: %v", e.Secret, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

func (s *Sink) fail(name string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	return &Error{Secret: name, Err: err}
}

// unusable is the error for a secret that exists but must not be written or
// cannot be read by consumers: nothing retries it away.
func unusable(name, status string) error {
	code, what := "ResourceUnavailable", "is "+status
	switch status {
	case "Disabled":
		code, what = "ResourceUnavailable.ResourceDisabled", "is Disabled: consumers cannot read it; enable it (EnableSecret) and run sync"
	case "PendingDelete":
		code, what = "ResourceUnavailable.ResourcePendingDeleted", "is scheduled for deletion: restore it (RestoreSecret, EnableSecret) and run sync"
	}
	return &tcapi.Error{Service: Service, Action: ActionDescribe, Code: code, Message: "secret " + name + " " + what}
}

type secretRef struct{ SecretName string }

type versionRef struct {
	SecretName string
	VersionId  string
}

type describeAnswer struct {
	Description string
	Status      string
}

// describe returns the secret's metadata; found is false when it does not exist.
func (s *Sink) describe(ctx context.Context, name string) (describeAnswer, bool, error) {
	var out describeAnswer
	err := s.API.Call(ctx, ActionDescribe, secretRef{name}, &out)
	if isNotFound(err) {
		return out, false, nil
	}
	return out, err == nil, err
}

func isNotFound(err error) bool { return strings.HasPrefix(tcapi.Code(err), "ResourceNotFound") }

// presence of the secret and of its version.
type presence int

const (
	present presence = iota
	versionMissing
	secretMissing
)

// read returns the value of the configured version and where it stands.
func (s *Sink) read(ctx context.Context, name string) (secret.Key, presence, error) {
	var out struct{ SecretString, SecretBinary string }
	err := s.API.Call(ctx, ActionGet, versionRef{name, s.VersionID}, &out)
	if err == nil {
		return secret.New(out.SecretString), present, nil
	}
	if !isNotFound(err) {
		return secret.Key{}, present, err
	}
	// SSM answers ResourceNotFound for a missing secret and for a missing
	// version alike; only DescribeSecret tells them apart.
	_, found, derr := s.describe(ctx, name)
	switch {
	case derr != nil:
		return secret.Key{}, present, derr
	case found:
		return secret.Key{}, versionMissing, nil
	default:
		return secret.Key{}, secretMissing, nil
	}
}

// Read implements sink.Reader.
func (s *Sink) Read(ctx context.Context, zone string) (secret.Key, bool, error) {
	name := s.secretName(zone)
	key, where, err := s.read(ctx, name)
	if err != nil {
		return secret.Key{}, false, s.fail(name, err)
	}
	return key, where == present, nil
}

// Preflight implements sink.Reader: the secret is usable (or can be
// created), its version can be read, and, when the version is still
// missing, the secret has room for it.
func (s *Sink) Preflight(ctx context.Context, zone string) error {
	name := s.secretName(zone)
	meta, found, err := s.describe(ctx, name)
	if err != nil {
		return s.fail(name, err)
	}
	if !found {
		return nil // CreateSecret will make it
	}
	if meta.Status != "Enabled" {
		return s.fail(name, unusable(name, meta.Status))
	}
	_, where, err := s.read(ctx, name)
	if err != nil {
		return s.fail(name, err)
	}
	if where == versionMissing {
		var out struct{ Versions []struct{ VersionId string } }
		if err := s.API.Call(ctx, ActionListVersions, secretRef{name}, &out); err != nil {
			return s.fail(name, err)
		}
		if len(out.Versions) >= maxVersions {
			return s.fail(name, &tcapi.Error{Service: Service, Action: ActionPut, Code: "LimitExceeded",
				Message: fmt.Sprintf("the secret holds %d versions, the SSM limit, and none is %s: delete an old version or set SSM_VERSION_ID to one of them", len(out.Versions), s.VersionID)})
		}
	}
	return nil
}

// Deliver implements sink.Sink: read, write only when different (create
// the secret or its version when missing), read back.
func (s *Sink) Deliver(ctx context.Context, d sink.Delivery) (sink.Outcome, error) {
	name := s.secretName(d.ZoneID)
	var outcome sink.Outcome
	wrote := false
	err := s.Retry.Do(ctx, func(ctx context.Context, attempt int) error {
		var err error
		outcome, err = s.deliverOnce(ctx, name, d, &wrote)
		return err
	})
	if outcome == sink.Unchanged && wrote {
		// An earlier attempt wrote the key although its answer was lost.
		outcome = sink.OK
	}
	if err != nil {
		s.logger().LogAttrs(ctx, slog.LevelWarn, "ssm delivery failed", slog.String("zoneId", d.ZoneID),
			slog.String("secret", name), slog.String("code", tcapi.Code(err)))
		return sink.Failed, s.fail(name, err)
	}
	s.logger().LogAttrs(ctx, slog.LevelInfo, "ssm delivery", slog.String("zoneId", d.ZoneID), slog.String("secret", name),
		slog.String("outcome", string(outcome)), slog.String("fingerprint", d.Key.Fingerprint()))
	return outcome, nil
}

// readBackError means the value read after the write is not the one
// written: another writer got in between (sink.ErrConflict). Retrying here
// could only fight that writer; the engine asks TEO which key is live.
type readBackError struct{}

func (readBackError) Error() string        { return sink.ErrConflict.Error() }
func (readBackError) Is(target error) bool { return target == sink.ErrConflict }
func (readBackError) Retryable() bool      { return false }
func (readBackError) Operation() string    { return ActionGet }
func (readBackError) ErrorCode() string    { return "ReadBackMismatch" }

func (s *Sink) deliverOnce(ctx context.Context, name string, d sink.Delivery, wrote *bool) (sink.Outcome, error) {
	current, where, err := s.read(ctx, name)
	if err != nil {
		return sink.Failed, err
	}
	if where == present && current.Equal(d.Key) {
		return sink.Unchanged, nil
	}
	*wrote = true
	switch where {
	case secretMissing:
		err = s.create(ctx, name, d.ZoneID, d.Key, "")
		if tcapi.Code(err) == "ResourceInUse.SecretExists" {
			// Created meanwhile (or our earlier attempt's answer was lost):
			// start over from a fresh read.
			return sink.Failed, retryAgain(err)
		}
	case versionMissing:
		err = s.API.Call(ctx, ActionPut, valueParams{name, s.VersionID, d.Key.Reveal()}, nil)
		if tcapi.Code(err) == "ResourceInUse.VersionIdExists" {
			return sink.Failed, retryAgain(err)
		}
	default:
		err = s.API.Call(ctx, ActionUpdate, valueParams{name, s.VersionID, d.Key.Reveal()}, nil)
	}
	if err != nil {
		return sink.Failed, err
	}
	back, where, err := s.read(ctx, name)
	if err != nil {
		return sink.Failed, err
	}
	if where != present || !back.Equal(d.Key) {
		return sink.Failed, readBackError{}
	}
	return sink.OK, nil
}

type valueParams struct {
	SecretName   string
	VersionId    string
	SecretString string
}

// retryAgain marks a conflict that a fresh read resolves.
func retryAgain(err error) error { return &conflict{err} }

type conflict struct{ error }

func (c *conflict) Unwrap() error   { return c.error }
func (c *conflict) Retryable() bool { return true }

const managedBy = "mpgw-keyrotator"

func description(zone string, rec *sink.Record) string {
	text := "EdgeOne multi-path gateway secret key of " + zone + ", rotated by " + managedBy +
		". Consumers read version SSM_VERSION_ID. The last line is the rotation record: do not edit it."
	if rec != nil {
		text += "\n" + rec.Encode()
	}
	return text
}

type tag struct{ TagKey, TagValue string }

func (s *Sink) create(ctx context.Context, name, zone string, key secret.Key, desc string) error {
	if desc == "" {
		desc = description(zone, nil)
	}
	params := struct {
		SecretName   string
		VersionId    string
		SecretString string
		Description  string
		Tags         []tag
	}{name, s.VersionID, key.Reveal(), desc, []tag{{"managed-by", managedBy}, {"teo-zone", zone}}}
	return s.API.Call(ctx, ActionCreate, params, nil)
}

// LoadRecord implements sink.Journal.
func (s *Sink) LoadRecord(ctx context.Context, zone string) (sink.Record, bool, error) {
	name := s.secretName(zone)
	meta, found, err := s.describe(ctx, name)
	if err != nil || !found {
		return sink.Record{}, false, s.fail(name, err)
	}
	rec, perr := sink.ParseRecord(meta.Description)
	if perr != nil {
		return sink.Record{}, false, nil // no record, or one edited by hand: trust none
	}
	return rec, true, nil
}

// SaveRecord implements sink.Journal.
func (s *Sink) SaveRecord(ctx context.Context, zone string, rec sink.Record, current secret.Key) error {
	name := s.secretName(zone)
	desc := description(zone, &rec)
	var err error
	// Twice at most: a secret created concurrently, or by our own create
	// whose answer was lost, takes the description on the second pass.
	for range 2 {
		err = s.API.Call(ctx, ActionUpdateDescription, struct{ SecretName, Description string }{name, desc}, nil)
		if !isNotFound(err) || current.IsZero() {
			break
		}
		err = s.create(ctx, name, zone, current, desc)
		if err == nil || (tcapi.Code(err) != "ResourceInUse.SecretExists" && !retry.IsRetryable(err)) {
			break
		}
	}
	return s.fail(name, err)
}
