package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMembersDuplicate(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = none
	}{
		{in: `{"action":"check","zones":["zone-a"]}`},
		{in: `{"action":"check","action":"rotate"}`, want: "action"},
		{in: `{"a":{"b":1,"b":2}}`, want: "b"},
		{in: `{"a":[{"x":1},{"x":2}]}`},
		{in: `{"a":[{"x":1,"x":2}]}`, want: "x"},
		{in: `{"action":1,"\u0061ction":2}`, want: "action"},
		{in: `{"Action":1,"action":2}`},
		{in: `[{"k":1},{"k":1,"k":2}]`, want: "k"},
		{in: `{"a":"{\"b\":1,\"b\":2}"}`}, // inside a string: not this object's members
		{in: `{"a":1,"a"`, want: "a"},     // found before the text turns out malformed
		{in: `{"a":1,`},                   // malformed: its own decoding refuses it
		{in: `null`},
		{in: ``},
	}
	for _, tt := range tests {
		_, dup, _ := Members([]byte(tt.in))
		got := ""
		if dup != nil {
			got = *dup
		}
		if (dup != nil) != (tt.want != "") || got != tt.want {
			t.Errorf("Members(%s) duplicate = %q (found %v); want %q", tt.in, got, dup != nil, tt.want)
		}
	}
}

// TestMembers: the top-level members by exact name, each with its JSON text.
func TestMembers(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string // nil = not an object
		wantErr bool
	}{
		{in: `{"action":"check","zones":["zone-a"]}`, want: map[string]string{"action": `"check"`, "zones": `["zone-a"]`}},
		{in: ` { "Zones" : [ ] , "a" : { "b" : null } } `, want: map[string]string{"Zones": `[ ]`, "a": `{ "b" : null }`}},
		{in: `{}`, want: map[string]string{}},
		{in: `["x"]`},
		{in: `null`},
		{in: `{"a":1} {}`, want: map[string]string{"a": `1`}, wantErr: true}, // trailing data
		{in: `{"a":1,`, wantErr: true},
	}
	for _, tt := range tests {
		members, _, err := Members([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("Members(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
		}
		if tt.wantErr && tt.want == nil {
			continue
		}
		got := map[string]string(nil)
		if members != nil {
			got = map[string]string{}
			for k, v := range members {
				got[k] = string(v)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("Members(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestParseRefusesDuplicateMembers: a member given twice, at any level of
// any shape (and inside a timer's Message), is refused rather than read
// last-wins; an HTTP shape's error still lets the caller answer with 400.
func TestParseRefusesDuplicateMembers(t *testing.T) {
	tests := []struct {
		name, payload, shape string
		http                 bool
	}{
		{name: "direct action twice", payload: `{"action":"check","action":"rotate"}`, shape: "direct"},
		{name: "direct zones twice", payload: `{"zones":["zone-a"],"zones":["zone-b"]}`, shape: "direct"},
		{name: "direct dryRun twice", payload: `{"action":"rotate","dryRun":true,"dryRun":false}`, shape: "direct"},
		{name: "timer Message twice", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"action\":\"check\"}","Message":""}`, shape: "timer"},
		{name: "timer action twice in its Message", payload: `{"Type":"Timer","TriggerName":"t","Time":"x","Message":"{\"action\":\"check\",\"action\":\"rotate\"}"}`, shape: "timer"},
		{name: "schedule id twice", payload: `{"source":"aws.events","detail-type":"Scheduled Event","id":"a","id":"b"}`, shape: "schedule"},
		{name: "scf path twice", payload: `{"httpMethod":"GET","path":"/check","path":"/rotate"}`, shape: ShapeSCFFunctionURL, http: true},
		{name: "scf header twice", payload: `{"httpMethod":"POST","path":"/rotate","headers":{"authorization":"Bearer a","authorization":"Bearer b"}}`,
			shape: ShapeSCFFunctionURL, http: true},
		{name: "v2 method twice in requestContext", payload: `{"version":"2.0","rawPath":"/check","requestContext":{"http":{"method":"GET","method":"POST"}}}`,
			shape: ShapeAWSHTTPv2, http: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse([]byte(tt.payload))
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse = %+v, %v; want an *Error", ev, err)
			}
			if pe.Shape != tt.shape || pe.HTTP() != tt.http || !strings.Contains(err.Error(), "appears more than once") {
				t.Errorf("error %q (shape %q, HTTP %v), want shape %q, HTTP %v, naming the duplicate", err, pe.Shape, pe.HTTP(), tt.shape, tt.http)
			}
			if strings.Contains(err.Error(), "Bearer") {
				t.Errorf("error quotes a value: %v", err)
			}
		})
	}
}

// TestScan: the members scan keeps are the exact text of each value, and
// it accepts what encoding/json accepts, nesting limit included.
func TestScan(t *testing.T) {
	v, dup, err := scan([]byte(" { \"a\" : [1, 2] ,\"b\":\"x\\u0079\",\n\"c\": {\"d\": 1.5e3 ,\"e\":{\"f\":null}}, \"n\":-0 }\n"))
	if err != nil || dup != nil {
		t.Fatalf("scan: %v, %v", err, dup)
	}
	for name, raw := range map[string]string{"a": "[1, 2]", "b": `"x\u0079"`, "c": `{"d": 1.5e3 ,"e":{"f":null}}`, "n": "-0"} {
		if got := string(v.members[name].raw); got != raw {
			t.Errorf("%s: raw %q, want %q", name, got, raw)
		}
	}
	if b := v.members["b"]; !b.isStr || b.string() != "xy" {
		t.Errorf("b: %+v", b)
	}
	if c := v.members["c"].members; string(c["d"].raw) != "1.5e3" || c["e"].members != nil {
		t.Errorf("c: %+v (only one level of members is kept)", c)
	}
	for _, depth := range []int{maxDepth, maxDepth + 1} {
		deep := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		if _, _, err := scan([]byte(deep)); (err == nil) != json.Valid([]byte(deep)) {
			t.Errorf("depth %d: scan error %v, json.Valid %v", depth, err, json.Valid([]byte(deep)))
		}
	}
	for _, bad := range []string{`{} {}`, `{"a":1} x`, `{"a":1,}`, `{"a" 1}`, `{`, ``} {
		if _, _, err := scan([]byte(bad)); err == nil {
			t.Errorf("scan(%q) accepted", bad)
		}
	}
}
