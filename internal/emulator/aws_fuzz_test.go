package emulator

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func formatSigV4(a sigV4Auth) string {
	return sigV4Algorithm + " Credential=" + strings.Join([]string{a.accessKeyID, a.date, a.region, a.service, sigV4Terminator}, "/") +
		", SignedHeaders=" + strings.Join(a.signedHeaders, ";") + ", Signature=" + a.signature
}

// sigV4Sentences are what parseSigV4's errors may say.
var sigV4Sentences = []string{
	"Unsupported Authorization algorithm; expected " + sigV4Algorithm + ".",
	"Every part of the Authorization header must be a non-empty name=value pair.",
	"A part of the Authorization header is repeated.",
	"Authorization header requires 'Credential' parameter.",
	"Authorization header requires 'Signature' parameter.",
	"Authorization header requires 'SignedHeaders' parameter.",
	"Credential must have the form <access key>/<date>/<region>/<service>/" + sigV4Terminator + ".",
	"The credential scope date must be YYYYMMDD.",
	"SignedHeaders must be lowercase header names separated by ';'.",
	"SignedHeaders must be sorted and unique.",
	"'Host' must be a 'SignedHeader' in the AWS Authorization.",
	"Signature must be 64 lowercase hex digits.",
}

// FuzzParseSigV4 feeds arbitrary AWS Authorization headers to parseSigV4
// (seed corpus in testdata/fuzz/FuzzParseSigV4). It must not panic; every
// error is an IncompleteSignatureException that does not echo the header;
// what it accepts has a 64-digit lowercase hex signature and sorted, unique
// signed headers including host, and survives a format/parse round trip.
func FuzzParseSigV4(f *testing.F) {
	const sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/secretsmanager/aws4_request,SignedHeaders=host,Signature=" + sig,
		"AWS4-HMAC-SHA256 Signature=" + sig + ", SignedHeaders=host, Credential=A/20260101/r/s/aws4_request, Extra=1",
		"AWS4-HMAC-SHA256 Credential=A/2026-01-01/r/s/aws4_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=A/20260101/r/s/aws4_request, SignedHeaders=x-amz-date;host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=A/20260101/r/s/aws4_request, SignedHeaders=Host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=A/20260101/r/s/aws4_request, SignedHeaders=host, Signature=" + strings.ToUpper(sig),
		"AWS4-HMAC-SHA256 Credential=A/20260101/r/s/aws4_request, Credential=A/20260101/r/s/aws4_request",
		"AWS4-HMAC-SHA256 Credential=, SignedHeaders=host",
		"AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256", "TC3-HMAC-SHA256 Credential=x", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		a, err := parseSigV4(header)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Code != "IncompleteSignatureException" {
				t.Fatalf("error %T %v", err, err)
			}
			// Made of fixed sentences only, so nothing of the header is echoed.
			left := ae.Message
			for _, s := range sigV4Sentences {
				left = strings.ReplaceAll(left, s, "")
			}
			if strings.TrimSpace(left) != "" {
				t.Fatalf("error message %q is not made of the fixed sentences", ae.Message)
			}
			return
		}
		if _, herr := hex.DecodeString(a.signature); herr != nil || len(a.signature) != 64 || strings.ToLower(a.signature) != a.signature {
			t.Fatalf("accepted signature %q", a.signature)
		}
		if !slices.IsSorted(a.signedHeaders) || len(slices.Compact(slices.Clone(a.signedHeaders))) != len(a.signedHeaders) ||
			!slices.Contains(a.signedHeaders, "host") {
			t.Fatalf("accepted signed headers %q", a.signedHeaders)
		}
		if a.accessKeyID == "" || strings.ContainsAny(a.accessKeyID+a.date+a.region+a.service, "/,") {
			t.Fatalf("accepted credential %+v", a)
		}
		again, err := parseSigV4(formatSigV4(a))
		if err != nil || !reflect.DeepEqual(a, again) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", header, again, err, a)
		}
	})
}

// FuzzParseParams feeds arbitrary request bodies to parseParams and every
// accessor of what it returns (seed corpus in
// testdata/fuzz/FuzzParseParams). A body is accepted exactly when it is a
// JSON object; an accessor fails only with an InvalidParameter or
// MissingParameter apiError, and str succeeds exactly for strings and null.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{
		`{"ZoneId":"zone-a","GatewayId":"gw-1"}`, `{"SecretName":"s","VersionId":"current","SecretString":"k"}`,
		`{}`, `null`, `[]`, `"x"`, ``, ` {"a":1} `, `{"a":1}x`, `{"ZoneId":1}`, `{"ZoneId":null,"SecretName":"s"}`,
		`{"Limit":9223372036854775808}`, `{"Limit":1.5}`, `{"Tags":[{"TagKey":"k","TagValue":"v"}]}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseParams(body)
		trimmed := bytes.TrimSpace(body)
		isObject := json.Valid(body) && len(trimmed) > 0 && trimmed[0] == '{'
		if (err == nil) != isObject {
			t.Fatalf("parseParams(%q): %v", body, err)
		}
		if err != nil {
			checkAPIError(t, err, "InvalidParameter")
			return
		}
		if p == nil {
			t.Fatal("nil params without an error")
		}
		for name, raw := range p {
			s, err := p.str(name)
			isString := len(raw) > 0 && raw[0] == '"' || bytes.Equal(raw, []byte("null"))
			if (err == nil) != isString {
				t.Fatalf("str(%q) of %s: %q, %v", name, raw, s, err)
			}
			if err != nil {
				checkAPIError(t, err, "InvalidParameter")
			}
			if _, err := p.required(name); err != nil {
				checkAPIError(t, err, "InvalidParameter", "MissingParameter")
			}
			if _, err := p.integer(name, 7); err != nil {
				checkAPIError(t, err, "InvalidParameter")
			}
			var v []map[string]string
			if err := p.decode(name, &v); err != nil {
				checkAPIError(t, err, "InvalidParameter")
			}
		}
		if target := p.target(); target != "" {
			z, _ := p.str("ZoneId")
			s, _ := p.str("SecretName")
			if target != z && target != s {
				t.Fatalf("target %q is neither ZoneId %q nor SecretName %q", target, z, s)
			}
		}
	})
}

func checkAPIError(t *testing.T, err error, codes ...string) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) || !slices.Contains(codes, ae.Code) {
		t.Fatalf("error %T %v, want an apiError %v", err, err, codes)
	}
}
