package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
)

// TimerEvent is an SCF timer event, with the fields of scf-go-lib's
// events.TimerEvent. timerEvent reads it from the members of exactly these
// names, where encoding/json would also take "time" for Time.
type TimerEvent struct {
	Type        string `json:"Type"`
	TriggerName string `json:"TriggerName"`
	Time        string `json:"Time"`
	// Message is the trigger's free text: empty, a note, or
	// {"action":..,"zones":[..]} (see parseMessage).
	Message string `json:"Message"`
}

// timerEvent reads the members of a payload detect called a timer.
func timerEvent(top object) (TimerEvent, error) {
	const shape = string(Timer)
	e := TimerEvent{Type: top["Type"].string(), TriggerName: top["TriggerName"].string(), Time: top["Time"].string()}
	if e.TriggerName == "" {
		return TimerEvent{}, shapeError(shape, "TriggerName is missing")
	}
	if e.Time == "" {
		return TimerEvent{}, shapeError(shape, "Time is missing")
	}
	if m, present := top["Message"]; present && !m.null() {
		if !m.isStr {
			return TimerEvent{}, shapeError(shape, "Message must be a string")
		}
		e.Message = m.str
	}
	return e, nil
}

func parseTimer(top object) (Event, error) {
	e, err := timerEvent(top)
	if err != nil {
		return Event{}, err
	}
	ev, err := parseMessage(e.Message)
	if err != nil {
		return Event{}, shapeError(string(Timer), "Message: %v", err)
	}
	ev.Kind = Timer
	// TriggerName and Time are what a platform retry repeats and the next
	// firing does not.
	ev.RotationID = "timer:" + e.TriggerName + ":" + e.Time
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
		for _, a := range rotate.Actions() {
			if a != rotate.Rotate && strings.EqualFold(msg, string(a)) {
				return Event{}, fmt.Errorf(`%q would be read as a note (= rotate); write {"action":%q} to ask for it`, msg, strings.ToLower(msg))
			}
		}
		return Event{}, nil
	}
	// The Message is a string inside the event: the payload's own scan
	// does not see into it.
	v, dup, err := scan([]byte(msg))
	if err != nil {
		return Event{}, errors.New(`not valid JSON; want {"action":..,"zones":[..]}`)
	}
	if dup != nil {
		return Event{}, duplicateError(*dup)
	}
	if key, ok := unknownKey(v.members, messageKeys); ok {
		return Event{}, fmt.Errorf("unknown member %q (want action, zones)", excerpt.Of(key, 64))
	}
	return actionAndZones(v.members)
}

// actionAndZones reads the optional "action" and "zones" members shared by
// timer Messages and direct invokes.
func actionAndZones(obj object) (Event, error) {
	var ev Event
	var err error
	if m, ok := obj["action"]; ok {
		if ev.Action, err = validAction(m.raw); err != nil {
			return Event{}, err
		}
	}
	if m, ok := obj["zones"]; ok {
		if ev.Zones, err = DecodeZones(m.raw); err != nil {
			return Event{}, err
		}
	}
	return ev, nil
}

// parseSchedule reads an EventBridge "Scheduled Event" (a timer with an
// empty message) into aws-lambda-go's type.
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

// DirectInvoke is the payload of a direct invocation. detect has checked
// that it has no other members, so none can differ from these names only
// in case; directInvoke reads them itself because encoding/json would read
// a null as if the member were absent.
type DirectInvoke struct {
	Action     rotate.Action `json:"action,omitempty"` // "" = rotate
	Zones      []string      `json:"zones,omitempty"`  // nil = all
	RotationID string        `json:"rotationId,omitempty"`
	DryRun     bool          `json:"dryRun,omitempty"`
}

// directKeys are the members a direct invoke may have; an object with any
// other key is no shape we know.
var directKeys = []string{"action", "zones", "rotationId", "dryRun"}

func directInvoke(top object) (DirectInvoke, error) {
	const shape = string(Direct)
	ev, err := actionAndZones(top)
	if err != nil {
		return DirectInvoke{}, shapeError(shape, "%v", err)
	}
	e := DirectInvoke{Action: ev.Action, Zones: ev.Zones}
	if m, present := top["rotationId"]; present {
		if !m.isStr {
			return DirectInvoke{}, shapeError(shape, `"rotationId" must be a string`)
		}
		e.RotationID = m.str
	}
	if m, present := top["dryRun"]; present {
		var ok bool
		if e.DryRun, ok = decodeBool(m.raw); !ok {
			return DirectInvoke{}, shapeError(shape, `"dryRun" must be true or false`)
		}
	}
	if e.DryRun && e.Action != "" && e.Action != rotate.Rotate {
		// sync would write anyway while its report said dry run.
		return DirectInvoke{}, shapeError(shape, `"dryRun" is for rotate only: %s has no dry run (check is already read-only); leave dryRun out`, e.Action)
	}
	return e, nil
}

func parseDirect(top object) (Event, error) {
	e, err := directInvoke(top)
	if err != nil {
		return Event{}, err
	}
	return Event{Kind: Direct, Action: e.Action, Zones: e.Zones, RotationID: e.RotationID, DryRun: e.DryRun}, nil
}
