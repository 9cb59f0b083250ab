// Package teo calls the EdgeOne (TEO) multi-path gateway secret key APIs,
// version 2022-09-01, over the common SDK (see internal/tcapi for signing,
// rate limits, timeouts and the classification of errors).
package teo

import (
	"context"
	"fmt"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
)

// Service and Version of the TEO API.
const (
	Service = "teo"
	Version = "2022-09-01"
)

// Action names, as they appear in errors, reports and CAM policies.
const (
	ActionRefresh  = "RefreshMultiPathGatewaySecretKey"
	ActionDescribe = "DescribeMultiPathGatewaySecretKey"
	ActionCreate   = "CreateMultiPathGatewaySecretKey"
	ActionModify   = "ModifyMultiPathGatewaySecretKey"
)

// Client calls TEO for one invocation.
type Client struct {
	API *tcapi.Client // Service/Version set to TEO's
}

// New returns a client calling TEO with api's endpoint, credential, limits
// and timing (api itself is not changed).
func New(api *tcapi.Client) *Client {
	return &Client{API: api.For(Service, Version)}
}

type zoneParams struct {
	ZoneId    string
	SecretKey string `json:",omitempty"`
}

type keyAnswer struct{ SecretKey string }

// Describe returns the zone's live key (the zero Key when the zone has none).
// It is a read: transient failures are retried.
func (c *Client) Describe(ctx context.Context, zone string) (secret.Key, error) {
	var out keyAnswer
	if err := c.API.Call(ctx, ActionDescribe, zoneParams{ZoneId: zone}, &out); err != nil {
		return secret.Key{}, fmt.Errorf("zone %s: %w", zone, err)
	}
	return secret.New(out.SecretKey), nil
}

// Refresh replaces the zone's key and returns the new one. The old key stops
// working at once. It is sent exactly once: after a failure the caller must
// Describe to learn whether the refresh happened before trying again.
func (c *Client) Refresh(ctx context.Context, zone string) (secret.Key, error) {
	var out keyAnswer
	if err := c.API.CallOnce(ctx, ActionRefresh, zoneParams{ZoneId: zone}, &out); err != nil {
		return secret.Key{}, fmt.Errorf("zone %s: %w", zone, err)
	}
	if out.SecretKey == "" {
		return secret.Key{}, fmt.Errorf("zone %s: %w", zone, &tcapi.Error{Service: Service, Action: ActionRefresh, Code: "ClientError.ParseJsonError", Message: "answer without SecretKey"})
	}
	return secret.New(out.SecretKey), nil
}

// Create gives a zone without a key its first key: key, or one the service
// generates when key is zero.
func (c *Client) Create(ctx context.Context, zone string, key secret.Key) error {
	if err := c.API.CallOnce(ctx, ActionCreate, zoneParams{ZoneId: zone, SecretKey: key.Reveal()}, nil); err != nil {
		return fmt.Errorf("zone %s: %w", zone, err)
	}
	return nil
}

// Modify sets a caller-chosen key. The old key stops working at once.
func (c *Client) Modify(ctx context.Context, zone string, key secret.Key) error {
	if err := c.API.CallOnce(ctx, ActionModify, zoneParams{ZoneId: zone, SecretKey: key.Reveal()}, nil); err != nil {
		return fmt.Errorf("zone %s: %w", zone, err)
	}
	return nil
}
