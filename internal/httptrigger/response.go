package httptrigger

import (
	"encoding/json"
	"maps"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/event"
)

// ErrorBody is the JSON body of an error answer:
// {"ok":false,"status":N,"error":"..."}.
func ErrorBody(status int, msg string) []byte {
	b, _ := json.Marshal(struct { // a struct of an int and strings always encodes
		OK     bool   `json:"ok"`
		Status int    `json:"status"`
		Error  string `json:"error"`
	}{false, status, msg})
	return b
}

// Respond wraps a JSON body in the integration response every HTTP shape
// accepts.
func Respond(status int, body []byte) event.Response {
	return event.Response{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}
}

// Refusal is the answer to a refused request: the error body and the
// headers its status calls for (d.Headers: Allow, WWW-Authenticate).
func Refusal(d Decision) event.Response {
	r := Respond(d.Status, ErrorBody(d.Status, d.Message))
	maps.Copy(r.Headers, d.Headers)
	return r
}
