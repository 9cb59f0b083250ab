package emulator

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

// PolicyAction is the call as an access policy names it:
// "teo:RefreshMultiPathGatewaySecretKey" (CAM), "secretsmanager:PutSecretValue"
// (IAM).
func (c LoggedCall) PolicyAction() string {
	return c.Service + ":" + strings.TrimPrefix(c.Action, c.Service+".")
}

// LoggedCall is one entry of the call log: a call that counted in Calls,
// in the order the emulator dealt with it.
//
// The log never holds a key or secret value: Written carries fingerprints
// (secret.Fingerprint, "sha256:<16 hex>") only.
type LoggedCall struct {
	// Seq numbers the entries from 1 since New or the last ResetCounters.
	// An entry is appended when the call's work is done (or refused), before
	// the answer is written, so a call whose answer the client had before it
	// sent another call always has the smaller Seq. Calls that overlap in
	// time may appear in either order.
	Seq int `json:"seq"`
	// Action is the action as Calls and Performed count it, e.g.
	// "ModifyMultiPathGatewaySecretKey", "PutSecretValue",
	// "secretsmanager.PutSecretValue".
	Action string `json:"action"`
	// Service is the product the action belongs to: "teo", "ssm", "sts" or
	// "secretsmanager". Service and Action name what a role's policy must
	// grant.
	Service string `json:"service"`
	// Target is the ZoneId of a TEO call, the SecretName of an SSM call, the
	// SecretId (or the Name of CreateSecret) of an AWS call, as sent.
	Target string `json:"target,omitempty"`
	// Code is the error code the client was answered with, "" on success.
	// An After fault's call is Performed and has the fault's code; a dropped
	// connection is "dropped", a bare HTTP status "HTTP <status>".
	Code string `json:"code,omitempty"`
	// Performed says the action's work was done (see Emulator.Performed).
	Performed bool `json:"performed"`
	// Written holds the fingerprints of the key values a performed call
	// stored or made live: the SecretString of SSM CreateSecret,
	// PutSecretValue and UpdateSecret and of AWS CreateSecret and
	// PutSecretValue; the SecretKey of TEO Modify and Create (the generated
	// one when Create had none); the key TEO Refresh generated. SSM
	// SecretBinary writes are not fingerprinted.
	Written []string `json:"written,omitempty"`
	// Stage is, for a performed SSM write or DeleteSecretVersion, the
	// VersionId written or deleted; for AWS CreateSecret and PutSecretValue
	// the VersionStages the new version got (comma separated); for
	// UpdateSecretVersionStage the VersionStage moved or removed.
	Stage string `json:"stage,omitempty"`
}

// callRecord is what an action handler reports for the call log. A nil
// record ignores the reports.
type callRecord struct {
	written []string
	stage   string
}

// wrote notes that the call stored or made live the given values (empty
// ones are skipped) under stage.
func (r *callRecord) wrote(stage string, values ...string) {
	if r == nil {
		return
	}
	r.stage = stage
	for _, v := range values {
		if fp := secret.Fingerprint(v); fp != "" {
			r.written = append(r.written, fp)
		}
	}
}

// logCall appends an entry to the call log and returns it, to be completed
// with setLogCode. Only performed calls carry what the record says.
func (e *Emulator) logCall(ep *endpoint, target string, performed bool, rec *callRecord, code string) *LoggedCall {
	entry := &LoggedCall{Action: ep.action, Service: ep.service, Target: target, Code: code, Performed: performed}
	if performed && rec != nil {
		entry.Written = slices.Clone(rec.written)
		entry.Stage = rec.stage
	}
	e.mu.Lock()
	entry.Seq = len(e.callLog) + 1
	e.callLog = append(e.callLog, entry)
	e.mu.Unlock()
	return entry
}

// setLogCode changes the code of an entry (an After fault's answer).
func (e *Emulator) setLogCode(entry *LoggedCall, code string) {
	if entry == nil {
		return
	}
	e.mu.Lock()
	entry.Code = code
	e.mu.Unlock()
}

// CallLog returns a copy of the call log: every call that counted in
// Calls since New or the last ResetCounters, in order.
func (e *Emulator) CallLog() []LoggedCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]LoggedCall, len(e.callLog))
	for i, c := range e.callLog {
		out[i] = *c
		out[i].Written = slices.Clone(c.Written)
	}
	return out
}

// durableWrites are the actions whose Written values are in a durable sink.
var durableWrites = map[string]bool{
	"CreateSecret":                  true,
	"PutSecretValue":                true,
	"UpdateSecret":                  true,
	"secretsmanager.CreateSecret":   true,
	"secretsmanager.PutSecretValue": true,
}

// liveKeyActions are the TEO actions that make a key live.
var liveKeyActions = map[string]bool{
	"CreateMultiPathGatewaySecretKey":  true,
	"ModifyMultiPathGatewaySecretKey":  true,
	"RefreshMultiPathGatewaySecretKey": true,
}

// errKeyNotStoredFirst is wrapped by the errors of checkLiveKeysStoredFirst.
var errKeyNotStoredFirst = errors.New("a key was made live before it was stored in a durable sink")

// LiveKeysStoredFirst checks the call log for the ordering property of the
// staged rotation mode: every key a performed TEO Create, Modify or Refresh
// made live had been written, by an earlier performed SSM or AWS write
// (CreateSecret, PutSecretValue, UpdateSecret; secretsmanager.CreateSecret,
// secretsmanager.PutSecretValue) to any secret, before that call. It
// returns nil if so, otherwise an error naming the first offending call by
// Seq, action, zone and fingerprint.
//
// A Refresh always fails the check: its key did not exist before the call.
// Keys planted with SetKey or secrets seeded with PutSecret are not calls
// and do not count.
func (e *Emulator) LiveKeysStoredFirst() error {
	return checkLiveKeysStoredFirst(e.CallLog())
}

// checkLiveKeysStoredFirst is LiveKeysStoredFirst on a given log (e.g. a
// slice of CallLog).
func checkLiveKeysStoredFirst(log []LoggedCall) error {
	stored := map[string]bool{}
	for _, c := range log {
		if !c.Performed {
			continue
		}
		if durableWrites[c.Action] {
			for _, fp := range c.Written {
				stored[fp] = true
			}
			continue
		}
		if !liveKeyActions[c.Action] {
			continue
		}
		for _, fp := range c.Written {
			if !stored[fp] {
				return fmt.Errorf("%w: call %d, %s on zone %s made key %s live, which no earlier SSM or AWS write had stored",
					errKeyNotStoredFirst, c.Seq, c.Action, c.Target, fp)
			}
		}
	}
	return nil
}

// faultCode is the code an answering fault will be logged with; false for
// a delay-only fault, which lets the call proceed.
func faultCode(f Fault) (string, bool) {
	switch {
	case f.Drop:
		return "dropped", true
	case f.HTTPStatus != 0:
		return fmt.Sprintf("HTTP %d", f.HTTPStatus), true
	case f.Code != "":
		return f.Code, true
	}
	return "", false
}
