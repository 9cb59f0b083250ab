package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

// The staged protocol, as a consumer sees it: the rotator writes the next
// key to the SSM version "pending", makes it live in TEO, then copies it to
// "current" and deletes "pending". Between the second and the third step
// the gateway accepts only the pending key; after the third, current again.

// ErrVersionNotFound is returned by a KeyStore for a version that does not
// exist (pending, outside a rotation).
var ErrVersionNotFound = errors.New("secret version not found")

// KeyStore reads one version of the zone's key.
type KeyStore interface {
	Get(ctx context.Context, versionID string) (secret.Key, error)
}

// AuthError is what a Gateway returns when it refuses the key: the only
// failure that makes the consumer look for another key.
type AuthError struct {
	Status int // e.g. HTTP 401 or 403; 0 when not applicable
}

func (e *AuthError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("gateway refused the key (status %d)", e.Status)
	}
	return "gateway refused the key"
}

// Gateway is one request to the multi-path gateway, signed with key.
type Gateway interface {
	Do(ctx context.Context, key secret.Key) error
}

// ErrNoWorkingKey is returned when neither the key in use, nor current
// re-read, nor pending is accepted.
var ErrNoWorkingKey = errors.New("the gateway accepts none of the keys in SSM")

// Consumer calls the gateway with the zone's key and follows a rotation.
// Safe for concurrent use.
type Consumer struct {
	Store   KeyStore
	Gateway Gateway
	// CurrentVersion and PendingVersion are the SSM version ids; default
	// "current" and "pending".
	CurrentVersion, PendingVersion string
	Logger                         *slog.Logger // default: discard

	mu      sync.Mutex
	key     secret.Key // the key in use
	pending secret.Key // the last pending key seen; zero if none
}

func (c *Consumer) versions() (current, pending string) {
	current, pending = c.CurrentVersion, c.PendingVersion
	if current == "" {
		current = "current"
	}
	if pending == "" {
		pending = "pending"
	}
	return current, pending
}

func (c *Consumer) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Load reads current (required) and preloads pending (may be absent).
func (c *Consumer) Load(ctx context.Context) error {
	currentID, _ := c.versions()
	cur, err := c.Store.Get(ctx, currentID)
	if err != nil {
		return fmt.Errorf("read %s: %w", currentID, err)
	}
	c.mu.Lock()
	c.key = cur
	c.mu.Unlock()
	c.refreshPending(ctx)
	c.logger().Info("key loaded", "fingerprint", cur.Fingerprint())
	return nil
}

// refreshPending re-reads pending. A version that is gone clears the
// preloaded copy; any other error keeps it (SSM may be unreachable just
// when the gateway switched keys, which is what the copy is for).
func (c *Consumer) refreshPending(ctx context.Context) secret.Key {
	_, pendingID := c.versions()
	p, err := c.Store.Get(ctx, pendingID)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		c.pending = p
	case errors.Is(err, ErrVersionNotFound):
		c.pending = secret.Key{}
	default:
		c.logger().Warn("pending not re-read; using the preloaded copy", "error", err.Error())
	}
	return c.pending
}

// Key returns the key in use.
func (c *Consumer) Key() secret.Key {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.key
}

// Do makes one gateway call. On an authentication failure it re-reads
// current and retries with it if it changed; if that is refused too, it
// tries pending once. A key that works becomes the key in use.
func (c *Consumer) Do(ctx context.Context) error {
	key := c.Key()
	err := c.Gateway.Do(ctx, key)
	if !isAuth(err) {
		return err
	}
	log := c.logger()
	log.Info("gateway refused the key; re-reading current", "fingerprint", key.Fingerprint())
	tried := map[string]bool{key.Fingerprint(): true}

	currentID, _ := c.versions()
	cur, rerr := c.Store.Get(ctx, currentID)
	if rerr != nil {
		log.Warn("current not re-read", "error", rerr.Error())
	} else if !tried[cur.Fingerprint()] {
		tried[cur.Fingerprint()] = true
		if err = c.Gateway.Do(ctx, cur); err == nil {
			c.adopt(cur, "current")
			return nil
		} else if !isAuth(err) {
			return err
		}
	}

	pending := c.refreshPending(ctx)
	if !pending.IsZero() && !tried[pending.Fingerprint()] {
		if err = c.Gateway.Do(ctx, pending); err == nil {
			c.adopt(pending, "pending")
			return nil
		} else if !isAuth(err) {
			return err
		}
	}
	return fmt.Errorf("%w: %w", ErrNoWorkingKey, err)
}

func (c *Consumer) adopt(k secret.Key, from string) {
	c.mu.Lock()
	c.key = k
	c.mu.Unlock()
	c.logger().Info("switched key", "from", from, "fingerprint", k.Fingerprint())
}

func isAuth(err error) bool {
	_, ok := errors.AsType[*AuthError](err)
	return ok
}

// SSMStore reads versions of one SSM secret with the common SDK client.
type SSMStore struct {
	Client     *common.Client
	SecretName string
}

// Get calls GetSecretValue. ResourceNotFound (a missing version) is
// ErrVersionNotFound. Errors name the secret and version, never the value.
func (s *SSMStore) Get(ctx context.Context, versionID string) (secret.Key, error) {
	req := tchttp.NewCommonRequest("ssm", "2019-09-23", "GetSecretValue")
	if err := req.SetActionParameters(map[string]any{"SecretName": s.SecretName, "VersionId": versionID}); err != nil {
		return secret.Key{}, err
	}
	req.SetContext(ctx)
	resp := tchttp.NewCommonResponse()
	if err := s.Client.Send(req, resp); err != nil {
		if sdkErr, ok := errors.AsType[*tcerrors.TencentCloudSDKError](err); ok {
			if sdkErr.Code == "ResourceNotFound" {
				return secret.Key{}, fmt.Errorf("%s/%s: %w", s.SecretName, versionID, ErrVersionNotFound)
			}
			return secret.Key{}, fmt.Errorf("GetSecretValue %s/%s: %s", s.SecretName, versionID, sdkErr.Code)
		}
		return secret.Key{}, fmt.Errorf("GetSecretValue %s/%s: %w", s.SecretName, versionID, err)
	}
	var env struct {
		Response struct{ SecretString string }
	}
	if err := json.Unmarshal(resp.GetBody(), &env); err != nil {
		return secret.Key{}, fmt.Errorf("GetSecretValue %s/%s: unreadable answer", s.SecretName, versionID)
	}
	if env.Response.SecretString == "" {
		return secret.Key{}, fmt.Errorf("GetSecretValue %s/%s: empty SecretString", s.SecretName, versionID)
	}
	return secret.New(env.Response.SecretString), nil
}
