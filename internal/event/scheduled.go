package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
)

// parseTimer reads an SCF timer event:
// {"Type":"Timer","TriggerName":..,"Time":..,"Message":..}.
func parseTimer(obj map[string]json.RawMessage) (Event, error) {
	const shape = string(Timer)
	name, ok := decodeString(obj["TriggerName"])
	if !ok || name == "" {
		return Event{}, shapeError(shape, "TriggerName is missing")
	}
	at, ok := decodeString(obj["Time"])
	if !ok || at == "" {
		return Event{}, shapeError(shape, "Time is missing")
	}
	var msg string
	if raw, present := obj["Message"]; present && string(bytes.TrimSpace(raw)) != "null" {
		if msg, ok = decodeString(raw); !ok {
			return Event{}, shapeError(shape, "Message must be a string")
		}
	}
	ev, err := parseMessage(msg)
	if err != nil {
		return Event{}, shapeError(shape, "Message: %v", err)
	}
	ev.Kind = Timer
	// TriggerName and Time are what a platform retry repeats and the next
	// firing does not.
	ev.RotationID = "timer:" + name + ":" + at
	return ev, nil
}

// messageKeys are the members a timer Message may have.
var messageKeys = []string{"action", "zones"}

// parseMessage reads a timer Message. Empty, or a note such as
// "scheduled", means rotate every zone. Text that looks like JSON must be
// exactly {"action":..,"zones":[..]}: a typo in a deploy file must fail
// loudly, not rotate everything.
func parseMessage(msg string) (Event, error) {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return Event{}, nil
	}
	switch msg[0] {
	case '{':
	case '[':
		return Event{}, errors.New(`want a JSON object {"action":..,"zones":[..]}, not a list`)
	default:
		// A note naming a read-only or non-rotating action surely meant
		// it; rotating instead would do the opposite of what was asked.
		for _, a := range rotate.Actions {
			if a != rotate.Rotate && strings.EqualFold(msg, string(a)) {
				return Event{}, fmt.Errorf(`%q would be read as a note (= rotate); write {"action":%q} to ask for it`, msg, strings.ToLower(msg))
			}
		}
		return Event{}, nil
	}
	obj, ok := decodeObject([]byte(msg))
	if !ok {
		return Event{}, errors.New(`not valid JSON; want {"action":..,"zones":[..]}`)
	}
	// The Message is a string inside the event: the payload's own check
	// does not see into it.
	if name, dup := DuplicateMember([]byte(msg)); dup {
		return Event{}, duplicateError(name)
	}
	if key, ok := unknownKey(obj, messageKeys); ok {
		return Event{}, fmt.Errorf("unknown member %q (want action, zones)", excerpt.Of(key, 64))
	}
	return actionAndZones(obj)
}

// actionAndZones reads the optional "action" and "zones" members shared by
// timer Messages and direct invokes.
func actionAndZones(obj map[string]json.RawMessage) (Event, error) {
	var ev Event
	var err error
	if raw, ok := obj["action"]; ok {
		if ev.Action, err = validAction(raw); err != nil {
			return Event{}, err
		}
	}
	if raw, ok := obj["zones"]; ok {
		if ev.Zones, err = DecodeZones(raw); err != nil {
			return Event{}, err
		}
	}
	return ev, nil
}

// parseSchedule reads an EventBridge "Scheduled Event" (a timer with an
// empty message) into aws-lambda-go's type; Parse has recognised it by its
// source and detail-type.
func parseSchedule(payload []byte) (Event, error) {
	const shape = string(Schedule)
	var e events.EventBridgeEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return Event{}, shapeError(shape, "%s", fieldError(err))
	}
	if e.ID == "" {
		return Event{}, shapeError(shape, "id is missing")
	}
	// The id is what an EventBridge retry of one firing repeats.
	return Event{Kind: Schedule, RotationID: "schedule:" + e.ID}, nil
}

// directKeys are the members a direct invoke may have; an object with any
// other key is no shape we know.
var directKeys = []string{"action", "zones", "rotationId", "dryRun"}

// parseDirect reads a direct invoke; Parse has checked its keys.
func parseDirect(obj map[string]json.RawMessage) (Event, error) {
	const shape = string(Direct)
	ev, err := actionAndZones(obj)
	if err != nil {
		return Event{}, shapeError(shape, "%v", err)
	}
	ev.Kind = Direct
	var ok bool
	if raw, present := obj["rotationId"]; present {
		if ev.RotationID, ok = decodeString(raw); !ok {
			return Event{}, shapeError(shape, `"rotationId" must be a string`)
		}
	}
	if raw, present := obj["dryRun"]; present {
		if ev.DryRun, ok = decodeBool(raw); !ok {
			return Event{}, shapeError(shape, `"dryRun" must be true or false`)
		}
	}
	if ev.DryRun && ev.Action != "" && ev.Action != rotate.Rotate {
		// sync would write anyway while its report said dry run.
		return Event{}, shapeError(shape, `"dryRun" is for rotate only: %s has no dry run (check is already read-only); leave dryRun out`, ev.Action)
	}
	return ev, nil
}
