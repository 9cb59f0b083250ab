// Package ssm delivers keys to Tencent Cloud Secrets Manager (SSM, API
// 2019-09-23): one secret per zone (SSM_SECRET_NAME with {zone}), whose
// version SSM_VERSION_ID always holds the live key. Consumers read it with
// GetSecretValue(SecretName, VersionId). The secret's description carries the
// rotation record, so a platform retry on any instance can tell whether the
// refresh already happened.
//
// # Staged rotation (ROTATION_MODE=staged)
//
// The next key waits in version SSM_PENDING_VERSION_ID (default pending)
// until it is live in TEO, then replaces SSM_VERSION_ID's value
// (staged.go):
//
//   - Stage: ListSecretVersionIds (room for the pending version, and for
//     the current one when it is missing, before anything changes; it also
//     tells whether the pending version exists), UpdateDescription with the
//     record, then PutSecretValue of the pending version, or, when it exists
//     already (an earlier attempt), GetSecretValue and UpdateSecret only if
//     it holds another value. A missing secret is created holding the live
//     key as SSM_VERSION_ID with the record (CreateSecret, one
//     GetSecretValue), then the pending version is put.
//   - Pending: GetSecretValue of the pending version.
//   - Promote: GetSecretValue of SSM_VERSION_ID (DescribeSecret only when it
//     is missing), UpdateSecret of it unless it holds the key already
//     (PutSecretValue when the version is missing), DeleteSecretVersion of
//     the pending version (already gone is fine), UpdateDescription with the
//     record (State Done).
package ssm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
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
	ActionDeleteVersion     = "DeleteSecretVersion" // staged mode only
)

// RateLimits returns SSM's documented requests per second per action, for
// tcapi.NewLimits (a fresh map on each call).
func RateLimits() map[string]float64 {
	return map[string]float64{
		Service + "." + ActionGet:               300,
		Service + "." + ActionDescribe:          40,
		Service + "." + ActionCreate:            100,
		Service + "." + ActionPut:               100,
		Service + "." + ActionUpdate:            50,
		Service + "." + ActionListVersions:      40,
		Service + "." + ActionUpdateDescription: 20,
		Service + "." + ActionDeleteVersion:     50,
	}
}

// maxVersions is SSM's limit of versions per custom secret.
const maxVersions = 10

// Sink writes each zone's key to its secret.
type Sink struct {
	API        *tcapi.Client
	SecretName string // may hold {zone}
	VersionID  string
	// PendingVersionID holds a staged key until Promote (staged mode).
	PendingVersionID string
	Logger           *slog.Logger
}

var (
	_ sink.Store  = (*Sink)(nil)
	_ sink.Stager = (*Sink)(nil)
)

// New returns the sink for cfg, calling SSM in cfg.Region with api's
// endpoint, credential, limits and timing (api itself is not changed).
func New(cfg config.SSM, api *tcapi.Client) *Sink {
	api = api.For(Service, Version)
	api.Region = cfg.Region
	return &Sink{API: api, SecretName: cfg.SecretName, VersionID: cfg.VersionID, PendingVersionID: cfg.PendingVersionID}
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return "ssm" }

func (s *Sink) secretName(zone string) string {
	return config.ForZone(s.SecretName, zone)
}

func (s *Sink) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// log is how the sink logs the end of a step: an error by its code.
func (s *Sink) log() sink.Log {
	return sink.Log{Logger: s.logger(), Sink: "ssm",
		Failure: func(err error) []slog.Attr { return []slog.Attr{slog.String("code", tcapi.Code(err))} }}
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

// get returns the value of the configured version; found is false when the
// secret or the version does not exist (SSM does not say which).
func (s *Sink) get(ctx context.Context, name string) (secret.Key, bool, error) {
	return s.getVersion(ctx, name, s.VersionID)
}

// reader is getVersion of vid as a sink.Read.
func (s *Sink) reader(ctx context.Context, name, vid string) sink.Read {
	return func() (secret.Key, bool, error) { return s.getVersion(ctx, name, vid) }
}

// getVersion returns the value of version vid, as get does.
func (s *Sink) getVersion(ctx context.Context, name, vid string) (secret.Key, bool, error) {
	var out struct{ SecretString string }
	err := s.API.Call(ctx, ActionGet, versionRef{name, vid}, &out)
	if isNotFound(err) {
		return secret.Key{}, false, nil
	}
	if err != nil {
		return secret.Key{}, false, err
	}
	return secret.New(out.SecretString), true, nil
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
	key, found, err := s.get(ctx, name)
	if err != nil || found {
		return key, present, err
	}
	// Only DescribeSecret tells a missing secret from a missing version.
	_, exists, err := s.describe(ctx, name)
	switch {
	case err != nil:
		return secret.Key{}, present, err
	case exists:
		return secret.Key{}, versionMissing, nil
	default:
		return secret.Key{}, secretMissing, nil
	}
}

// Inspect implements sink.Store: one GetSecretValue, the read consumers
// make (its error codes also tell a Disabled or PendingDelete secret), and
// one DescribeSecret for the record, sent together; and, only when the
// version is still missing, ListSecretVersionIds to prove there is room.
func (s *Sink) Inspect(ctx context.Context, zone string) (sink.Holding, error) {
	name := s.secretName(zone)
	holding, hasKey, err := sink.Inspect(s.reader(ctx, name, s.VersionID), func() (sink.Metadata, error) {
		meta, exists, err := s.describe(ctx, name)
		m := sink.Metadata{Exists: exists, Record: meta.Description}
		if exists && meta.Status != "Enabled" {
			m.Unusable = unusable(name, meta.Status)
		}
		return m, err
	})
	if err != nil {
		return holding, s.fail(name, err)
	}
	if !holding.Exists || hasKey {
		return holding, nil
	}
	var out struct{ Versions []struct{ VersionId string } }
	if err := s.API.Call(ctx, ActionListVersions, secretRef{name}, &out); err != nil {
		return holding, s.fail(name, err)
	}
	if len(out.Versions) >= maxVersions {
		return holding, s.fail(name, &tcapi.Error{Service: Service, Action: ActionPut, Code: "LimitExceeded",
			Message: fmt.Sprintf("the secret holds %d versions, the SSM limit, and none is %s: delete an old version or set SSM_VERSION_ID to one of them", len(out.Versions), s.VersionID)})
	}
	return holding, nil
}

// Begin implements sink.Store: UpdateDescription on an existing secret;
// CreateSecret holding live (then read back) on a missing one.
func (s *Sink) Begin(ctx context.Context, zone string, h sink.Holding, rec sink.Record, live secret.Key) error {
	name := s.secretName(zone)
	desc := description(zone, &rec)
	if h.Exists {
		err := s.API.Call(ctx, ActionUpdateDescription, struct{ SecretName, Description string }{name, desc}, nil)
		return s.fail(name, err)
	}
	if live.IsZero() {
		return s.fail(name, errors.New("no live key to create the secret with"))
	}
	err := s.create(ctx, name, zone, live, desc)
	if tcapi.Code(err) == codeSecretExists {
		// Created meanwhile, or by our own attempt whose answer was lost.
		err = s.API.Call(ctx, ActionUpdateDescription, struct{ SecretName, Description string }{name, desc}, nil)
	}
	if err != nil {
		return s.fail(name, err)
	}
	if _, found, err := s.get(ctx, name); err != nil || !found {
		return s.fail(name, cmp.Or(err, error(&tcapi.Error{Service: Service, Action: ActionGet, Code: "ResourceNotFound",
			Message: "the secret just created cannot be read back"})))
	}
	return nil
}

// Deliver implements sink.Sink: a fresh key is written straight away; any
// other is read first and written only when it differs.
func (s *Sink) Deliver(ctx context.Context, d sink.Delivery) (sink.Outcome, error) {
	name := s.secretName(d.ZoneID)
	outcome, err := s.deliver(ctx, name, d)
	return s.log().Ended(ctx, "delivery", d.ZoneID, name, d.Key, outcome, err), s.fail(name, err)
}

func (s *Sink) deliver(ctx context.Context, name string, d sink.Delivery) (sink.Outcome, error) {
	where := present
	if !d.Fresh {
		current, w, err := s.read(ctx, name)
		if err != nil {
			return sink.Failed, err
		}
		if w == present && current.Equal(d.Key) {
			return sink.Unchanged, nil
		}
		where = w
	}
	err := s.write(ctx, name, d.ZoneID, d.Key, where)
	return sink.OK, sink.ConfirmWrite(ctx, err, d.Key, s.reader(ctx, name, s.VersionID))
}

// write puts key in the version, starting from where the version is
// believed to stand and following what SSM answers: an update of a missing
// version becomes a put, a put of an existing one (our own earlier attempt
// whose answer was lost) becomes an update, and so on.
func (s *Sink) write(ctx context.Context, name, zone string, key secret.Key, where presence) error {
	return s.writeVersion(ctx, name, zone, s.VersionID, key, where)
}

// writeVersion is write for version vid. Only the configured version may
// create a missing secret: a secret holding nothing but a pending key would
// have nothing for consumers to read.
func (s *Sink) writeVersion(ctx context.Context, name, zone, vid string, key secret.Key, where presence) error {
	value := valueParams{name, vid, key.Reveal()}
	var err error
	for range 4 {
		switch where {
		case present:
			err = s.API.Call(ctx, ActionUpdate, value, nil)
			if isNotFound(err) {
				where = versionMissing
				continue
			}
		case versionMissing:
			err = s.API.Call(ctx, ActionPut, value, nil)
			switch {
			case tcapi.Code(err) == "ResourceInUse.VersionIdExists":
				where = present
				continue
			case isNotFound(err):
				where = secretMissing
				continue
			}
		case secretMissing:
			if vid != s.VersionID {
				// The secret's ResourceNotFound.
				return cmp.Or(err, error(&tcapi.Error{Service: Service, Action: ActionPut, Code: "ResourceNotFound",
					Message: "the secret does not exist"}))
			}
			err = s.create(ctx, name, zone, key, description(zone, nil))
			if tcapi.Code(err) == codeSecretExists {
				where = present
				continue
			}
		}
		return err
	}
	return err
}

type valueParams struct {
	SecretName   string
	VersionId    string
	SecretString string
}

const (
	managedBy        = "mpgw-keyrotator"
	codeSecretExists = "ResourceInUse.SecretExists"
)

func description(zone string, rec *sink.Record) string {
	text := "EdgeOne multi-path gateway secret key of " + zone + ", rotated by " + managedBy +
		". Consumers read version SSM_VERSION_ID. The last line is the rotation record: do not edit it."
	if rec != nil {
		text += "\n" + rec.Encode()
	}
	return text
}

type tag struct{ TagKey, TagValue string }

// codeTagsNotExisted is CreateSecret refusing tags the account's tag
// service does not hold (or the role may not use): the secret is worth
// more than its tags.
const codeTagsNotExisted = "InvalidParameterValue.TagsNotExisted"

func (s *Sink) create(ctx context.Context, name, zone string, key secret.Key, desc string) error {
	params := struct {
		SecretName   string
		VersionId    string
		SecretString string
		Description  string
		Tags         []tag `json:",omitempty"`
	}{name, s.VersionID, key.Reveal(), desc, []tag{{"managed-by", managedBy}, {"teo-zone", zone}}}
	err := s.API.Call(ctx, ActionCreate, params, nil)
	if tcapi.Code(err) == codeTagsNotExisted {
		s.logger().LogAttrs(ctx, slog.LevelWarn, "ssm CreateSecret refused the tags: creating the secret without them (add the tags managed-by and teo-zone by hand, or allow the role to use them)",
			slog.String("zoneId", zone), slog.String("secret", name), slog.String("code", codeTagsNotExisted))
		params.Tags = nil
		err = s.API.Call(ctx, ActionCreate, params, nil)
	}
	return err
}
