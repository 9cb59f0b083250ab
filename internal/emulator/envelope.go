package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error answer of either protocol: its Code is the Tencent
// Cloud error code or the AWS error type. Handlers return it as an error;
// anything else that reaches a writer is the protocol's internal error.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// apiErrorf builds an apiError. Callers must never format a key, secret
// value, token or signature into the message.
func apiErrorf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func missingParameter(name string) *apiError {
	return apiErrorf("MissingParameter", "The request is missing a required parameter `%s`.", name)
}

// result holds the output fields of a successful action; RequestId is added
// when it is written.
type result map[string]any

func writeResult(w http.ResponseWriter, requestID string, res result) {
	body := make(map[string]any, len(res)+1)
	for k, v := range res {
		body[k] = v
	}
	body["RequestId"] = requestID
	writeEnvelope(w, body)
}

// writeError answers ae in the error envelope.
func writeError(w http.ResponseWriter, requestID string, ae *apiError) {
	writeEnvelope(w, map[string]any{
		"Error":     map[string]string{"Code": ae.Code, "Message": ae.Message},
		"RequestId": requestID,
	})
}

// writeEnvelope answers with HTTP 200 whatever the outcome, like the real
// service: the SDK looks for Response.Error before it looks at the status.
func writeEnvelope(w http.ResponseWriter, response map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]any{"Response": response})
}
