package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const sentinel = "SENTINEL-KEY-c2VjcmV0LXNlY3JldC1zZWNyZXQ="

func TestKeyNeverPrints(t *testing.T) {
	k := New(sentinel)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("rotated", "key", k, "struct", struct{ K Key }{k})
	js, err := json.Marshal(struct{ K Key }{k})
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v", struct{ K Key }{k}), fmt.Sprintf("%+v", &struct{ K Key }{k}),
		fmt.Errorf("wrap: %w: %v", errors.New("x"), k).Error(),
		logs.String(), string(js),
	}
	for _, out := range outputs {
		if strings.Contains(out, sentinel) || strings.Contains(out, "SENTINEL") {
			t.Errorf("key leaked: %s", out)
		}
	}
	if k.Reveal() != sentinel {
		t.Fatal("Reveal lost the value")
	}
}

func TestFingerprint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		// sha256("abc") = ba7816bf8f01cfea414140de5dae2223...
		{"abc", "sha256:ba7816bf8f01cfea"},
	}
	for _, tc := range tests {
		if got := Fingerprint(tc.in); got != tc.want {
			t.Errorf("Fingerprint(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if New("abc").Fingerprint() != "sha256:ba7816bf8f01cfea" {
		t.Error("Key.Fingerprint differs from Fingerprint")
	}
}
