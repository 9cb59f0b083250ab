package event

import (
	"errors"
	"strings"
	"testing"
)

func TestDuplicateMember(t *testing.T) {
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
		got, dup := DuplicateMember([]byte(tt.in))
		if got != tt.want || dup != (tt.want != "") {
			t.Errorf("DuplicateMember(%s) = %q, %v; want %q", tt.in, got, dup, tt.want)
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
