package awssm

import (
	"cmp"
	"context"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// codeInvalidParameter is AWS's answer to an UpdateSecretVersionStage whose
// RemoveFromVersionId no longer holds the label: the labels moved since
// they were read.
const codeInvalidParameter = "InvalidParameterException"

// promoteRounds bounds how often Promote reads the labels again after a
// label move was refused or went unanswered.
const promoteRounds = 3

// Stage implements sink.Stager: the record first (Begin's calls), then
// PutSecretValue of key with VersionStages [AWSPENDING]. The token is
// derived from the rotation id, the zone and the key's fingerprint, so a
// retry or a second Stage of the same key makes no second version; AWS moves
// a leftover AWSPENDING label to the new version.
func (s *Sink) Stage(ctx context.Context, zone string, h sink.Holding, rec sink.Record, key, live secret.Key) error {
	id := s.secretID(zone)
	if err := s.stage(ctx, id, zone, h, rec, key, live); err != nil {
		s.log().Failed(ctx, "stage", zone, id, err)
		return err
	}
	s.logger().LogAttrs(ctx, slog.LevelInfo, "aws staged", slog.String("zoneId", zone), slog.String("secret", id),
		slog.String("fingerprint", key.Fingerprint()))
	return nil
}

func (s *Sink) stage(ctx context.Context, id, zone string, h sink.Holding, rec sink.Record, key, live secret.Key) error {
	if key.IsZero() {
		return finalError(id, ActionPut, "ClientError.NoKey", "no key to stage")
	}
	if err := s.Begin(ctx, zone, h, rec, live); err != nil {
		return err
	}
	tok := token("stage", rec.RotationID, zone, key.Fingerprint())
	err := s.call(ctx, id, ActionPut, key, func(ctx context.Context) error {
		_, err := s.API.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(id),
			SecretString:       aws.String(key.Reveal()),
			ClientRequestToken: aws.String(tok),
			VersionStages:      []string{StagePending},
		})
		return err
	})
	return sink.ConfirmWrite(ctx, err, key, s.reader(ctx, id, StagePending))
}

// Pending implements sink.Stager: GetSecretValue (AWSPENDING).
func (s *Sink) Pending(ctx context.Context, zone string) (secret.Key, bool, error) {
	key, _, found, err := s.getStage(ctx, s.secretID(zone), StagePending)
	if err != nil {
		return secret.Key{}, false, err
	}
	return key, found, nil
}

// Promote implements sink.Stager: AWSCURRENT moves to the version holding
// key (PutSecretValue when none does), AWSPENDING is removed, the record
// written.
func (s *Sink) Promote(ctx context.Context, zone string, key secret.Key, rec sink.Record) (sink.Outcome, error) {
	id := s.secretID(zone)
	outcome, err := s.promote(ctx, id, zone, key, rec)
	return s.log().Ended(ctx, "promote", zone, id, key, outcome, err), err
}

func (s *Sink) promote(ctx context.Context, id, zone string, key secret.Key, rec sink.Record) (sink.Outcome, error) {
	if key.IsZero() {
		return sink.Failed, finalError(id, ActionUpdateStage, "ClientError.NoKey", "no key to promote")
	}
	var tag types.Tag
	if rec.RotationID != "" { // sync leaves the last rotation's record as it is
		var err error
		if tag, err = recordTag(id, rec); err != nil {
			return sink.Failed, err
		}
	}
	outcome := sink.Unchanged
	for round := 1; ; round++ {
		changed, err := s.promoteOnce(ctx, id, zone, key, rec)
		if changed {
			outcome = sink.OK
		}
		if err == nil {
			break
		}
		// A label move refused because the labels moved (our own attempt
		// whose answer was lost), or left unanswered: read them again.
		again := operation(err) == ActionUpdateStage && (Code(err) == codeInvalidParameter || retry.IsRetryable(err))
		if !again || round == promoteRounds || ctx.Err() != nil {
			return sink.Failed, err
		}
	}
	if rec.RotationID == "" {
		return outcome, nil
	}
	if err := s.tag(ctx, id, tag); err != nil {
		return sink.Failed, err
	}
	return outcome, nil
}

// promoteOnce reads both labels and makes the moves they call for; changed
// says whether any was needed: when Promote ends without an error, the
// labels were not where they belong before, so it was not Unchanged.
func (s *Sink) promoteOnce(ctx context.Context, id, zone string, key secret.Key, rec sink.Record) (changed bool, err error) {
	var (
		current, pending     secret.Key
		currentID, pendingID string
		hasCurrent           bool
		currentErr           error
		wg                   sync.WaitGroup
	)
	wg.Go(func() { current, currentID, hasCurrent, currentErr = s.get(ctx, id) })
	pending, pendingID, hasPending, pendingErr := s.getStage(ctx, id, StagePending)
	wg.Wait()
	if err := cmp.Or(currentErr, pendingErr); err != nil {
		return false, err
	}
	switch {
	case hasCurrent && current.Equal(key):
		// Only the cleanup is left.
	case hasPending && pending.Equal(key):
		in := &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(id), VersionStage: aws.String(StageCurrent), MoveToVersionId: aws.String(pendingID),
		}
		if hasCurrent {
			in.RemoveFromVersionId = aws.String(currentID)
		}
		changed = true
		if err := s.updateStage(ctx, id, in); err != nil {
			return changed, err
		}
	default:
		// No version holds the key (the pending one was lost, or holds
		// another): it becomes AWSCURRENT as Deliver would write it.
		changed = true
		d := sink.Delivery{ZoneID: zone, Key: key, Action: "promote", RotationID: rec.RotationID}
		err := sink.ConfirmWrite(ctx, s.write(ctx, id, d, currentID), key, s.reader(ctx, id, StageCurrent))
		if err != nil {
			return changed, err
		}
	}
	if hasPending {
		// A version left with AWSPENDING blocks later rotations.
		changed = true
		err := s.updateStage(ctx, id, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(id), VersionStage: aws.String(StagePending), RemoveFromVersionId: aws.String(pendingID),
		})
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

func (s *Sink) updateStage(ctx context.Context, id string, in *secretsmanager.UpdateSecretVersionStageInput) error {
	return s.call(ctx, id, ActionUpdateStage, secret.Key{}, func(ctx context.Context) error {
		_, err := s.API.UpdateSecretVersionStage(ctx, in)
		return err
	})
}
