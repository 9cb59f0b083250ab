package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// apiError is an answer in the error envelope. Handlers return it as an
// error; anything else that reaches the writer is an InternalError.
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

// writeError answers err in the error envelope and returns the code it used.
func writeError(w http.ResponseWriter, requestID string, err error) string {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{Code: "InternalError", Message: "An internal error has occurred."}
	}
	writeEnvelope(w, map[string]any{
		"Error":     map[string]string{"Code": ae.Code, "Message": ae.Message},
		"RequestId": requestID,
	})
	return ae.Code
}

// writeEnvelope answers with HTTP 200 whatever the outcome, like the real
// service: the SDK looks for Response.Error before it looks at the status.
func writeEnvelope(w http.ResponseWriter, response map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]any{"Response": response})
}
