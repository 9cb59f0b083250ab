package emulator

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func formatAuthorization(a authorization) string {
	return tc3Algorithm + " Credential=" + a.secretID + "/" + a.scope() +
		", SignedHeaders=" + strings.Join(a.signedHeaders, ";") + ", Signature=" + a.signature
}

// FuzzVerify feeds arbitrary Authorization headers to the parser and the
// verifier (seed corpus in testdata/fuzz/FuzzVerify). Neither may panic; a
// header that parses must survive a format/parse round trip; and only the
// project vector's real signature may verify.
func FuzzVerify(f *testing.F) {
	e := vectorEmulator(time.Unix(vectorTimestamp, 0))
	f.Fuzz(func(t *testing.T, header string) {
		a, err := parseAuthorization(header)
		if err == nil {
			again, err := parseAuthorization(formatAuthorization(a))
			if err != nil || !reflect.DeepEqual(a, again) {
				t.Fatalf("round trip of %q: %+v, %v; want %+v", header, again, err, a)
			}
		}
		if _, err := e.authenticate(vectorRequest(header), []byte(vectorBody)); err == nil {
			if a.signature != vectorSignature || a.secretID != vectorSecretID {
				t.Fatalf("verified a header with another signature or SecretId: %q", header)
			}
		} else if ae, ok := err.(*apiError); ok && strings.Contains(ae.Message, vectorSignature) {
			t.Fatalf("error message echoes the signature")
		}
	})
}
