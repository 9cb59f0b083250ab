// Package awssm delivers keys to AWS Secrets Manager: one secret per zone
// (its name or ARN, with {zone}), whose AWSCURRENT version always holds the
// live key. Consumers read it with GetSecretValue(SecretId), which defaults
// to AWSCURRENT; the key before it stays readable as AWSPREVIOUS.
//
// # Calls of a steady rotation
//
// Four calls per zone, one of each action, in three round trips:
//
//   - inspect: GetSecretValue (AWSCURRENT, the read consumers make) and
//     DescribeSecret (the tags, and DeletedDate: a secret scheduled for
//     deletion is refused before anything changes, with its remedy), sent
//     together;
//   - record: TagResource with the rotation record;
//   - deliver: PutSecretValue with VersionStages [AWSCURRENT], sent straight
//     away for a fresh key (nothing can hold it yet); AWS moves the previous
//     AWSCURRENT to AWSPREVIOUS in the same call.
//
// A secret that does not exist yet is created at the record step
// (CreateSecret holding the live key and the record, then one
// GetSecretValue to prove consumers can read it). A delivery of a key that
// is not fresh (sync, a retry, a confirm round) reads first and writes only
// when AWSCURRENT holds something else.
//
// # The record in the tags
//
// The rotation record (sink.Record) is the value of the tag
// mpgw-keyrotator-record, rec.Encode() unchanged: AWS allows in tag values
// letters, digits, spaces and _ . : / = + - @, up to 256 characters, and an
// encoded record uses only those (rotation ids are limited to
// [A-Za-z0-9._:@+=-], fingerprints are sha256:hex, the time is RFC 3339 in
// UTC) and is at most 248 characters long. Begin checks both before
// sending, so a future change of the encoding fails loudly instead of being
// refused by AWS after the fact. Tags are metadata of the secret, not of a
// version: writing the record makes no version, and TagResource only
// replaces the one tag. A record edited by hand no longer parses and is
// treated as absent.
//
// # The ClientRequestToken
//
// AWS makes the token the new version's id, and a PutSecretValue with a
// token it already knows and the same value does nothing. The sink derives
// the token from the rotation id, the zone and the key's fingerprint (and,
// when it read AWSCURRENT first, that version's id), so a retry after a
// lost answer reuses it and AWS creates no second version; a later delivery
// of the same key over another value gets a new token, so the write is not
// ignored. A write whose answers were all lost is read once: if AWSCURRENT
// holds the key, it counts as delivered.
//
// # Staged rotation (ROTATION_MODE=staged)
//
// The next key waits as AWSPENDING until it is live in TEO (staged.go):
//
//   - Stage: TagResource with the record (or, for a missing secret,
//     CreateSecret holding the live key and the record, then one
//     GetSecretValue), then PutSecretValue with VersionStages [AWSPENDING]
//     and a token derived from the rotation id, the zone and the key's
//     fingerprint: a retry, or a second Stage of the same key, makes no
//     second version.
//   - Pending: GetSecretValue (AWSPENDING).
//   - Promote: GetSecretValue of AWSCURRENT and of AWSPENDING, sent
//     together, for the values and their version ids; then
//     UpdateSecretVersionStage moving AWSCURRENT to the pending version (AWS
//     makes the old one AWSPREVIOUS) and UpdateSecretVersionStage removing
//     AWSPENDING from it, since a leftover AWSPENDING blocks later
//     rotations; TagResource with the record (State Done). When AWSCURRENT
//     holds the key already only the cleanup and the tag remain; when no
//     version holds it (the pending version was lost) PutSecretValue makes
//     it AWSCURRENT. A step refused because the labels moved meanwhile (our
//     own earlier attempt whose answer was lost) reads the labels again.
//
// Retries are the sink's own (internal/retry, one timer per attempt): the
// SDK's retryer is off (NewAPI), and every failure is classified once, in
// Error.
package awssm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// Actions used, exactly the ones an IAM policy for the sink must allow.
const (
	ActionGet      = "GetSecretValue"
	ActionDescribe = "DescribeSecret"
	ActionCreate   = "CreateSecret"
	ActionPut      = "PutSecretValue"
	ActionTag      = "TagResource"
	// ActionUpdateStage moves staging labels (staged mode only).
	ActionUpdateStage = "UpdateSecretVersionStage"
)

// Staging labels: StageCurrent is the one consumers read.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// Tags the sink sets.
const (
	RecordTag    = "mpgw-keyrotator-record" // value: sink.Record.Encode()
	ManagedByTag = "managed-by"             // value: ManagedBy
	ZoneTag      = "teo-zone"               // value: the zone id
	ManagedBy    = "mpgw-keyrotator"
)

// maxTagValue is AWS's limit of a tag value, in Unicode characters.
const maxTagValue = 256

// Error codes of AWS used in decisions.
const (
	codeNotFound = "ResourceNotFoundException"
	codeExists   = "ResourceExistsException"
)

// Sink writes each zone's key to its secret.
type Sink struct {
	API      *secretsmanager.Client
	SecretID string       // name or ARN, may hold {zone} (config.ZonePlaceholder)
	Retry    retry.Policy // zero = retry.API()
	Logger   *slog.Logger // nil = no logs
}

var (
	_ sink.Store  = (*Sink)(nil)
	_ sink.Stager = (*Sink)(nil)
)

// New returns the sink writing to secretID over api.
func New(api *secretsmanager.Client, secretID string) *Sink {
	return &Sink{API: api, SecretID: secretID}
}

// Name implements sink.Sink.
func (s *Sink) Name() string { return "aws" }

func (s *Sink) secretID(zone string) string {
	return config.ForZone(s.SecretID, zone)
}

func (s *Sink) policy() retry.Policy {
	if s.Retry == (retry.Policy{}) {
		return retry.API()
	}
	return s.Retry
}

func (s *Sink) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// call runs op with the sink's retries; each attempt's error is classified
// once, into an *Error.
// written is the key the call stores (zero for the others): AWS's own
// message may quote the request, so the key is cut out of it.
func (s *Sink) call(ctx context.Context, id, action string, written secret.Key, op func(ctx context.Context) error) error {
	err := s.policy().Do(ctx, func(actx context.Context, attempt int) error {
		start := time.Now()
		err := classify(ctx, actx, id, action, written, op(actx))
		s.logger().LogAttrs(ctx, slog.LevelDebug, "api call", slog.String("service", "secretsmanager"),
			slog.String("apiAction", action), slog.String("secret", id), slog.Int("attempt", attempt),
			slog.String("code", Code(err)), slog.Duration("duration", time.Since(start)))
		return err
	})
	// Do answers a context error of its own when the caller ran out of time
	// before an attempt: it too names the secret and the action.
	return classify(ctx, ctx, id, action, written, err)
}

// get returns AWSCURRENT's value and version id; found is false when the
// secret or its AWSCURRENT version does not exist (AWS answers
// ResourceNotFoundException to both).
func (s *Sink) get(ctx context.Context, id string) (key secret.Key, versionID string, found bool, err error) {
	return s.getStage(ctx, id, StageCurrent)
}

// getStage is get for the version holding label stage.
func (s *Sink) getStage(ctx context.Context, id, stage string) (key secret.Key, versionID string, found bool, err error) {
	var out *secretsmanager.GetSecretValueOutput
	err = s.call(ctx, id, ActionGet, secret.Key{}, func(ctx context.Context) error {
		var err error
		out, err = s.API.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
			SecretId: aws.String(id), VersionStage: aws.String(stage),
		})
		return err
	})
	switch {
	case Code(err) == codeNotFound:
		return secret.Key{}, "", false, nil
	case err != nil:
		return secret.Key{}, "", false, err
	}
	// A binary secret has no SecretString: it holds no key.
	return secret.New(aws.ToString(out.SecretString)), aws.ToString(out.VersionId), true, nil
}

// reader is getStage of stage as a sink.Read.
func (s *Sink) reader(ctx context.Context, id, stage string) sink.Read {
	return func() (secret.Key, bool, error) {
		key, _, found, err := s.getStage(ctx, id, stage)
		return key, found, err
	}
}

// describe returns the secret's metadata; found is false when it does not
// exist.
func (s *Sink) describe(ctx context.Context, id string) (*secretsmanager.DescribeSecretOutput, bool, error) {
	var out *secretsmanager.DescribeSecretOutput
	err := s.call(ctx, id, ActionDescribe, secret.Key{}, func(ctx context.Context) error {
		var err error
		out, err = s.API.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
		return err
	})
	switch {
	case Code(err) == codeNotFound:
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return out, true, nil
}

// scheduledForDeletion is the error for a secret with a DeletedDate: AWS
// refuses every write to it, and nothing retries that away.
func scheduledForDeletion(id string, at time.Time) error {
	return finalError(id, ActionDescribe, "InvalidRequestException",
		fmt.Sprintf("the secret is scheduled for deletion on %s: restore it (RestoreSecret) and run sync", at.UTC().Format(time.RFC3339)))
}

// Inspect implements sink.Store: GetSecretValue (AWSCURRENT) and
// DescribeSecret, sent together; a secret scheduled for deletion fails with
// its remedy before GetSecretValue's own error (InvalidRequestException).
func (s *Sink) Inspect(ctx context.Context, zone string) (sink.Holding, error) {
	id := s.secretID(zone)
	h, _, err := sink.Inspect(s.reader(ctx, id, StageCurrent), func() (sink.Metadata, error) {
		meta, exists, err := s.describe(ctx, id)
		if !exists {
			return sink.Metadata{}, err
		}
		m := sink.Metadata{Exists: true}
		m.Record, _ = tagValue(meta.Tags, RecordTag)
		if meta.DeletedDate != nil {
			m.Unusable = scheduledForDeletion(id, *meta.DeletedDate)
		}
		return m, err
	})
	return h, err
}

func tagValue(tags []types.Tag, key string) (string, bool) {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value), true
		}
	}
	return "", false
}

// recordTag renders rec as the record tag, after checking that AWS accepts
// it as a tag value.
func recordTag(id string, rec sink.Record) (types.Tag, error) {
	value := rec.Encode()
	if err := checkTagValue(value); err != nil {
		return types.Tag{}, finalError(id, ActionTag, "ClientError.Record", "the rotation record cannot be a tag value: "+err.Error())
	}
	return types.Tag{Key: aws.String(RecordTag), Value: aws.String(value)}, nil
}

// checkTagValue applies AWS's rules for tag values: at most 256 characters,
// letters, digits, spaces and _ . : / = + - @.
func checkTagValue(v string) error {
	if n := utf8.RuneCountInString(v); n > maxTagValue {
		return fmt.Errorf("%d characters, more than %d", n, maxTagValue)
	}
	for _, r := range v {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && !strings.ContainsRune("_.:/=+-@", r) {
			return fmt.Errorf("character %q is not allowed", r)
		}
	}
	return nil
}

// Begin implements sink.Store: TagResource with the record on an existing
// secret; CreateSecret holding live and the record (then one
// GetSecretValue) on a missing one.
func (s *Sink) Begin(ctx context.Context, zone string, h sink.Holding, rec sink.Record, live secret.Key) error {
	id := s.secretID(zone)
	tag, err := recordTag(id, rec)
	if err != nil {
		return err
	}
	if h.Exists {
		return s.tag(ctx, id, tag)
	}
	if live.IsZero() {
		return finalError(id, ActionCreate, "ClientError.NoKey", "no live key to create the secret with")
	}
	err = s.create(ctx, id, zone, live, token("begin", rec.RotationID, zone), tag)
	if Code(err) == codeExists {
		// Created meanwhile, or by our own attempt whose answer was lost.
		err = s.tag(ctx, id, tag)
	}
	if err != nil {
		return err
	}
	_, _, found, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	if !found {
		return finalError(id, ActionGet, codeNotFound, "the secret just created cannot be read back")
	}
	return nil
}

func (s *Sink) tag(ctx context.Context, id string, tags ...types.Tag) error {
	return s.call(ctx, id, ActionTag, secret.Key{}, func(ctx context.Context) error {
		_, err := s.API.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(id), Tags: tags})
		return err
	})
}

// create makes the secret holding key as AWSCURRENT, tagged with the zone
// and extra (the record).
func (s *Sink) create(ctx context.Context, id, zone string, key secret.Key, tok string, extra ...types.Tag) error {
	if strings.HasPrefix(id, "arn:") {
		return finalError(id, ActionCreate, codeNotFound,
			"the secret does not exist and cannot be created from an ARN: create it, or configure its name")
	}
	tags := append([]types.Tag{
		{Key: aws.String(ManagedByTag), Value: aws.String(ManagedBy)},
		{Key: aws.String(ZoneTag), Value: aws.String(zone)},
	}, extra...)
	return s.call(ctx, id, ActionCreate, key, func(ctx context.Context) error {
		_, err := s.API.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:               aws.String(id),
			SecretString:       aws.String(key.Reveal()),
			Description:        aws.String(description(zone)),
			Tags:               tags,
			ClientRequestToken: aws.String(tok),
		})
		return err
	})
}

func description(zone string) string {
	return "EdgeOne multi-path gateway secret key of " + zone + ", rotated by " + ManagedBy +
		". Consumers read the AWSCURRENT version. The rotation record is in the tag " + RecordTag + ": do not edit it."
}

// token derives a ClientRequestToken: 32 hex digits of a sha256 over the
// parts, so the same delivery always sends the same token.
func token(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Deliver implements sink.Sink: a fresh key is written straight away; any
// other is read first and written only when it differs.
func (s *Sink) Deliver(ctx context.Context, d sink.Delivery) (sink.Outcome, error) {
	id := s.secretID(d.ZoneID)
	outcome, err := s.deliver(ctx, id, d)
	return s.log().Ended(ctx, "delivery", d.ZoneID, id, d.Key, outcome, err), err
}

// log is how the sink logs the end of a step: an error by the AWS action
// that failed and its code.
func (s *Sink) log() sink.Log {
	return sink.Log{Logger: s.logger(), Sink: "aws", Failure: func(err error) []slog.Attr {
		return []slog.Attr{slog.String("apiAction", operation(err)), slog.String("code", Code(err))}
	}}
}

func operation(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Action
	}
	return ""
}

func (s *Sink) deliver(ctx context.Context, id string, d sink.Delivery) (sink.Outcome, error) {
	if d.Key.IsZero() {
		return sink.Failed, finalError(id, ActionPut, "ClientError.NoKey", "no key to deliver")
	}
	// base is the version the write replaces, when read: part of the token,
	// so that a write over another value than last time is not taken by AWS
	// for a repeat of an earlier one (which it would ignore, leaving
	// AWSCURRENT where it is).
	var base string
	if !d.Fresh {
		current, versionID, found, err := s.get(ctx, id)
		if err != nil {
			return sink.Failed, err
		}
		if found && current.Equal(d.Key) {
			return sink.Unchanged, nil
		}
		base = versionID
	}
	return sink.OK, sink.ConfirmWrite(ctx, s.write(ctx, id, d, base), d.Key, s.reader(ctx, id, StageCurrent))
}

// write makes d.Key AWSCURRENT: PutSecretValue, and CreateSecret when the
// secret does not exist (then PutSecretValue again when it was created
// meanwhile).
func (s *Sink) write(ctx context.Context, id string, d sink.Delivery, base string) error {
	fp := d.Key.Fingerprint()
	put := func() error {
		tok := token("put", d.RotationID, d.ZoneID, fp, base)
		return s.call(ctx, id, ActionPut, d.Key, func(ctx context.Context) error {
			_, err := s.API.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
				SecretId:           aws.String(id),
				SecretString:       aws.String(d.Key.Reveal()),
				ClientRequestToken: aws.String(tok),
				VersionStages:      []string{StageCurrent},
			})
			return err
		})
	}
	err := put()
	if Code(err) != codeNotFound {
		return err
	}
	err = s.create(ctx, id, d.ZoneID, d.Key, token("create", d.RotationID, d.ZoneID, fp))
	if Code(err) == codeExists {
		return put()
	}
	return err
}

// GetString reads the AWSCURRENT value of the secret id (a name or an ARN)
// with the sink's retries: for secrets the function reads rather than
// rotates (TENCENTCLOUD_CREDENTIALS_SECRET).
func GetString(ctx context.Context, api *secretsmanager.Client, id string) (string, error) {
	key, _, found, err := (&Sink{API: api}).get(ctx, id)
	switch {
	case err != nil:
		return "", err
	case !found:
		return "", finalError(id, ActionGet, codeNotFound, "the secret or its AWSCURRENT version does not exist")
	}
	return key.Reveal(), nil
}
