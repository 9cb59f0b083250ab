package awssm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// The longest record there can be is a valid tag value, unencoded, and
// parses back.
func TestRecordFitsATagValue(t *testing.T) {
	longest := strings.Repeat("R", 128)
	tests := []sink.Record{
		{RotationID: longest, State: sink.Pending, From: secret.Fingerprint("a"), To: secret.Fingerprint("b"), At: time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)},
		{RotationID: "a.b_c:d@e+f=g-h", State: sink.Done, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))},
		{RotationID: sink.NormalizeRotationID("with spaces / and ünïcode " + longest), State: sink.Pending, From: secret.Fingerprint("a")},
	}
	for _, rec := range tests {
		tag, err := recordTag("s", rec)
		if err != nil {
			t.Fatalf("%+v: %v", rec, err)
		}
		v := *tag.Value
		if len(v) > maxTagValue {
			t.Errorf("record %d characters long", len(v))
		}
		got, err := sink.ParseRecord(v)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		rec.At = rec.At.UTC()
		if got != rec {
			t.Errorf("parsed %+v, want %+v", got, rec)
		}
	}
}

func TestCheckTagValue(t *testing.T) {
	for v, ok := range map[string]bool{
		"mpgw-keyrotator: rotation=a state=pending": true,
		"é ü 日本 _.:/=+-@":                           true,
		strings.Repeat("x", 256):                    true,
		strings.Repeat("x", 257):                    false,
		strings.Repeat("日", 256):                    true, // characters, not bytes
		"a,b":                                       false,
		"a\nb":                                      false,
		"a;b":                                       false,
	} {
		if err := checkTagValue(v); (err == nil) != ok {
			t.Errorf("checkTagValue(%q) = %v, want ok %v", v, err, ok)
		}
	}
}

func TestTokenIsAValidClientRequestToken(t *testing.T) {
	a := token("put", "rot-1", "zone-1", secret.Fingerprint("k"), "")
	if len(a) < 32 || len(a) > 64 {
		t.Errorf("token %q has %d characters", a, len(a))
	}
	if a != token("put", "rot-1", "zone-1", secret.Fingerprint("k"), "") {
		t.Error("token not deterministic")
	}
	for _, b := range []string{
		token("put", "rot-2", "zone-1", secret.Fingerprint("k"), ""),
		token("put", "rot-1", "zone-2", secret.Fingerprint("k"), ""),
		token("put", "rot-1", "zone-1", secret.Fingerprint("l"), ""),
		token("put", "rot-1", "zone-1", secret.Fingerprint("k"), "v1"),
		token("create", "rot-1", "zone-1", secret.Fingerprint("k"), ""),
		token("put", "rot-1zone-1", "", secret.Fingerprint("k"), ""),
	} {
		if a == b {
			t.Errorf("two deliveries share token %s", a)
		}
	}
}

// TestClientErrorsQuoteNothing: an error from before the request is sent (a
// credential provider's, which can quote the credentials it read) never
// reaches the message.
func TestClientErrorsQuoteNothing(t *testing.T) {
	const sentinel = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSENTINEL"
	cause := errors.New(`get credentials: parse failed of process output: {"Version":1,"SecretAccessKey":"` + sentinel + `"}`)
	err := classify(context.Background(), context.Background(), "tencent/creds", ActionGet, secret.Key{}, cause)
	if strings.Contains(err.Error(), sentinel) || Code(err) != CodeClient || retry.IsRetryable(err) {
		t.Errorf("classify = %q (code %s, retryable %v)", err, Code(err), retry.IsRetryable(err))
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is not kept for errors.Is")
	}
}
