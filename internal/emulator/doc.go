// Package emulator is a local cloud for the key rotator and its tests. One
// http.Handler serves:
//
//   - the Tencent Cloud API 3.0 for TEO (EdgeOne multi-path gateway secret
//     keys), SSM (Secrets Manager) and STS (AssumeRole);
//   - AWS Secrets Manager (see "AWS Secrets Manager" below);
//   - an unauthenticated control surface under /_emulator/ (see "Control
//     surface" below).
//
// # Use
//
// In a Go test, New makes an emulator (Options.Zones seeds zones with a
// fresh key each) for httptest.NewServer; Start listens on an address
// itself, URL is then its base URL and Close stops it. The CLI's emulator
// command runs one with Start. Point the unmodified SDKs at it: the Tencent
// Cloud SDK with HttpProfile.Endpoint set to the host:port and Scheme
// "HTTP", signing with PermanentCredential or RoleCredential (or a
// credential registered with AddCredential); aws-sdk-go-v2 with
// BaseEndpoint set to URL and the AWSCredential. A test seeds and inspects
// state with AddZone, SetKey, Key, PutSecret, Secret, PutAWSSecret and
// AWSSecret; makes calls fail with Inject (a Fault); and checks what
// clients did with Calls, Performed, Throttled, Signers, CallLog and
// LiveKeysStoredFirst. Options.Now gives the emulator a clock of its own.
//
// # Tencent Cloud API 3.0
//
// The emulator speaks the real wire protocol — POST /, JSON body, X-TC-*
// headers, TC3-HMAC-SHA256 signatures, the {"Response":{...}} envelope with
// HTTP 200 — so the unmodified Tencent Cloud Go SDK (or tccli, or curl with
// a signer) can be pointed at it by overriding the endpoint. Because the
// SDK then sends every service to the same host:port, the service is taken
// from the credential scope of the Authorization header, not from the host.
//
// # Processing order
//
// Every Tencent Cloud API request goes through these steps (an AWS request
// through the same ones in AWS terms, see below); the first failing step
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
//   - SSM DeleteSecretVersion of a secret's only version: allowed (no rule
//     against it is documented); the secret is left without versions and
//     GetSecretValue answers ResourceNotFound. A missing version or secret
//     is ResourceNotFound, in every status.
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
// GetSecretValue (SSM and AWS) and AssumeRole. The same holds for the AWS
// access key's secret, its session token and SigV4 signatures.
//
// # AWS Secrets Manager
//
// A request whose X-Amz-Target is "secretsmanager.<Action>" is answered as
// AWS Secrets Manager does, over AWS JSON 1.1 (POST, JSON body, member names
// case sensitive as on the wire), so aws-sdk-go-v2 (BaseEndpoint, or
// AWS_ENDPOINT_URL_SECRETS_MANAGER with config.LoadDefaultConfig) and the
// aws CLI work unmodified. Errors are HTTP 400 (500 for
// InternalServiceError) with X-Amzn-ErrorType and {"__type", "Message"}
// ("message" for the unmodelled authentication, throttling and
// serialization errors), which the SDK turns into its typed errors. The
// actions: CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret,
// ListSecretVersionIds, UpdateSecretVersionStage, TagResource and
// UntagResource, SecretString only (SecretBinary is refused with
// InvalidParameterException). One account, 123456789012; ARNs
// arn:aws:secretsmanager:<region>:123456789012:secret:<name>-<6 characters>;
// SecretId is a name, that ARN, or the ARN without its suffix. The region is
// the one of the credential scope.
//
// Processing order: method, body size, SigV4 authentication, X-Amz-Target
// (UnknownOperationException; from here on the call counts in Calls), the
// body must be a JSON object (SerializationException), faults, the rate
// limiter (ThrottlingException, counted in Throttled), the action
// (Performed), an After fault. Faults, counters and the control surface name
// the actions "secretsmanager.<Action>"; a Fault's Target is the SecretId (or
// the Name of CreateSecret) as sent; a Code fault answers in the AWS format
// with that error type.
//
// Authentication (the checks in this order; the first failing answers):
// no Authorization header: MissingAuthenticationTokenException; a malformed
// AWS4-HMAC-SHA256 header, no host in SignedHeaders, no or malformed
// X-Amz-Date: IncompleteSignatureException; an unknown access key, or a
// session token that is missing, wrong, or sent with a permanent key:
// UnrecognizedClientException; an expired token: ExpiredTokenException;
// a scope naming another service, a malformed region, a scope date other
// than X-Amz-Date's day, X-Amz-Date more than 5 minutes from the emulator
// clock ("Signature expired" / "Signature not yet current"), an
// X-Amz-Content-Sha256 that is not the body's hash, or a wrong signature:
// InvalidSignatureException. The signature is checked by re-signing a copy
// of the request that carries only the signed headers with aws-sdk-go-v2's
// own v4 signer and comparing in constant time.
//
// Staging labels: CreateSecret with a value stages it AWSCURRENT;
// PutSecretValue stages VersionStages (default AWSCURRENT), taking each
// label from the version that had it; moving AWSCURRENT, by either action,
// makes the version that had it AWSPREVIOUS. A ClientRequestToken (32–64
// characters, the VersionId) seen before with the same value is a success
// that changes nothing; with another value it is ResourceExistsException.
// UpdateSecretVersionStage requires RemoveFromVersionId when another version
// has the label (InvalidParameterException otherwise, or if it names a
// version without the label); undocumented and chosen here: detaching
// AWSCURRENT without MoveToVersionId is InvalidParameterException, and an
// unknown MoveToVersionId is ResourceNotFoundException. Unlabelled versions
// beyond 100 are pruned, never ones younger than 24 hours.
//
// A secret scheduled for deletion (AWSSecretState.DeletedDate, set with
// PutAWSSecret; there is no DeleteSecret action) answers DescribeSecret
// with DeletedDate and ListSecretVersionIds; GetSecretValue and every write
// are InvalidRequestException. The deletion itself never happens.
//
// Rate limits are AWS's documented quotas, which are combined rates of
// groups of actions; a group shares one sliding-window limiter:
// DescribeSecret + GetSecretValue 10,000/s, PutSecretValue +
// UpdateSecretVersionStage 50/s, TagResource + UntagResource 50/s;
// CreateSecret and ListSecretVersionIds 50/s each (assumed: the quota page
// does not list them separately). AWS counts per region; the emulator counts
// all regions together.
//
// # Call log
//
// CallLog lists every call that counted in Calls, in order (Seq), with its
// action, target, code, whether it was performed, and for performed writes
// the fingerprints of the key values it stored or made live and the SSM
// VersionId or AWS staging labels it wrote. An entry is appended when the
// work is done or refused and before the answer is written, so calls a
// client makes one after the other appear in that order. ResetCounters
// empties it. LiveKeysStoredFirst checks the staged rotation's ordering
// property: every key a TEO Create, Modify or Refresh made live was written
// to an SSM or AWS secret by an earlier performed call. The log holds
// fingerprints only, never a key.
//
// # Control surface
//
// The same server answers unauthenticated requests under /_emulator/ for
// scripts running outside the process: GET /_emulator/state (zones,
// secrets and counters, keys and values as fingerprints only), POST and
// DELETE /_emulator/faults (inject a Fault given as JSON, remove them all)
// and POST /_emulator/zones (add a zone). It is meant for a loopback
// listener only.
package emulator
