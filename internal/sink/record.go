package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
	"regexp"
	"strings"
	"time"
)

// Record is the durable trace of one rotation of one zone, written beside the
// key once, before the refresh, with the fingerprint of the key about to die.
// A retry of the same rotation reads it: a live key that is no longer From
// means the refresh already happened, so the retry only delivers.
type Record struct {
	RotationID string
	State      State
	From       string // fingerprint of the key being replaced ("" if none)
	To         string // fingerprint of the delivered key (Done only)
	At         time.Time
}

// State of a rotation.
type State string

const (
	Pending State = "pending" // begun: about to refresh, or refreshed and being delivered
	Done    State = "done"    // delivered to every sink (kept in memory; also read from older records)
)

var (
	rotationIDRe  = regexp.MustCompile(`^[A-Za-z0-9._:@+=-]{1,128}$`)
	fingerprintRe = regexp.MustCompile(`^sha256:[0-9a-f]{16}$`)
)

// NormalizeRotationID returns id when it is short and plain, otherwise a
// stable digest of it, so that any id fits a record and a header.
func NormalizeRotationID(id string) string {
	if rotationIDRe.MatchString(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h:" + hex.EncodeToString(sum[:16])
}

// recordPrefix marks the line a record occupies in free text such as a
// secret's description.
const recordPrefix = "mpgw-keyrotator:"

// Encode renders the record as one line.
func (r Record) Encode() string {
	return fmt.Sprintf("%s rotation=%s state=%s from=%s to=%s at=%s", recordPrefix,
		r.RotationID, r.State, orDash(r.From), orDash(r.To), r.At.UTC().Format(time.RFC3339))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ParseRecord finds and parses the record line in text. Any malformed field
// is an error: a record that cannot be trusted is treated as absent.
func ParseRecord(text string) (Record, error) {
	var line string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), recordPrefix) {
			line = strings.TrimSpace(l)
		}
	}
	if line == "" {
		return Record{}, fmt.Errorf("no %s line", recordPrefix)
	}
	fields := map[string]string{}
	for _, f := range strings.Fields(strings.TrimPrefix(line, recordPrefix)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			return Record{}, fmt.Errorf("malformed field %q", excerpt.Of(f, 32))
		}
		if _, dup := fields[k]; dup {
			return Record{}, fmt.Errorf("field %q twice", excerpt.Of(k, 32))
		}
		fields[k] = v
	}
	var r Record
	r.RotationID = fields["rotation"]
	if !rotationIDRe.MatchString(r.RotationID) {
		return Record{}, fmt.Errorf("bad rotation id")
	}
	r.State = State(fields["state"])
	if r.State != Pending && r.State != Done {
		return Record{}, fmt.Errorf("bad state %q", excerpt.Of(fields["state"], 32))
	}
	for _, fp := range []struct {
		name string
		dst  *string
	}{{"from", &r.From}, {"to", &r.To}} {
		v := fields[fp.name]
		switch {
		case v == "-":
		case fingerprintRe.MatchString(v):
			*fp.dst = v
		default:
			return Record{}, fmt.Errorf("bad %s fingerprint", fp.name)
		}
	}
	at, err := time.Parse(time.RFC3339, fields["at"])
	if err != nil {
		return Record{}, fmt.Errorf("bad time")
	}
	// Encode writes whole seconds; keeping a fraction would make the record
	// change when it is written back (found by FuzzParseRecordText).
	r.At = at.UTC().Truncate(time.Second)
	if len(fields) != 5 {
		return Record{}, fmt.Errorf("unexpected fields")
	}
	return r, nil
}
