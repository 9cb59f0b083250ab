package config

import (
	"strings"
	"testing"
)

func FuzzParseZones(f *testing.F) {
	for _, s := range []string{"zone-abc123", "zone-a, zone-b\tzone-c", " , ,", "zone-A", "zone-a,zone-a", "zone-\x00", "zone-日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		zones, err := ParseZones(in)
		if err != nil {
			return
		}
		if len(zones) == 0 {
			t.Fatal("no error and no zones")
		}
		seen := map[string]bool{}
		for _, z := range zones {
			if !ValidZoneID(z) || seen[z] || !strings.Contains(in, z) {
				t.Fatalf("bad zone %q from %q", z, in)
			}
			seen[z] = true
		}
		again, err := ParseZones(strings.Join(zones, ","))
		if err != nil || strings.Join(again, ",") != strings.Join(zones, ",") {
			t.Fatalf("not stable: %v -> %v, %v", zones, again, err)
		}
	})
}
