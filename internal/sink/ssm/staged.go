package ssm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
)

// pendingID is the version a staged key waits in.
func (s *Sink) pendingID() (string, error) {
	if s.PendingVersionID == "" || s.PendingVersionID == s.VersionID {
		return "", fmt.Errorf("no pending version configured apart from %s (SSM_PENDING_VERSION_ID)", s.VersionID)
	}
	return s.PendingVersionID, nil
}

// Stage implements sink.Stager: the record first (Begin's calls), then key
// as the pending version. On an existing secret, ListSecretVersionIds comes
// before anything changes: it proves there is room for the pending version
// (and for the current one, when Promote will have to put it) and tells
// whether the pending version exists already.
func (s *Sink) Stage(ctx context.Context, zone string, h sink.Holding, rec sink.Record, key, live secret.Key) error {
	name := s.secretName(zone)
	if err := s.stage(ctx, name, zone, h, rec, key, live); err != nil {
		s.log().Failed(ctx, "stage", zone, name, err)
		return s.fail(name, err)
	}
	s.logger().LogAttrs(ctx, slog.LevelInfo, "ssm staged", slog.String("zoneId", zone), slog.String("secret", name),
		slog.String("version", s.PendingVersionID), slog.String("fingerprint", key.Fingerprint()))
	return nil
}

func (s *Sink) stage(ctx context.Context, name, zone string, h sink.Holding, rec sink.Record, key, live secret.Key) error {
	pending, err := s.pendingID()
	if err != nil {
		return err
	}
	if key.IsZero() {
		return errors.New("no key to stage")
	}
	where := versionMissing // of the pending version
	if h.Exists {
		exists, err := s.room(ctx, name, pending)
		if err != nil {
			return err
		}
		if exists {
			where = present
		}
	}
	if err := s.Begin(ctx, zone, h, rec, live); err != nil {
		return err
	}
	if where == present {
		// An earlier attempt staged a key: read only here, to write only
		// when it is another.
		held, found, err := s.getVersion(ctx, name, pending)
		switch {
		case err != nil:
			return err
		case found && held.Equal(key):
			return nil
		case !found:
			where = versionMissing
		}
	}
	err = s.writeVersion(ctx, name, zone, pending, key, where)
	return sink.ConfirmWrite(ctx, err, key, s.reader(ctx, name, pending))
}

// room lists the secret's versions and fails, before anything changes,
// when staging and then promoting could exceed SSM's limit: the pending
// version is one more unless it exists, the current one too when it is
// missing (Promote puts it). exists says whether the pending version does.
func (s *Sink) room(ctx context.Context, name, pending string) (exists bool, err error) {
	var out struct{ Versions []struct{ VersionId string } }
	if err := s.API.Call(ctx, ActionListVersions, secretRef{name}, &out); err != nil {
		return false, err
	}
	has := func(vid string) bool {
		return slices.ContainsFunc(out.Versions, func(v struct{ VersionId string }) bool { return v.VersionId == vid })
	}
	exists = has(pending)
	need := len(out.Versions)
	if !exists {
		need++
	}
	if !has(s.VersionID) {
		need++
	}
	if need > maxVersions {
		return exists, &tcapi.Error{Service: Service, Action: ActionPut, Code: "LimitExceeded",
			Message: fmt.Sprintf("the secret holds %d versions and staging needs %d, more than the SSM limit of %d: delete an old version (neither %s nor %s)",
				len(out.Versions), need, maxVersions, s.VersionID, pending)}
	}
	return exists, nil
}

// Pending implements sink.Stager: GetSecretValue of the pending version.
func (s *Sink) Pending(ctx context.Context, zone string) (secret.Key, bool, error) {
	name := s.secretName(zone)
	pending, err := s.pendingID()
	if err != nil {
		return secret.Key{}, false, s.fail(name, err)
	}
	key, found, err := s.getVersion(ctx, name, pending)
	if err != nil {
		return secret.Key{}, false, s.fail(name, err)
	}
	return key, found, nil
}

// Promote implements sink.Stager: the configured version gets key unless it
// holds it (UpdateSecret, PutSecretValue when the version is missing), the
// pending version is deleted (already gone is fine), the record written.
func (s *Sink) Promote(ctx context.Context, zone string, key secret.Key, rec sink.Record) (sink.Outcome, error) {
	name := s.secretName(zone)
	outcome, err := s.promote(ctx, name, zone, key, rec)
	return s.log().Ended(ctx, "promote", zone, name, key, outcome, err), s.fail(name, err)
}

func (s *Sink) promote(ctx context.Context, name, zone string, key secret.Key, rec sink.Record) (sink.Outcome, error) {
	pending, err := s.pendingID()
	if err != nil {
		return sink.Failed, err
	}
	if key.IsZero() {
		return sink.Failed, errors.New("no key to promote")
	}
	outcome := sink.Unchanged
	current, where, err := s.read(ctx, name)
	if err != nil {
		return sink.Failed, err
	}
	if where != present || !current.Equal(key) {
		err := sink.ConfirmWrite(ctx, s.write(ctx, name, zone, key, where), key, s.reader(ctx, name, s.VersionID))
		if err != nil {
			return sink.Failed, err
		}
		outcome = sink.OK
	}
	switch err := s.API.Call(ctx, ActionDeleteVersion, versionRef{name, pending}, nil); {
	case err == nil:
		outcome = sink.OK
	case isNotFound(err):
		// Already gone: an earlier attempt, or the pending key was lost.
	default:
		return sink.Failed, err
	}
	if rec.RotationID == "" {
		return outcome, nil // sync: the last rotation's record stays
	}
	desc := description(zone, &rec)
	if err := s.API.Call(ctx, ActionUpdateDescription, struct{ SecretName, Description string }{name, desc}, nil); err != nil {
		return sink.Failed, err
	}
	return outcome, nil
}
