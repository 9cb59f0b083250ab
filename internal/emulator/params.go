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

// paramReader reads the parameters of an action one after the other and
// keeps the first error, so that a handler checks once after reading them
// all; the error is the one of the first read or check that failed, as if
// the handler had returned there. Once an error is kept, reads return zero
// values and checks are ignored.
type paramReader struct {
	p   params
	err error
}

func (p params) reader() *paramReader { return &paramReader{p: p} }

// check keeps err (which may be nil) unless an earlier error was kept.
func (r *paramReader) check(err error) {
	if r.err == nil {
		r.err = err
	}
}

// read runs parse on the parameters unless an earlier read failed.
func read[T any](r *paramReader, parse func(params) (T, error)) T {
	var v T
	if r.err == nil {
		v, r.err = parse(r.p)
	}
	return v
}

func (r *paramReader) str(name string) string {
	return read(r, func(p params) (string, error) { return p.str(name) })
}

func (r *paramReader) required(name string) string {
	return read(r, func(p params) (string, error) { return p.required(name) })
}

func (r *paramReader) integer(name string, def int64) int64 {
	return read(r, func(p params) (int64, error) { return p.integer(name, def) })
}
