package excerpt

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOf(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 8, "short"},
		{"exactly8", 8, "exactly8"},
		{"longer than eight", 8, "longer t…"},
		{"日本語", 4, "日…"}, // 3-byte runes: cut back to a boundary
		{"", 0, ""},
		{strings.Repeat("a", 63) + "é" + strings.Repeat("b", 10), 64, strings.Repeat("a", 63) + "…"},
	}
	for _, tc := range tests {
		got := Of(tc.in, tc.max)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Of(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
