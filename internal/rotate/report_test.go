package rotate

import (
	"errors"
	"strings"
	"testing"
)

func TestReportErr(t *testing.T) {
	tests := []struct {
		name string
		rep  Report
		want []string // substrings; nil = no error
		not  []string
	}{
		{name: "ok", rep: Report{Action: Rotate, OK: true, Zones: []ZoneResult{{ZoneID: "zone-a", Outcome: Rotated}}}},
		{name: "mixed",
			rep: Report{Action: Rotate, Zones: []ZoneResult{
				{ZoneID: "zone-a", Outcome: Rotated},
				{ZoneID: "zone-b", Outcome: Failed, KeyChanged: true, APIAction: "UpdateSecret", Code: "InternalError"},
				{ZoneID: "zone-c", Outcome: Failed, APIAction: opDescribe, Code: "ResourceNotFound.ZoneNotFound"},
				{ZoneID: "zone-d", Outcome: Skipped},
				{ZoneID: "zone-e", Outcome: InSync},
			}},
			want: []string{"rotate not ok: ", "zone-b failed (UpdateSecret InternalError key rotated, run sync)",
				"zone-c failed (" + opDescribe + " ResourceNotFound.ZoneNotFound)", "zone-d skipped"},
			not: []string{"zone-a", "zone-e", "zone-c failed (" + opDescribe + " ResourceNotFound.ZoneNotFound key rotated"}},
		{name: "drift", rep: Report{Action: Check, Zones: []ZoneResult{{ZoneID: "zone-a", Outcome: Drifted}}},
			want: []string{"check not ok: zone-a drift"}},
		{name: "no zones", rep: Report{Action: Sync}, want: []string{"sync not ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rep.Err()
			if tc.want == nil {
				if err != nil {
					t.Errorf("Err = %v", err)
				}
				return
			}
			var re *ReportError
			if !errors.As(err, &re) || re.Action != tc.rep.Action {
				t.Fatalf("Err = %v (%T)", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("%q holds %q", err, n)
				}
			}
		})
	}
}

func TestOutcomeGood(t *testing.T) {
	for o, want := range map[Outcome]bool{Rotated: true, Synced: true, InSync: true, Planned: true,
		Drifted: false, Skipped: false, Failed: false, "": false} {
		if o.Good() != want {
			t.Errorf("%q.Good() = %v", o, !want)
		}
	}
}

func TestParseAction(t *testing.T) {
	tests := []struct {
		in      string
		want    Action
		wantErr bool
	}{
		{"", Rotate, false},
		{"rotate", Rotate, false},
		{"sync", Sync, false},
		{"check", Check, false},
		{"Rotate", "", true},
		{"ROTATE", "", true},
		{" rotate", "", true},
		{"delete", "", true},
		{strings.Repeat("x", 100), "", true},
	}
	for _, tc := range tests {
		got, err := ParseAction(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseAction(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && (!strings.Contains(err.Error(), "want rotate, sync or check") || len(err.Error()) > 100) {
			t.Errorf("ParseAction(%q) error %q", tc.in, err)
		}
	}
}
