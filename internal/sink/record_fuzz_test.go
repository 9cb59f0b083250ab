package sink

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzRecordRoundTrip builds a Record the way the rotation does (a
// normalised id, either state, fingerprints or none, a time in whole
// seconds) from fuzzed parts, in free text as a secret's description holds
// it (seed corpus in testdata/fuzz/FuzzRecordRoundTrip). ParseRecord must
// give back exactly the Record that Encode wrote, and a later record line
// must win over an earlier one.
func FuzzRecordRoundTrip(f *testing.F) {
	f.Add("timer:daily:2026-11-27T03:00:00Z", true, uint64(0x0123456789abcdef), false, uint64(0), int64(1_795_000_000), "Managed by mpgw-keyrotator")
	f.Add("id with spaces and ✓", false, uint64(0), true, uint64(1), int64(0), "")
	f.Add("", true, uint64(42), true, uint64(42), int64(-62_135_596_800), "mpgw-keyrotator: rotation=old state=done from=- to=- at=2020-01-01T00:00:00Z")
	f.Add(strings.Repeat("x", 200), false, uint64(1<<63), false, uint64(0), int64(253_402_300_799), "\n\r\t")
	f.Fuzz(func(t *testing.T, id string, done bool, from uint64, hasTo bool, to uint64, unix int64, before string) {
		// RFC 3339 years are 0000 to 9999; a clock outside them is not a
		// clock this code runs on.
		const minUnix, maxUnix = -62_135_596_800, 253_402_300_799
		unix = minUnix + ((unix%(maxUnix-minUnix+1))+(maxUnix-minUnix+1))%(maxUnix-minUnix+1)
		r := Record{RotationID: NormalizeRotationID(id), State: Pending, At: time.Unix(unix, 0).UTC()}
		if done {
			r.State = Done
		}
		if from != 0 {
			r.From = fmt.Sprintf("sha256:%016x", from)
		}
		if hasTo {
			r.To = fmt.Sprintf("sha256:%016x", to)
		}
		line := r.Encode()
		if strings.Contains(line, "\n") {
			t.Fatalf("Encode wrote more than one line: %q", line)
		}
		for _, text := range []string{line, before + "\n" + line, before + "\n  " + line + " \n"} {
			got, err := ParseRecord(text)
			if err != nil || got != r {
				t.Fatalf("ParseRecord(%q) = %+v, %v; want %+v", text, got, err, r)
			}
		}
	})
}

// FuzzParseRecordText feeds ParseRecord arbitrary text (seed corpus in
// testdata/fuzz/FuzzParseRecordText). It must not panic; what it accepts
// is a valid Record whose encoding is a fixed point: it parses back to the
// same Record and re-encodes to the same line. Its errors never quote more
// than a short excerpt of the text.
func FuzzParseRecordText(f *testing.F) {
	f.Add("mpgw-keyrotator: rotation=r1 state=done from=- to=sha256:0123456789abcdef at=2026-11-27T03:00:00Z")
	f.Add("mpgw-keyrotator: at=2026-11-27T04:00:00+01:00 to=- from=- state=pending rotation=r1")
	f.Add("mpgw-keyrotator: rotation=r1 state=done from=- to=- at=2026-11-27T03:00:00.5Z")
	f.Add("mpgw-keyrotator: rotation=r1 state=done from=- to=- at=2026-11-27T03:00:00Z extra=1")
	f.Add("mpgw-keyrotator:rotation=r1\tstate=done from=- to=- at=2026-11-27T03:00:00Z\nmpgw-keyrotator: garbage")
	f.Add("mpgw-keyrotator: rotation=" + strings.Repeat("a", 129) + " state=done")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseRecord(text)
		if err != nil {
			if len(err.Error()) > 256 { // 32 runes of excerpt, quoted
				t.Fatalf("error of %d bytes: %.60q…", len(err.Error()), err.Error())
			}
			return
		}
		if NormalizeRotationID(r.RotationID) != r.RotationID || (r.State != Pending && r.State != Done) ||
			r.At.Location() != time.UTC {
			t.Fatalf("ParseRecord(%q) accepted %+v", text, r)
		}
		line := r.Encode()
		again, err := ParseRecord(line)
		if err != nil || again != r {
			t.Fatalf("ParseRecord(%q) = %+v; its encoding %q parses as %+v, %v", text, r, line, again, err)
		}
		if again.Encode() != line {
			t.Fatalf("re-encoding changed %q to %q", line, again.Encode())
		}
	})
}
