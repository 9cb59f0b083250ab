package emulator

import (
	"bytes"
	"encoding/json"
)

// params are the action parameters of a request body. Values stay raw until
// an action asks for them, so that a parameter of the wrong JSON type is an
// InvalidParameter of that action and unknown parameters are ignored.
type params map[string]json.RawMessage

func parseParams(body []byte) (params, error) {
	var p params
	if err := json.Unmarshal(body, &p); err != nil || p == nil {
		return nil, apiErrorf("InvalidParameter", "The request body must be a JSON object.")
	}
	return p, nil
}

// has reports whether name is present and not null.
func (p params) has(name string) bool {
	raw, ok := p[name]
	return ok && !bytes.Equal(raw, []byte("null"))
}

// str returns a string parameter, "" when it is absent.
func (p params) str(name string) (string, error) {
	if !p.has(name) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(p[name], &s); err != nil {
		return "", apiErrorf("InvalidParameter", "The parameter `%s` must be a string.", name)
	}
	return s, nil
}

// required returns a string parameter that must be present and non-empty.
func (p params) required(name string) (string, error) {
	s, err := p.str(name)
	if err == nil && s == "" {
		err = missingParameter(name)
	}
	return s, err
}

// integer returns an integer parameter, def when it is absent.
func (p params) integer(name string, def int64) (int64, error) {
	if !p.has(name) {
		return def, nil
	}
	var n int64
	if err := json.Unmarshal(p[name], &n); err != nil {
		return 0, apiErrorf("InvalidParameter", "The parameter `%s` must be an integer.", name)
	}
	return n, nil
}

// decode unmarshals a structured parameter into v; absent leaves v alone.
func (p params) decode(name string, v any) error {
	if !p.has(name) {
		return nil
	}
	if err := json.Unmarshal(p[name], v); err != nil {
		return apiErrorf("InvalidParameter", "The parameter `%s` has the wrong type.", name)
	}
	return nil
}

// target is what a Fault.Target is compared with: the zone of a TEO call or
// the secret of an SSM call.
func (p params) target() string {
	for _, name := range []string{"ZoneId", "SecretName"} {
		if s, err := p.str(name); err == nil && s != "" {
			return s
		}
	}
	return ""
}
