package event

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
)

// FuzzParse feeds Parse arbitrary payloads, seeded with every sample in
// testdata. Parse must never panic, and its result must be coherent.
func FuzzParse(f *testing.F) {
	samples, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(samples) == 0 {
		f.Fatalf("no samples in testdata: %v", err)
	}
	for _, s := range samples {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "null", "[]", `"x"`, "{", `{"foo":1}`, "\xff\xfe", `{"Type":"Timer"}`,
		`{"httpMethod":"POST","path":"/rotate","body":"e30=","isBase64Encoded":true}`,
		`{"version":"2.0","requestContext":{"http":{}},"headers":{"a":[1]}}`,
		`{"version":"2.0","rawPath":"/rotate","requestContext":{"domainName":"u.lambda-url.eu-west-1.on.aws"},"body":"e30=","isBase64Encoded":true}`,
		`{"resource":"/","httpMethod":"GET","path":"/check","multiValueHeaders":{"A":["1","2"]},"headers":{"A":"3"}}`,
		`{"source":"aws.events","detail-type":"Scheduled Event","id":"x","time":"2025-01-01T00:00:00Z"}`,
		`{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"zones\":[null]}"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := Parse(payload)
		if (ev.Kind != "") == (err != nil) {
			t.Fatalf("Kind %q with error %v", ev.Kind, err)
		}
		if (ev.HTTP != nil) != (ev.Kind == HTTP) {
			t.Fatalf("Kind %q with HTTP %v", ev.Kind, ev.HTTP)
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not an *Error", err)
			}
			return
		}
		if ev.HTTP != nil && (ev.HTTP.Headers == nil || ev.HTTP.Query == nil) {
			t.Fatalf("HTTP request with nil Headers or Query")
		}
		if ev.Zones != nil && len(ev.Zones) == 0 {
			t.Fatalf("empty, non-nil Zones")
		}
		for _, z := range ev.Zones {
			if !config.ValidZoneID(z) {
				t.Fatalf("zone %q is not a zone id", z)
			}
		}
	})
}
