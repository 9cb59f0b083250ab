// Package emulator is a local Tencent Cloud API 3.0 endpoint for the three
// services the key rotator talks to: TEO (EdgeOne multi-path gateway secret
// keys), SSM (Secrets Manager) and STS (AssumeRole).
//
// It speaks the real wire protocol — POST /, JSON body, X-TC-* headers,
// TC3-HMAC-SHA256 signatures, the {"Response":{...}} envelope with HTTP 200 —
// so the unmodified Tencent Cloud Go SDK (or tccli, or curl with a signer)
// can be pointed at it by overriding the endpoint. Because the SDK then sends
// every service to the same host:port, the service is taken from the
// credential scope of the Authorization header, not from the host.
//
// # Processing order
//
// Every API request goes through the same steps; the first failing step
// answers:
//
//  1. method (POST only: UnsupportedProtocol) and body size (1 MiB:
//     RequestSizeLimitExceeded);
//  2. authentication: Authorization syntax, X-TC-Timestamp, SecretId, clock
//     skew (5 minutes either way), credential scope date, signature, session
//     token. Identical replays are accepted, as the SDK resends the same signed
//     bytes when it retries;
//  3. service, X-TC-Version and X-TC-Action; from here on the request counts
//     in Calls;
//  4. the body must be a JSON object (InvalidParameter);
//  5. fault injection: the first matching fault is taken. A Before fault
//     answers here, so it neither counts against the rate limit nor does
//     work;
//  6. the per-action rate limiter (RequestLimitExceeded): at most the
//     documented number of calls in any sliding one-second window, the
//     strictest shape the real limiter may have. There are no accounts, so
//     the window is per action. It is measured on the emulator clock so
//     tests with a frozen clock are deterministic; refusals count in
//     Throttled;
//  7. X-TC-Region for the regional services (ssm, sts), then the action's own
//     validation and work. Success counts in Performed;
//  8. an After fault replaces whatever step 7 produced, as if the answer had
//     been lost on its way back.
//
// # Error codes for undocumented cases
//
// The public documentation leaves several cases open; the emulator answers:
//
//   - TEO, unknown ZoneId: ResourceNotFound.ZoneNotFound, with the zone in the
//     Message (the four key APIs do not declare a zone-not-found code).
//   - TEO Describe, Refresh or Modify on a zone without a key:
//     ResourceNotFound, "zone ... has no multi-path gateway secret key"
//     (the Terraform provider treats ResourceNotFound as "no key yet").
//   - TEO Create on a zone that already has a key: OperationDenied.
//   - TEO Create/Modify with a SecretKey that is not padded standard base64 of
//     32 to 48 bytes: InvalidParameterValue.
//   - SSM PutSecretValue, UpdateSecret, UpdateDescription, EnableSecret and
//     DisableSecret on a PendingDelete secret, DeleteSecret on a secret that
//     is not Disabled, RestoreSecret on a secret that is not PendingDelete:
//     OperationDenied.
//   - SSM CreateSecret with a SecretType other than 0: InvalidParameterValue
//     (only user-defined secrets are emulated).
//   - STS AssumeRole: a malformed RoleArn or RoleSessionName is
//     InvalidParameter.ParamError, a DurationSeconds outside 1–43200 is
//     InvalidParameter.OverTimeError, a role outside Options.Roles is
//     ResourceNotFound.RoleNotFound.
//   - A request whose credential scope names a service other than teo, ssm or
//     sts: NoSuchProduct. A missing X-TC-Timestamp, X-TC-Action or
//     X-TC-Version: MissingParameter; a non-numeric timestamp:
//     InvalidParameter. A credential scope date that is not the UTC date of
//     X-TC-Timestamp: AuthFailure.SignatureFailure.
//
// A scheduled SSM deletion is carried out lazily: a PendingDelete secret
// whose DeleteTime has passed on the emulator clock is gone the next time
// anything looks at the secrets.
//
// # Secrets
//
// Key values, secret keys, session tokens and signatures never appear in a
// log line, an error Message or the control surface's state dump; keys are
// shown as secret.Fingerprint values. The only answers that carry a key are
// the ones that do so in the real API: Describe/RefreshMultiPathGatewaySecretKey,
// GetSecretValue and AssumeRole.
//
// # Control surface
//
// The same server answers unauthenticated requests under /_emulator/ for
// scripts running outside the process (see control.go). It is meant for a
// loopback listener only.
package emulator
