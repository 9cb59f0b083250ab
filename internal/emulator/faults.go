package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Phase says when an injected fault strikes.
type Phase int

const (
	// Before fails the call before any work is done: nothing changes.
	Before Phase = iota
	// After does the work and commits it, then fails the call: the answer
	// is lost, as with a dropped connection or a gateway timeout on the way
	// back. The fault replaces whatever the call produced, error or not.
	After
)

func (p Phase) String() string {
	switch p {
	case Before:
		return "before"
	case After:
		return "after"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// UnmarshalText accepts "before" and "after", in any case (the control
// surface's JSON).
func (p *Phase) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "before":
		*p = Before
	case "after":
		*p = After
	default:
		return errors.New(`phase must be "before" or "after"`)
	}
	return nil
}

// Fault makes matching calls misbehave. Faults are checked after
// authentication (a fault never hides an auth failure) and after the action
// and the body are validated as JSON, and before the rate limiter: a Before
// fault does not use up a rate-limit token, an After fault's call goes
// through the limiter like any other. Of Drop, HTTPStatus and Code the first
// set wins; a fault with only a Delay slows the call down and lets it
// proceed.
type Fault struct {
	Action     string        // required, e.g. "RefreshMultiPathGatewaySecretKey" or "secretsmanager.PutSecretValue"
	Target     string        // optional: only calls whose ZoneId or SecretName (AWS: SecretId, or Name) equals this
	Phase      Phase         // Before (zero value) or After
	Code       string        // answer with this error code in the normal envelope (AWS actions: this error type in the AWS JSON format)
	Message    string        // defaults to a realistic text for Code
	Drop       bool          // close the TCP connection without an answer
	Delay      time.Duration // wait this long first; a client that gives up ends the wait
	HTTPStatus int           // answer with this bare status and a non-JSON body, as a proxy would
	Times      int           // strike this many matching calls, then disappear; 0 = every matching call
}

func (f Fault) validate(endpoints map[string]*endpoint) error {
	switch {
	case f.Action == "":
		return errors.New("fault: Action is required")
	case endpoints[f.Action] == nil:
		return fmt.Errorf("fault: unknown action %q", f.Action)
	case f.Phase != Before && f.Phase != After:
		return fmt.Errorf("fault: invalid phase %d", int(f.Phase))
	case f.Times < 0:
		return errors.New("fault: Times must not be negative")
	case f.Delay < 0:
		return errors.New("fault: Delay must not be negative")
	case f.HTTPStatus != 0 && (f.HTTPStatus < 100 || f.HTTPStatus > 599):
		return fmt.Errorf("fault: invalid HTTPStatus %d", f.HTTPStatus)
	case !f.Drop && f.HTTPStatus == 0 && f.Code == "" && f.Delay == 0:
		return errors.New("fault: set at least one of Code, Drop, HTTPStatus and Delay")
	}
	return nil
}

type activeFault struct {
	Fault
	remaining int // for Times > 0
}

// Inject adds a fault and returns a function that removes it (harmless to
// call after the fault has run out). A call meets at most one fault: the
// earliest injected that matches. Inject panics if the fault is invalid (no or
// unknown Action, nothing to do): that is a bug in the test or script.
func (e *Emulator) Inject(f Fault) (remove func()) {
	if err := f.validate(e.endpoints); err != nil {
		panic("emulator: " + err.Error())
	}
	af := &activeFault{Fault: f, remaining: f.Times}
	e.mu.Lock()
	e.faults = append(e.faults, af)
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.faults = slices.DeleteFunc(e.faults, func(x *activeFault) bool { return x == af })
	}
}

// ClearFaults removes every injected fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	e.faults = nil
	e.mu.Unlock()
}

// takeFault returns the first fault matching the call and counts the call
// against its Times.
func (e *Emulator) takeFault(action, target string) (Fault, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, af := range e.faults {
		if af.Action != action || (af.Target != "" && af.Target != target) {
			continue
		}
		if af.Times > 0 {
			af.remaining--
			if af.remaining == 0 {
				e.faults = slices.Delete(e.faults, i, i+1)
			}
		}
		return af.Fault, true
	}
	return Fault{}, false
}

// applyFault waits out the fault's delay and answers as the fault says. It
// reports the code to log and whether it answered; a delay-only fault does
// not; a Code fault answers in the format of pr. If the client leaves or
// the emulator closes during the delay, the connection is dropped.
func (e *Emulator) applyFault(w http.ResponseWriter, r *http.Request, requestID string, pr *protocol, f Fault) (string, bool) {
	if !e.sleep(r.Context(), f.Delay) {
		dropConnection(w)
		return "canceled", true
	}
	code, _ := faultCode(f)
	switch {
	case f.Drop:
		dropConnection(w)
		return code, true
	case f.HTTPStatus != 0:
		writeProxyError(w, f.HTTPStatus)
		return code, true
	case f.Code != "":
		msg := f.Message
		if msg == "" {
			msg = defaultMessage(f.Code)
		}
		pr.writeError(w, requestID, &apiError{Code: f.Code, Message: msg})
		return f.Code, true
	}
	return "", false
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// HTTP/2 streams cannot be hijacked; this panic makes net/http reset
	// the stream (and is not logged as a crash).
	panic(http.ErrAbortHandler)
}

// writeProxyError answers like a reverse proxy in front of the API would:
// a bare status with an HTML page, no envelope.
func writeProxyError(w http.ResponseWriter, status int) {
	text := fmt.Sprintf("%d %s", status, http.StatusText(status))
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", text, text)
}

var defaultMessages = map[string]string{
	"InternalError":        "An internal error has occurred. Retry your request, but if the problem persists, contact us.",
	"ServiceUnavailable":   "The service is temporarily unavailable. Please try again later.",
	"RequestLimitExceeded": "Your request rate exceeds the frequency limit. Please reduce the frequency of calls.",
	"FailedOperation":      "The operation failed.",
	"OperationDenied":      "The operation was denied.",
	"ResourceUnavailable":  "The resource is unavailable.",
	"LimitExceeded":        "A quota limit was exceeded.",

	"InternalServiceError": "An error occurred on the server side.",
	"ThrottlingException":  "Rate exceeded",
}

// defaultMessage is the Message of a fault that did not set one.
func defaultMessage(code string) string {
	family, _, _ := strings.Cut(code, ".")
	if m, ok := defaultMessages[code]; ok {
		return m
	}
	if m, ok := defaultMessages[family]; ok {
		return m
	}
	return "The request failed (" + code + ")."
}
