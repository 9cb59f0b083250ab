package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
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
		checkScan(t, payload)
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

// checkScan: scan accepts exactly the text json.Valid does, and an object's
// members are the ones json.Unmarshal finds, with the same values.
func checkScan(t *testing.T, payload []byte) {
	v, _, err := scan(payload)
	if (err == nil) != json.Valid(payload) {
		t.Fatalf("scan error %v, json.Valid %v", err, json.Valid(payload))
	}
	trimmed := bytes.TrimSpace(payload)
	if err != nil || len(trimmed) == 0 || trimmed[0] != '{' {
		if v.members != nil && err == nil {
			t.Fatalf("members of a value that is not an object")
		}
		return
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatal(err)
	}
	if len(v.members) != len(want) {
		t.Fatalf("%d members, json.Unmarshal finds %d", len(v.members), len(want))
	}
	for name, m := range v.members {
		var got, w any
		if json.Unmarshal(m.raw, &got) != nil || json.Unmarshal(want[name], &w) != nil || !reflect.DeepEqual(got, w) {
			t.Fatalf("member %q: raw %s, json.Unmarshal %s", name, m.raw, want[name])
		}
		s, isStr := got.(string)
		if m.isStr != isStr || m.str != s {
			t.Fatalf("member %q: string %q (%v), raw %s", name, m.str, m.isStr, m.raw)
		}
	}
}

// FuzzTimerMessage feeds arbitrary text as the Message of an SCF timer
// event (seed corpus in testdata/fuzz/FuzzTimerMessage). Parse must agree
// with parseMessage; a note (anything not starting with { or [) means
// rotate every zone, except "sync" or "check", which are refused; what is
// accepted asks for a known action and valid zones, and its JSON form
// {"action","zones"} reads back the same.
func FuzzTimerMessage(f *testing.F) {
	for _, s := range []string{
		"", "scheduled", " SYNC ", "check", "rotate", "[]", "{}", `{"action":"sync"}`,
		`{"zones":["zone-a","zone-b","zone-a"]}`, `{"action":"check","zones":["zone-abc123"]}`,
		`{"zones":[]}`, `{"zones":["ZONE-A"]}`, `{"action":1}`, `{"action":"delete"}`, `{"zone":["zone-a"]}`,
		`{"action":"sync"} trailing`, `{"action":"sync","action":"rotate"}`, "{", "\x00", "\u00a0sync", "null",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		direct, derr := parseMessage(msg)
		timer, err := json.Marshal(map[string]string{"Type": "Timer", "TriggerName": "t", "Time": "2026-01-01T00:00:00Z", "Message": msg})
		if err != nil {
			t.Fatal(err)
		}
		ev, perr := Parse(timer)
		if (derr == nil) != (perr == nil) {
			t.Fatalf("parseMessage error %v, Parse error %v", derr, perr)
		}
		if perr != nil {
			var pe *Error
			if !errors.As(perr, &pe) {
				t.Fatalf("error %T is not an *Error", perr)
			}
			return
		}
		if ev.Kind != Timer || ev.Action != direct.Action || !slices.Equal(ev.Zones, direct.Zones) {
			t.Fatalf("Parse gave %+v, parseMessage %+v", ev, direct)
		}
		if ev.Action != "" && !ev.Action.Valid() {
			t.Fatalf("action %q", ev.Action)
		}
		if ev.Zones != nil && len(ev.Zones) == 0 {
			t.Fatal("empty, non-nil Zones")
		}
		for i, z := range ev.Zones {
			if !config.ValidZoneID(z) || slices.Contains(ev.Zones[:i], z) {
				t.Fatalf("zones %q", ev.Zones)
			}
		}
		trimmed := strings.TrimSpace(msg)
		if trimmed != "" && trimmed[0] != '{' && (ev.Action != "" || ev.Zones != nil) {
			t.Fatalf("note %q read as %+v", msg, ev)
		}
		// The canonical JSON form of what was read asks for the same thing.
		canon := map[string]any{}
		if ev.Action != "" {
			canon["action"] = ev.Action
		}
		if ev.Zones != nil {
			canon["zones"] = ev.Zones
		}
		b, err := json.Marshal(canon)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseMessage(string(b))
		if err != nil || !reflect.DeepEqual(again, direct) {
			t.Fatalf("%s reads as %+v, %v; want %+v", b, again, err, direct)
		}
	})
}
