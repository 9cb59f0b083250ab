package sink

import (
	"strings"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	tests := []Record{
		{RotationID: "timer:nightly:2026-11-27T03:00:00Z", State: Pending, From: "sha256:0123456789abcdef", At: at},
		{RotationID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", State: Done, From: "sha256:0123456789abcdef", To: "sha256:fedcba9876543210", At: at},
		{RotationID: "r", State: Done, At: at},
	}
	for _, r := range tests {
		text := "Managed by mpgw-keyrotator.\n" + r.Encode() + "\n"
		got, err := ParseRecord(text)
		if err != nil || got != r {
			t.Errorf("ParseRecord(Encode(%+v)) = %+v, %v", r, got, err)
		}
	}
}

func TestParseRecordRejects(t *testing.T) {
	good := "mpgw-keyrotator: rotation=r1 state=done from=- to=sha256:0123456789abcdef at=2026-11-27T03:00:00Z"
	if _, err := ParseRecord(good); err != nil {
		t.Fatalf("good record rejected: %v", err)
	}
	bad := []string{
		"",
		"hello",
		strings.Replace(good, "state=done", "state=maybe", 1),
		strings.Replace(good, "rotation=r1", "rotation=", 1),
		strings.Replace(good, "rotation=r1", "rotation=a/b", 1),
		strings.Replace(good, "to=sha256:0123456789abcdef", "to=sha256:XYZ", 1),
		strings.Replace(good, "to=sha256:0123456789abcdef", "to=c2VjcmV0", 1),
		strings.Replace(good, "at=2026-11-27T03:00:00Z", "at=yesterday", 1),
		good + " extra=1",
		good + " state=done",
		strings.Replace(good, " from=-", "", 1),
		strings.Replace(good, "from=-", "from", 1),
	}
	for _, text := range bad {
		if r, err := ParseRecord(text); err == nil {
			t.Errorf("ParseRecord(%q) = %+v, want error", text, r)
		}
	}
}

func TestNormalizeRotationID(t *testing.T) {
	if got := NormalizeRotationID("msg_abc"); got != "msg_abc" {
		t.Errorf("plain id changed: %q", got)
	}
	odd := "id with spaces and ✓"
	got := NormalizeRotationID(odd)
	if got == odd || !strings.HasPrefix(got, "h:") || got != NormalizeRotationID(odd) || !rotationIDRe.MatchString(got) {
		t.Errorf("NormalizeRotationID(%q) = %q", odd, got)
	}
	if NormalizeRotationID(strings.Repeat("a", 129)) == strings.Repeat("a", 129) {
		t.Error("long id kept")
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("mpgw-keyrotator: rotation=r1 state=done from=- to=sha256:0123456789abcdef at=2026-11-27T03:00:00Z")
	f.Add("Managed by mpgw-keyrotator\nmpgw-keyrotator: rotation=x state=pending from=sha256:0123456789abcdef to=- at=2026-01-01T00:00:00Z")
	f.Add("mpgw-keyrotator: rotation==== state==")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRecord(text)
		if err != nil {
			return
		}
		// Whatever parses must survive a round trip unchanged.
		again, err := ParseRecord(r.Encode())
		if err != nil || again != r {
			t.Fatalf("round trip of %+v: %+v, %v", r, again, err)
		}
	})
}
