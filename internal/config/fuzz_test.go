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

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"teo.tencentcloudapi.com", "http://127.0.0.1:8080", "https://x/", "http://10.0.0.1", "[::1]:9", "a:b:c", "%zz", "https://u@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := ParseEndpoint(in)
		if err != nil {
			return
		}
		if e.Scheme != "https" && e.Scheme != "http" || e.Host == "" || strings.ContainsAny(e.Host, "/?#@ ") {
			t.Fatalf("ParseEndpoint(%q) = %+v", in, e)
		}
		// What it accepts, it accepts again, unchanged: no http to the
		// outside world can sneak through a second parse.
		again, err := ParseEndpoint(e.URL())
		if err != nil || again != e {
			t.Fatalf("not stable: %+v -> %+v, %v", e, again, err)
		}
	})
}
