package awssm_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/awssm"
)

// TestRefusalQuotingTheKey: an AWS answer whose message quotes the
// SecretString sent (a service may echo a bad parameter; this one refuses
// every write of a value) never brings
// the key into the error, whichever call wrote it: the Fresh delivery's
// PutSecretValue, CreateSecret, or the staged PutSecretValue.
func TestRefusalQuotingTheKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p struct{ SecretString string }
		_ = json.Unmarshal(b, &p)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if p.SecretString == "" { // the record's TagResource, say
			_, _ = io.WriteString(w, `{}`)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"InvalidParameterException","message":"bad value `+p.SecretString+` for SecretString"}`)
	}))
	defer srv.Close()
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": srv.URL}
	api, err := awssm.NewAPI(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := awssm.New(api, "s-{zone}")
	s.Retry = retry.Policy{Attempts: 1}
	key := secret.New("TOPSECRETKEYVALUE0123456789abcdef")
	ctx := context.Background()
	calls := map[string]error{}
	_, calls["deliver (fresh)"] = s.Deliver(ctx, sink.Delivery{ZoneID: "zone-a", Key: key, Fresh: true})
	calls["stage"] = s.Stage(ctx, "zone-a", sink.Holding{Exists: true}, sink.Record{RotationID: "r"}, key, key)
	calls["begin (create)"] = s.Begin(ctx, "zone-a", sink.Holding{}, sink.Record{RotationID: "r"}, key)
	for name, err := range calls {
		if err == nil {
			t.Errorf("%s: no error from a refusing server", name)
			continue
		}
		if strings.Contains(err.Error(), key.Reveal()) {
			t.Errorf("%s: the key is in the error: %v", name, err)
		}
		if !strings.Contains(err.Error(), "InvalidParameterException") || !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("%s: %v, want the code and the message with the key cut out", name, err)
		}
	}
}
