package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
)

func isString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

// unknownKey returns the first key of obj (in sorted order, so errors are
// stable) that is not in allowed.
func unknownKey[V any](obj map[string]V, allowed []string) (string, bool) {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(allowed, k) {
			return k, true
		}
	}
	return "", false
}

// decodeString decodes a member that must be a JSON string. json.Unmarshal
// alone would turn null into "" silently.
func decodeString(raw json.RawMessage) (string, bool) {
	var s string
	if !isString(raw) || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// decodeBool decodes a member that must be true or false.
func decodeBool(raw json.RawMessage) (bool, bool) {
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// DecodeAction decodes an "action" member: one of rotate.Actions(). It is
// what an HTTP body names to bind a signed request to its route.
func DecodeAction(raw json.RawMessage) (rotate.Action, error) { return validAction(raw) }

// validAction checks an explicit action. An empty string is refused: a
// payload that names the field but not an action is a mistake, not a
// request to rotate.
func validAction(raw json.RawMessage) (rotate.Action, error) {
	a, ok := decodeString(raw)
	switch {
	case !ok:
		return "", errors.New(`"action" must be a string: rotate, sync or check`)
	case rotate.Action(a).Valid():
		return rotate.Action(a), nil
	}
	return "", fmt.Errorf(`unknown action %q (want rotate, sync or check)`, excerpt.Of(a, 64))
}

// DecodeZones decodes a "zones" member: a non-empty JSON list of zone ids,
// returned in order without duplicates. An empty list is refused rather
// than read as "all zones", which is what leaving the member out means.
func DecodeZones(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var list []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, errors.New(`"zones" must be a list of zone ids`)
	}
	if len(list) == 0 {
		return nil, errors.New(`"zones" is empty; leave it out to mean every zone`)
	}
	zones := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, item := range list {
		z, ok := decodeString(item)
		if !ok {
			return nil, errors.New(`"zones" must be a list of zone ids (strings)`)
		}
		if err := config.CheckZoneID(z); err != nil {
			return nil, err
		}
		if !seen[z] {
			seen[z] = true
			zones = append(zones, z)
		}
	}
	return zones, nil
}
