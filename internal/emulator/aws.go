package emulator

import (
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The AWS side: Secrets Manager over AWS JSON 1.1 with SigV4 signatures.
// A request is routed here by its X-Amz-Target header; see the package
// comment for the processing order.

const (
	awsService         = "secretsmanager"
	awsTargetPrefix    = awsService + "."
	awsAccountID       = "123456789012"
	awsDefaultRegion   = "us-east-1"
	awsJSONContentType = "application/x-amz-json-1.1"
	sigV4Algorithm     = "AWS4-HMAC-SHA256"
	sigV4Terminator    = "aws4_request"
	amzDateFormat      = "20060102T150405Z"
	amzDayFormat       = "20060102"
)

// awsRegionPattern is the shape of an AWS region name (us-east-1,
// ap-southeast-2, us-gov-west-1, cn-north-1).
var awsRegionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// AWSCredential is an AWS access key. The one the emulator makes at New is
// temporary: it has a SessionToken, which requests must carry as
// X-Amz-Security-Token, and expires after Options.CredentialTTL (then
// ExpiredTokenException). A credential without a SessionToken is a
// permanent key; a zero Expires never expires.
type AWSCredential struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expires         time.Time
}

// AWSCredential is the emulator's temporary AWS credential, as Lambda gives
// a function through AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN.
func (e *Emulator) AWSCredential() AWSCredential { return e.awsCred }

// addAWSCredential registers an AWS access key (replacing one with the same
// AccessKeyID).
func (e *Emulator) addAWSCredential(c AWSCredential) { store(e, e.awsCreds, c.AccessKeyID, c) }

// newAWSCredential returns a temporary key in the shape of STS ones: an
// "ASIA" access key id of 20 characters, a 40-character secret key and an
// opaque session token.
func newAWSCredential(expires time.Time) AWSCredential {
	return AWSCredential{
		AccessKeyID:     "ASIA" + strings.ToUpper(randomAlphanumeric(16)),
		SecretAccessKey: randomAlphanumeric(40),
		SessionToken:    randomAlphanumeric(356),
		Expires:         expires,
	}
}

// awsModelledErrors are the error shapes of the Secrets Manager model; their
// message member is "Message". The others (authentication, throttling,
// serialization) are sent with "message", as the service does; the SDK reads
// either.
var awsModelledErrors = map[string]bool{
	"DecryptionFailure":                true,
	"EncryptionFailure":                true,
	"InternalServiceError":             true,
	"InvalidNextTokenException":        true,
	"InvalidParameterException":        true,
	"InvalidRequestException":          true,
	"LimitExceededException":           true,
	"MalformedPolicyDocumentException": true,
	"PreconditionNotMetException":      true,
	"PublicPolicyException":            true,
	"ResourceExistsException":          true,
	"ResourceNotFoundException":        true,
}

func awsStatus(typ string) int {
	switch typ {
	case "InternalServiceError", "InternalFailure", "ServiceUnavailable":
		return http.StatusInternalServerError
	case "RequestEntityTooLarge":
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// writeAWSError answers ae as AWS JSON 1.1 does: the X-Amzn-ErrorType
// header and {"__type", "Message"} body that the SDK's awsjson protocol
// decodes into its typed errors.
func writeAWSError(w http.ResponseWriter, requestID string, ae *apiError) {
	msgKey := "message"
	if awsModelledErrors[ae.Code] {
		msgKey = "Message"
	}
	h := w.Header()
	h.Set("Content-Type", awsJSONContentType)
	h.Set("X-Amzn-Errortype", ae.Code)
	h.Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(awsStatus(ae.Code))
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": ae.Code, msgKey: ae.Message})
}

func writeAWSResult(w http.ResponseWriter, requestID string, res result) {
	if res == nil {
		res = result{}
	}
	h := w.Header()
	h.Set("Content-Type", awsJSONContentType)
	h.Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(res)
}

// awsProtocol is AWS JSON 1.1 with SigV4 signatures; the action is the
// X-Amz-Target ("secretsmanager.<Action>").
var awsProtocol = protocol{
	logMessage:   "aws api call",
	actionHeader: "X-Amz-Target",
	notPost:      apiErrorf("UnknownOperationException", "Only POST requests are supported."),
	tooBig:       apiErrorf("RequestEntityTooLarge", "The request body exceeds %d bytes.", maxBodyBytes),
	unreadable:   apiErrorf("SerializationException", "The request body could not be read."),
	internal:     apiErrorf("InternalServiceError", "An error occurred on the server side."),
	authenticate: (*Emulator).authenticateAWS,
	resolve: func(e *Emulator, _ *http.Request, _, action string) (*endpoint, error) {
		ep := e.endpoints[action]
		if ep == nil || ep.service != awsService {
			return nil, apiErrorf("UnknownOperationException", "The operation is not supported.")
		}
		return ep, nil
	},
	parse: func(body []byte) (params, error) {
		var p params
		if err := json.Unmarshal(body, &p); err != nil || p == nil {
			return nil, apiErrorf("SerializationException", "The request body must be a JSON object.")
		}
		return p, nil
	},
	target:      awsTarget,
	throttled:   func(*endpoint) error { return apiErrorf("ThrottlingException", "Rate exceeded") },
	region:      func(_ *endpoint, _ *http.Request, region string) (string, error) { return region, nil },
	writeResult: writeAWSResult,
	writeError:  writeAWSError,
}

// awsTarget is what a Fault.Target is compared with: the SecretId (or the
// Name of CreateSecret) exactly as the request gave it.
func awsTarget(p params) string {
	for _, name := range []string{"SecretId", "Name"} {
		var s string
		if raw, ok := p[name]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
			return s
		}
	}
	return ""
}

// sigV4Auth is a parsed AWS4-HMAC-SHA256 Authorization header.
type sigV4Auth struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string // lowercase hex
}

// parseSigV4 parses
//
//	AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request, SignedHeaders=<h1;h2>, Signature=<hex>
//
// Its errors are IncompleteSignatureException and describe the structure
// only; they never echo the header.
func parseSigV4(header string) (sigV4Auth, error) {
	var a sigV4Auth
	incomplete := func(msg string) (sigV4Auth, error) {
		return sigV4Auth{}, apiErrorf("IncompleteSignatureException", "%s", msg)
	}
	rest, ok := strings.CutPrefix(header, sigV4Algorithm+" ")
	if !ok {
		return incomplete("Unsupported Authorization algorithm; expected " + sigV4Algorithm + ".")
	}
	parts := map[string]string{}
	for field := range strings.SplitSeq(rest, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok || value == "" {
			return incomplete("Every part of the Authorization header must be a non-empty name=value pair.")
		}
		if _, dup := parts[name]; dup {
			return incomplete("A part of the Authorization header is repeated.")
		}
		parts[name] = value
	}
	var missing []string
	for _, name := range []string{"Credential", "Signature", "SignedHeaders"} {
		if parts[name] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", name))
		}
	}
	if len(missing) > 0 {
		return incomplete(strings.Join(missing, " "))
	}
	cred := strings.Split(parts["Credential"], "/")
	if len(cred) != 5 || cred[0] == "" || cred[4] != sigV4Terminator {
		return incomplete("Credential must have the form <access key>/<date>/<region>/<service>/" + sigV4Terminator + ".")
	}
	if _, err := time.Parse(amzDayFormat, cred[1]); err != nil {
		return incomplete("The credential scope date must be YYYYMMDD.")
	}
	a.accessKeyID, a.date, a.region, a.service = cred[0], cred[1], cred[2], cred[3]
	names := strings.Split(parts["SignedHeaders"], ";")
	for i, n := range names {
		if n == "" || strings.ToLower(n) != n || strings.ContainsAny(n, " :\t") {
			return incomplete("SignedHeaders must be lowercase header names separated by ';'.")
		}
		if i > 0 && names[i-1] >= n {
			return incomplete("SignedHeaders must be sorted and unique.")
		}
	}
	if !slices.Contains(names, "host") {
		return incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	a.signedHeaders = names
	sig := parts["Signature"]
	if _, err := hex.DecodeString(sig); err != nil || len(sig) != 64 || strings.ToLower(sig) != sig {
		return incomplete("Signature must be 64 lowercase hex digits.")
	}
	a.signature = sig
	return a, nil
}

// authenticateAWS verifies the SigV4 signature of r (whose body has been
// read into body) and returns the region of the credential scope. Order:
// header syntax, X-Amz-Date, access key, session token, scope (service,
// region, date), clock skew, payload hash, signature.
func (e *Emulator) authenticateAWS(r *http.Request, body []byte) (string, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return "", apiErrorf("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	a, err := parseSigV4(header)
	if err != nil {
		return "", err
	}
	amzDate, signed, err := signingTime(r, "X-Amz-Date", func(s string) (time.Time, error) { return time.Parse(amzDateFormat, s) },
		apiErrorf("IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."),
		apiErrorf("IncompleteSignatureException", "X-Amz-Date must be in the ISO-8601 basic format YYYYMMDD'T'HHMMSS'Z'."))
	if err != nil {
		return "", err
	}
	cred, ok := load(e, e.awsCreds, a.accessKeyID)
	if !ok {
		return "", apiErrorf("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	now := e.now()
	token := r.Header.Get("X-Amz-Security-Token")
	if cred.SessionToken != "" || token != "" {
		if err := checkSessionToken(cred.SessionToken, token, cred.Expires, now,
			apiErrorf("UnrecognizedClientException", "The security token included in the request is invalid."),
			apiErrorf("ExpiredTokenException", "The security token included in the request is expired")); err != nil {
			return "", err
		}
	}
	if a.service != awsService {
		return "", apiErrorf("InvalidSignatureException", "Credential should be scoped to correct service: '%s'.", awsService)
	}
	if !awsRegionPattern.MatchString(a.region) {
		return "", apiErrorf("InvalidSignatureException", "Credential should be scoped to a valid region.")
	}
	if day := signed.Format(amzDayFormat); day != a.date {
		return "", apiErrorf("InvalidSignatureException",
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.date, day, amzDate)
	}
	if now.Sub(signed) > maxClockSkew {
		return "", apiErrorf("InvalidSignatureException", "Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, now.Add(-maxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))
	}
	if signed.Sub(now) > maxClockSkew {
		return "", apiErrorf("InvalidSignatureException", "Signature not yet current: %s is still later than %s (%s + 5 min.)",
			amzDate, now.Add(maxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))
	}
	payloadHash := sha256Hex(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return "", apiErrorf("InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}

	want, err := e.resignAWS(r, a, cred, payloadHash, signed)
	if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(a.signature)) != 1 {
		return "", apiErrorf("InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return a.region, nil
}

// resignAWS signs a copy of r that carries only the headers the client
// signed with the SDK's own v4 signer and returns the signature it made.
func (e *Emulator) resignAWS(r *http.Request, a sigV4Auth, cred AWSCredential, payloadHash string, signed time.Time) (string, error) {
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	cp, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), nil)
	if err != nil {
		return "", err
	}
	cp.Host = r.Host
	signsToken := false
	for _, name := range a.signedHeaders {
		switch name {
		case "host":
		case "content-length":
			cp.ContentLength = r.ContentLength
		default:
			if name == "x-amz-security-token" {
				signsToken = true
			}
			if vs := r.Header.Values(name); len(vs) > 0 {
				cp.Header[http.CanonicalHeaderKey(name)] = slices.Clone(vs)
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey}
	if signsToken {
		creds.SessionToken = cred.SessionToken
	}
	if err := e.awsSigner.SignHTTP(r.Context(), creds, cp, payloadHash, a.service, a.region, signed, func(o *v4.SignerOptions) {
		o.DisableSessionToken = !signsToken
	}); err != nil {
		return "", err
	}
	got, err := parseSigV4(cp.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if !slices.Equal(got.signedHeaders, a.signedHeaders) {
		return "", errors.New("signed headers differ")
	}
	return got.signature, nil
}
