package httptrigger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
)

// hmacSig is the Standard Webhooks v1 signature computed here, not by the
// library, so the fuzz oracle does not share the code it checks.
func hmacSig(t *testing.T, sec, id string, ts int64, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sec, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// FuzzSignedRequest sends Decide arbitrary webhook-* headers and bodies
// (seed corpus in testdata/fuzz/FuzzSignedRequest). mode chooses what is
// added to the fuzzed webhook-signature: nothing, the right signature, or
// one made with another secret. A request is let past authentication only
// if its id is set, its timestamp is within stdwebhook.Tolerance and one of
// its signatures is the HMAC of id.timestamp.body under TRIGGER_SECRET; a
// request that is so signed always is; no message holds the secret or the
// signature.
func FuzzSignedRequest(f *testing.F) {
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, s := range []struct {
		id, ts, sig, body string
		mode              uint8
	}{
		{"msg_1", ts, "", `{"zones":["zone-a"]}`, 1},
		{"msg_1", ts, "v1,AAAA", "", 1},
		{"msg_1", ts, "", "", 2},
		{"msg_1", ts, "", "{}", 3},
		{"msg_1", ts, "v1,x v2,y", "{}", 0},
		{"", ts, "", "{}", 1},
		{"msg_1", "+" + ts, "", "{}", 1},
		{"msg_1", "0" + ts, "", "{}", 1},
		{"msg_1", strconv.FormatInt(now.Unix()+301, 10), "", "{}", 1},
		{"msg_1", strconv.FormatInt(now.Unix()-300, 10), "", "{}", 1},
		{"msg_1", "-9223372036854775808", "", "{}", 1},
		{"msg_1", "1e9", "", "{}", 1},
		{"a.b", ts, "v1,", "1700000000.{}", 0},
		{"msg_1", ts, "v1,,v1", "\x00\xff", 0},
	} {
		f.Add(s.id, s.ts, s.sig, []byte(s.body), s.mode)
	}
	cfg := Config{Secret: secret, Allowed: allowed, Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, id, tsHeader, sigHeader string, body []byte, mode uint8) {
		sec, tsErr := strconv.ParseInt(tsHeader, 10, 64)
		good := hmacSig(t, secret, id, sec, body)
		switch mode % 4 {
		case 1:
			sigHeader = strings.TrimSpace(sigHeader + " " + good)
		case 2:
			sigHeader = strings.TrimSpace(sigHeader + " " + hmacSig(t, other, id, sec, body))
		case 3:
			sigHeader = good
		}
		h := http.Header{}
		h.Set(standardwebhooks.HeaderWebhookID, id)
		h.Set(standardwebhooks.HeaderWebhookTimestamp, tsHeader)
		h.Set(standardwebhooks.HeaderWebhookSignature, sigHeader)
		r := request(http.MethodPost, "/rotate", string(body), h)

		d := cfg.Decide(r)
		passed := d.Status != http.StatusUnauthorized && d.Status != http.StatusRequestEntityTooLarge
		inTime := tsErr == nil && sec >= now.Add(-stdwebhook.Tolerance).Unix() && sec <= now.Add(stdwebhook.Tolerance).Unix()
		signedRight := false
		for _, s := range strings.Split(sigHeader, " ") {
			signedRight = signedRight || s == good
		}
		if passed && !(id != "" && inTime && signedRight) {
			t.Fatalf("accepted id %q timestamp %q signature %q: %+v", id, tsHeader, sigHeader, d)
		}
		if passed && d.RotationID != id {
			t.Fatalf("RotationID %q, want the webhook-id %q", d.RotationID, id)
		}
		if !passed && id != "" && inTime && mode%4 == 3 && len(body) <= MaxBody {
			t.Fatalf("refused a correctly signed request: id %q timestamp %q: %+v", id, tsHeader, d)
		}
		if d.Status == http.StatusUnauthorized && d.Message != msgUnauthorized {
			t.Fatalf("401 message %q", d.Message)
		}
		for _, leak := range []string{secret, strings.TrimPrefix(secret, "whsec_"), strings.TrimPrefix(good, "v1,")} {
			if strings.Contains(d.Message, leak) {
				t.Fatalf("message %q holds a credential", d.Message)
			}
		}
	})
}
