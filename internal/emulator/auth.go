package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	tc3Algorithm    = "TC3-HMAC-SHA256"
	tc3Terminator   = "tc3_request"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	maxClockSkew    = 5 * time.Minute
)

// Credential is an API key pair. Temporary credentials (an execution role's,
// or those AssumeRole issues) also have a session Token, which the caller
// must send as X-TC-Token, and usually an expiry. Token and Expires are empty
// for permanent keys; a zero Expires never expires.
type Credential struct {
	SecretID  string
	SecretKey string
	Token     string
	Expires   time.Time
}

// authorization is a parsed TC3-HMAC-SHA256 Authorization header.
type authorization struct {
	secretID      string
	date          string // YYYY-MM-DD, from the credential scope
	service       string // from the credential scope
	signedHeaders []string
	signature     string // lowercase hex
}

func (a authorization) scope() string { return a.date + "/" + a.service + "/" + tc3Terminator }

// parseAuthorization parses
//
//	TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request, SignedHeaders=<h1;h2>, Signature=<hex>
//
// Its errors describe the structure only and never echo the header.
func parseAuthorization(header string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(header, tc3Algorithm+" ")
	if !ok {
		return a, errors.New("the algorithm must be " + tc3Algorithm)
	}
	seen := map[string]bool{}
	for field := range strings.SplitSeq(rest, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok || value == "" {
			return a, errors.New("every part must be a non-empty name=value")
		}
		if seen[name] {
			return a, errors.New("a part is repeated")
		}
		seen[name] = true
		var err error
		switch name {
		case "Credential":
			err = a.parseCredential(value)
		case "SignedHeaders":
			err = a.parseSignedHeaders(value)
		case "Signature":
			err = a.parseSignature(value)
		default:
			err = errors.New("unknown part; expected Credential, SignedHeaders and Signature")
		}
		if err != nil {
			return a, err
		}
	}
	if len(seen) != 3 {
		return a, errors.New("the Credential, SignedHeaders and Signature parts are all required")
	}
	return a, nil
}

func (a *authorization) parseCredential(v string) error {
	parts := strings.Split(v, "/")
	if len(parts) != 4 || parts[0] == "" || parts[3] != tc3Terminator {
		return errors.New("the Credential part must be <SecretId>/<date>/<service>/" + tc3Terminator)
	}
	if _, err := time.Parse(time.DateOnly, parts[1]); err != nil {
		return errors.New("the credential scope date must be YYYY-MM-DD")
	}
	if parts[2] == "" || strings.ToLower(parts[2]) != parts[2] {
		return errors.New("the credential scope service must be a lowercase product name")
	}
	a.secretID, a.date, a.service = parts[0], parts[1], parts[2]
	return nil
}

// parseSignedHeaders requires lowercase names in strictly ascending order,
// which is how the canonical headers are built, and content-type and host,
// which the protocol makes mandatory.
func (a *authorization) parseSignedHeaders(v string) error {
	names := strings.Split(v, ";")
	for i, n := range names {
		if n == "" || strings.ToLower(n) != n || strings.ContainsAny(n, " :\t") {
			return errors.New("the SignedHeaders part must be lowercase header names separated by ';'")
		}
		if i > 0 && names[i-1] >= n {
			return errors.New("the SignedHeaders part must be sorted and unique")
		}
	}
	if !slices.Contains(names, "content-type") || !slices.Contains(names, "host") {
		return errors.New("the SignedHeaders part must include content-type and host")
	}
	a.signedHeaders = names
	return nil
}

func (a *authorization) parseSignature(v string) error {
	if _, err := hex.DecodeString(v); err != nil || len(v) != 2*sha256.Size || strings.ToLower(v) != v {
		return errors.New("the Signature part must be 64 lowercase hex digits")
	}
	a.signature = v
	return nil
}

// authenticate verifies the TC3-HMAC-SHA256 signature of r (whose body has
// already been read into body) and returns the service of the credential
// scope. The order of the checks decides which code a request with several
// problems gets; it follows the real service: syntax, key, time, signature,
// token.
func (e *Emulator) authenticate(r *http.Request, body []byte) (string, error) {
	auth, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "", apiErrorf("AuthFailure.InvalidAuthorization", "The Authorization header is not valid: %v.", err)
	}
	timestamp, signed, err := signingTime(r, "X-TC-Timestamp", parseUnixSeconds, missingParameter("Timestamp"),
		apiErrorf("InvalidParameter", "The parameter `Timestamp` must be an integer number of Unix seconds."))
	if err != nil {
		return "", err
	}
	ts := signed.Unix()
	cred, ok := load(e, e.creds, auth.secretID)
	if !ok {
		return "", apiErrorf("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.")
	}
	now := e.now()
	if skew := now.Sub(signed); skew > maxClockSkew || skew < -maxClockSkew {
		return "", apiErrorf("AuthFailure.SignatureExpire",
			"Signature expired. Timestamp: %d, server time: %d; the difference must not exceed %d seconds.",
			ts, now.Unix(), int(maxClockSkew.Seconds()))
	}
	if signed.UTC().Format(time.DateOnly) != auth.date {
		return "", apiErrorf("AuthFailure.SignatureFailure", "The credential scope date is not the UTC date of X-TC-Timestamp.")
	}

	payload := body
	if r.Header.Get("X-TC-Content-SHA256") == unsignedPayload {
		payload = []byte(unsignedPayload)
	}
	canonical := canonicalRequest(r, auth.signedHeaders, sha256Hex(payload))
	want := tc3Signature(cred.SecretKey, auth.date, auth.service, stringToSign(timestamp, auth.scope(), canonical))
	if subtle.ConstantTimeCompare([]byte(want), []byte(auth.signature)) != 1 {
		return "", apiErrorf("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.")
	}

	if cred.Token != "" {
		if err := checkSessionToken(cred.Token, r.Header.Get("X-TC-Token"), cred.Expires, now,
			apiErrorf("AuthFailure.TokenFailure", "The session token is missing or invalid."),
			apiErrorf("AuthFailure.TokenFailure", "The session token has expired.")); err != nil {
			return "", err
		}
	}
	e.count(e.signedBy, auth.secretID)
	return auth.service, nil
}

// signingTime reads the header that dates a signature, and its time;
// missing and malformed are the answers when it is absent or does not parse.
func signingTime(r *http.Request, name string, parse func(string) (time.Time, error), missing, malformed error) (string, time.Time, error) {
	v := r.Header.Get(name)
	if v == "" {
		return "", time.Time{}, missing
	}
	t, err := parse(v)
	if err != nil {
		return "", time.Time{}, malformed
	}
	return v, t, nil
}

func parseUnixSeconds(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	return time.Unix(n, 0), err
}

// checkSessionToken compares the session token a request sent with the
// credential's, in constant time, and then the credential's expiry (zero
// never expires) with now; wrong and expired are the answers to each
// failure.
func checkSessionToken(want, got string, expires, now time.Time, wrong, expired error) error {
	if subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return wrong
	}
	if !expires.IsZero() && !now.Before(expires) {
		return expired
	}
	return nil
}

// canonicalRequest builds the TC3 canonical request of a POST: the query is
// always empty and the URI always "/", whatever path was requested, as the
// SDK signs it. Header values are lowercased and trimmed as the protocol
// specifies; host is the received Host, port included.
func canonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteString("\n/\n\n")
	for _, name := range signedHeaders {
		value := r.Header.Get(name)
		if name == "host" {
			value = r.Host
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.ToLower(strings.TrimSpace(value)))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func stringToSign(timestamp, scope, canonicalRequest string) string {
	return tc3Algorithm + "\n" + timestamp + "\n" + scope + "\n" + sha256Hex([]byte(canonicalRequest))
}

// tc3Signature derives the signing key from the secret key, date and
// service, and signs stringToSign with it.
func tc3Signature(secretKey, date, service, stringToSign string) string {
	key := hmacSHA256([]byte("TC3"+secretKey), date)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, tc3Terminator)
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
