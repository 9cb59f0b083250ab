package stdwebhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const (
	vectorSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	otherSecret  = "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
)

func mustParse(t *testing.T, s string) *Secret {
	t.Helper()
	sec, err := ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// TestSignVector: the reference vector of standard-webhooks.md §2 (id
// msg_test, timestamp 1700000000).
func TestSignVector(t *testing.T) {
	h := http.Header{}
	if err := mustParse(t, vectorSecret).Sign(h, "msg_test", time.Unix(1700000000, 0), []byte(`{"type":"teo.key.rotated"}`)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"webhook-id":        "msg_test",
		"webhook-timestamp": "1700000000",
		"webhook-signature": "v1,HxAwo+xLPF6SxaFPWNN33QX8IH60bs+7K4gT6pERRFY=",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if err := CheckSecret(a); err != nil || a == b {
		t.Errorf("NewSecret: %v (twice the same: %v)", err, a == b)
	}
}

func TestParseSecret(t *testing.T) {
	for _, tt := range []struct {
		secret string
		ok     bool
	}{
		{vectorSecret, true},
		{strings.TrimPrefix(vectorSecret, "whsec_"), true}, // what other libraries accept
		{"whsec_AAEC", true}, // short: CheckSecret's concern
		{"", false},
		{"whsec_", false}, // an empty key would make every signature forgeable
		{"whsec_not*base64!", false},
	} {
		_, err := ParseSecret(tt.secret)
		if (err == nil) != tt.ok {
			t.Errorf("ParseSecret(%q): err %v, want ok %v", tt.secret, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrSecret) {
			t.Errorf("ParseSecret(%q): err %v is not ErrSecret", tt.secret, err)
		}
	}
}

func TestCheckSecret(t *testing.T) {
	key := func(n int) string { return "whsec_" + strings.Repeat("AAAA", n/3) }
	for _, tt := range []struct {
		secret string
		want   string // "" = accepted
	}{
		{vectorSecret, ""},
		{key(24), ""},
		{key(63), ""},
		{key(21), "decodes to 21 bytes; want 24 to 64"},
		{key(66), "decodes to 66 bytes; want 24 to 64"},
		{strings.TrimPrefix(vectorSecret, "whsec_"), "whsec_ followed by base64"},
		{"whsec_@@@", "not valid base64"},
		{"", "whsec_ followed by base64"},
	} {
		err := CheckSecret(tt.secret)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckSecret(%.12q…): %v", tt.secret, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckSecret(%.12q…) = %v, want %q", tt.secret, err, tt.want)
		case err != nil && len(tt.secret) > len("whsec_") && strings.Contains(err.Error(), strings.TrimPrefix(tt.secret, "whsec_")):
			t.Errorf("CheckSecret's error quotes the secret: %v", err)
		}
	}
}

// TestVerify: the tolerance is inclusive and governed by the now given;
// errors come in the library's order and are the library's errors.
func TestVerify(t *testing.T) {
	sec := mustParse(t, vectorSecret)
	now := time.Unix(1700000000, 0)
	body := []byte(`{"type":"x"}`)
	signed := func(s *Secret, at time.Time) http.Header {
		h := http.Header{}
		if err := s.Sign(h, "msg_1", at, body); err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, tt := range []struct {
		name string
		h    http.Header
		body []byte
		want error // nil = verified
	}{
		{"valid", signed(sec, now), body, nil},
		{"at the past tolerance", signed(sec, now.Add(-Tolerance)), body, nil},
		{"at the future tolerance", signed(sec, now.Add(Tolerance)), body, nil},
		{"too old", signed(sec, now.Add(-Tolerance-time.Second)), body, standardwebhooks.ErrMessageTooOld},
		{"too new", signed(sec, now.Add(Tolerance+time.Second)), body, standardwebhooks.ErrMessageTooNew},
		{"too old and wrong key: time first", signed(mustParse(t, otherSecret), now.Add(-time.Hour)), body, standardwebhooks.ErrMessageTooOld},
		{"other key", signed(mustParse(t, otherSecret), now), body, standardwebhooks.ErrNoMatchingSignature},
		{"body changed", signed(sec, now), []byte(`{"type":"y"}`), standardwebhooks.ErrNoMatchingSignature},
		{"unsigned", http.Header{}, body, standardwebhooks.ErrRequiredHeaders},
		{"timestamp not a number", func() http.Header {
			h := signed(sec, now)
			h.Set(HeaderTimestamp, "soon")
			return h
		}(), body, standardwebhooks.ErrInvalidHeaders},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, err := sec.Verify(tt.body, tt.h, now)
			if tt.want == nil {
				if err != nil || id != "msg_1" {
					t.Fatalf("Verify = %q, %v", id, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || id != "" {
				t.Fatalf("Verify = %q, %v; want %v", id, err, tt.want)
			}
		})
	}
}

// TestVerifyMatchesLibrary: at the wall clock, Verify says what the
// library's own Verify says, message included (the receiver answers it).
func TestVerifyMatchesLibrary(t *testing.T) {
	lib, err := standardwebhooks.NewWebhook(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	sec := mustParse(t, vectorSecret)
	body := []byte(`{"type":"x"}`)
	for _, at := range []time.Time{time.Now(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour)} {
		h := http.Header{}
		if err := sec.Sign(h, "msg_1", at, body); err != nil {
			t.Fatal(err)
		}
		want := lib.Verify(body, h)
		_, got := sec.Verify(body, h, time.Now())
		if (want == nil) != (got == nil) || (want != nil && want.Error() != got.Error()) {
			t.Errorf("at %v: Verify = %v, library %v", at, got, want)
		}
	}
}
