// Package tcapi calls Tencent Cloud API 3.0 services (TEO, SSM, STS) through
// the common SDK's generic client: TC3 signing, the error envelope, a per
// action rate limit (Limits), timeouts and retries of transient failures,
// and the one classification of failures (Error: retryable or final, the
// CAM grant a refusal lacks, never a secret in a message).
package tcapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
)

// Client calls one service. Create one per invocation: the credential is
// fixed for its lifetime (role credentials expire while an instance is warm).
type Client struct {
	Service    string // signing service name: "teo", "ssm", "sts"
	Version    string // API version, e.g. "2022-09-01"
	Endpoint   endpoint.Endpoint
	Region     string                 // X-TC-Region; "" omits the header
	Credential common.CredentialIface // required
	Limits     *Limits                // nil: no client-side rate limit
	Timeout    time.Duration          // per attempt (connect, TLS, send, answer); 0 = retry.APITimeout
	Retry      retry.Policy           // for Call; zero value = retry.API()
	Transport  http.RoundTripper      // nil = a shared transport
	Logger     *slog.Logger           // nil = no logs

	once sync.Once
	sdk  *common.Client
}

// For returns a new client with c's settings for service at version: the
// callers that own a service (teo, ssm, sts) take the client they are given
// this way, so that it stays as its owner made it. The new client shares
// c's rate limits and transport, never its own state; its SDK client comes
// from the package cache when Transport is nil.
func (c *Client) For(service, version string) *Client {
	return &Client{
		Service: service, Version: version,
		Endpoint: c.Endpoint, Region: c.Region, Credential: c.Credential, Limits: c.Limits,
		Timeout: c.Timeout, Retry: c.Retry, Transport: c.Transport, Logger: c.Logger,
	}
}

// Call sends action with params and decodes the Response object into out,
// retrying transient failures. Use it for idempotent actions only.
func (c *Client) Call(ctx context.Context, action string, params, out any) error {
	slot := &rateSlot{c: c, action: action}
	return c.policy().DoPaced(ctx, slot.acquire, func(ctx context.Context, attempt int) error {
		defer slot.answered()
		return c.send(ctx, action, params, out, attempt)
	})
}

// CallOnce sends action once: for actions that must not be repeated blindly
// (a refresh that may have happened although its answer was lost). Only a
// RequestLimitExceeded answer is sent again, within Call's attempts and the
// time left: the API rejected that request before doing anything. The
// error returned keeps its own classification, so that a caller that has
// proven the action did not happen may retry it.
func (c *Client) CallOnce(ctx context.Context, action string, params, out any) error {
	var last error
	slot := &rateSlot{c: c, action: action}
	err := c.policy().DoPaced(ctx, slot.acquire, func(ctx context.Context, attempt int) error {
		defer slot.answered()
		last = c.send(ctx, action, params, out, attempt)
		if last == nil || hasCode(Code(last), "RequestLimitExceeded") {
			return last
		}
		// Not even a timed-out attempt is sent again: it may have happened.
		return retry.Final(last)
	})
	if err != nil && last != nil {
		return last
	}
	return err
}

// rateSlot is one call's place in its action's rate limit: taken before
// each attempt, outside the attempt's timer (the wait is bounded by the
// caller's deadline and ratelimit.SendBy), and counted from the attempt's
// answer.
type rateSlot struct {
	c      *Client
	action string
	done   func()
}

func (s *rateSlot) acquire(ctx context.Context) error {
	done, err := s.c.Limits.Acquire(ctx, s.c.Service+"."+s.action)
	if err != nil {
		return fmt.Errorf("%s %s: waiting for the rate limit: %w", s.c.Service, s.action, err)
	}
	s.done = done
	return nil
}

func (s *rateSlot) answered() {
	if s.done != nil {
		s.done()
		s.done = nil
	}
}

// policy is Call's retry policy, with the client's timeout as the one timer
// of each attempt.
func (c *Client) policy() retry.Policy {
	policy := c.Retry
	if policy.Attempts == 0 {
		policy = retry.API()
	}
	policy.AttemptTimeout = c.timeout()
	return policy
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return retry.APITimeout
}

func (c *Client) client() *common.Client {
	c.once.Do(func() {
		if c.Transport != nil {
			c.sdk = c.newSDK()
			return
		}
		c.sdk = sdkClients.get(sdkKey{c.Endpoint.Scheme, c.Endpoint.Host, c.Region, CredentialDigest(c.Credential)}, c.newSDK)
	})
	return c.sdk
}

// sdkKey names an SDK client: it holds its endpoint, region and credential.
type sdkKey struct {
	scheme, host, region string
	credential           [sha256.Size]byte
}

// CredentialDigest identifies a credential without holding it: the key of
// caches that keep things per credential.
func CredentialDigest(cred common.CredentialIface) [sha256.Size]byte {
	return sha256.Sum256([]byte(cred.GetSecretId() + "\x00" + cred.GetSecretKey() + "\x00" + cred.GetToken()))
}

// sdkCache keeps SDK clients across the invocations of a warm instance, so
// that a new invocation with the same role credentials reuses them (their
// connections are kept alive by the shared transport either way).
type sdkCache struct {
	mu      sync.Mutex
	clients map[sdkKey]*common.Client
}

// maxSDKClients bounds the cache: role credentials are renewed every few
// hours, and each renewal makes new keys.
const maxSDKClients = 16

var sdkClients = &sdkCache{}

func (s *sdkCache) get(key sdkKey, build func() *common.Client) *common.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[key]; ok {
		return c
	}
	if s.clients == nil || len(s.clients) >= maxSDKClients {
		s.clients = map[sdkKey]*common.Client{}
	}
	c := build()
	s.clients[key] = c
	return c
}

// newSDK builds the SDK client of c.
func (c *Client) newSDK() *common.Client {
	cpf := profile.NewClientProfile()
	// NewClientProfile already disables the region breaker; say it again:
	// when open it sends calls to a backup host, away from the endpoint.
	cpf.DisableRegionBreaker = true
	// Our own retries re-sign each attempt; the SDK's would resend the
	// same signed bytes, and a refresh must never be repeated blindly.
	cpf.RateLimitExceededMaxRetries = 0
	cpf.NetworkFailureMaxRetries = 0
	cpf.HttpProfile.Endpoint = c.Endpoint.Host
	cpf.HttpProfile.Scheme = "HTTPS"
	if c.Endpoint.Scheme == "http" {
		cpf.HttpProfile.Scheme = "HTTP"
	}
	// The SDK turns ReqTimeout into http.Client.Timeout (common v1.3.211,
	// client.go:655, in WithProfile), where 0 means none: the attempt's
	// context from retry.Do is the one timer of a request.
	cpf.HttpProfile.ReqTimeout = 0
	cpf.Language = "en-US"
	transport := c.Transport
	if transport == nil {
		transport = endpoint.Transport()
	}
	return common.NewCommonClient(c.Credential, c.Region, cpf).WithHttpTransport(statusRecorder{transport})
}

func (c *Client) send(ctx context.Context, action string, params, out any, attempt int) error {
	if c.Credential == nil {
		return &Error{Service: c.Service, Action: action, Code: "ClientError.CredentialError", Message: "no credentials"}
	}
	status := new(int)
	ctx = context.WithValue(ctx, statusKey{}, status)

	req := tchttp.NewCommonRequest(c.Service, c.Version, action)
	req.SetContext(ctx)
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("%s %s: encoding parameters: %w", c.Service, action, err)
	}
	if err := req.SetActionParameters(body); err != nil {
		return fmt.Errorf("%s %s: encoding parameters: %w", c.Service, action, err)
	}
	resp := tchttp.NewCommonResponse()
	start := time.Now()
	err = c.client().Send(req, resp)
	if err != nil {
		e := fromSDK(c.Service, action, err)
		e.Message = redactParams(e.Message, body)
		if IsUnauthorized(e.Code) {
			e.Resource = camResource(c.Service, c.Region, action, body)
		}
		if hasCode(e.Code, "RequestLimitExceeded") {
			c.Limits.Throttled(c.Service + "." + action)
		}
		switch {
		case e.Code == codeParse && *status != 0 && *status != http.StatusOK:
			// A proxy's error page: the SDK only says it is not JSON.
			e.Code, e.Message = codeHTTPStatus, fmt.Sprintf("HTTP status %d without an API answer", *status)
		case e.Code == codeNetwork && retry.AttemptTimedOut(ctx):
			// The attempt's own timer fired; what the transport made of it
			// (a context error, a net timeout) would only mislead.
			e.Message, e.cause = fmt.Sprintf("no answer within %s", c.timeout()), nil
		case e.Code == codeNetwork && ctx.Err() != nil:
			// The invocation is out of time or cancelled: the report says so.
			e.cause = errors.Join(ctx.Err(), e.cause)
		}
		c.log(ctx, action, attempt, e.Code, start)
		return e
	}
	c.log(ctx, action, attempt, "", start)
	if out == nil {
		return nil
	}
	var envelope struct{ Response json.RawMessage }
	if err := json.Unmarshal(resp.GetBody(), &envelope); err != nil || envelope.Response == nil {
		return &Error{Service: c.Service, Action: action, Code: codeParse, Message: "answer without a Response object"}
	}
	if err := json.Unmarshal(envelope.Response, out); err != nil {
		// The decoder's message may quote the value: keep only the type.
		return &Error{Service: c.Service, Action: action, Code: codeDecode, Message: fmt.Sprintf("unexpected answer shape (%T)", err)}
	}
	return nil
}

func (c *Client) log(ctx context.Context, action string, attempt int, code string, start time.Time) {
	if c.Logger == nil {
		return
	}
	c.Logger.LogAttrs(ctx, slog.LevelDebug, "api call",
		slog.String("service", c.Service), slog.String("apiAction", action), slog.Int("attempt", attempt),
		slog.String("code", code), slog.Duration("duration", time.Since(start)))
}

type statusKey struct{}

// statusRecorder notes the HTTP status of the answer in the request's
// context, for errors the SDK reports without it.
type statusRecorder struct{ next http.RoundTripper }

func (s statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
	if p, ok := r.Context().Value(statusKey{}).(*int); ok && resp != nil {
		*p = resp.StatusCode
	}
	return resp, err
}
