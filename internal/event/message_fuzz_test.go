package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
)

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
