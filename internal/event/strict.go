package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
)

// object is a JSON object's members by exact name. Map keys match exactly,
// unlike struct fields, which is what lets shape detection and the strict
// payloads refuse "Zones" for "zones". A repeated name keeps its last
// value, as encoding/json does (and scan reports the repetition).
type object map[string]member

// member is one member's value as scan read it.
type member struct {
	raw   json.RawMessage // the value's JSON text
	str   string          // the value, when it is a JSON string (isStr)
	isStr bool
	// members are the value's own members, when it is an object directly
	// inside the scanned object (requestContext, say); nil otherwise.
	members object
}

// string is the member's value when it is a JSON string, else "" (also
// for a member that is absent, the zero member).
func (m member) string() string { return m.str }

// null reports whether the member is present and null.
func (m member) null() bool { return string(m.raw) == "null" }

// maxDepth is encoding/json's nesting limit: deeper text is not valid JSON.
const maxDepth = 10000

var errJSON = errors.New("not valid JSON")

// scan reads data, one JSON value, in a single pass over its tokens. It
// returns the value's members when it is an object (with those of the
// objects directly inside it) and the first member name that appears twice
// in one object at any depth (nil if none). err is set when data is not
// valid JSON; a duplicate found before the error is still returned.
func scan(data []byte) (v member, dup *string, err error) {
	s := scanner{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	s.dec.UseNumber()
	v, err = s.value(0)
	if err == nil {
		// One value and nothing after it, as json.Unmarshal requires.
		if _, next := s.dec.Token(); next != io.EOF {
			err = errJSON
		}
	}
	return v, s.dup, err
}

type scanner struct {
	dec  *json.Decoder
	data []byte
	dup  *string // the first repeated member name
}

// value reads one value at depth (0 = the scanned value itself).
func (s *scanner) value(depth int) (member, error) {
	start := s.dec.InputOffset()
	tok, err := s.dec.Token()
	if err != nil {
		return member{}, err
	}
	var v member
	switch tok {
	case json.Delim('{'), json.Delim('['):
		if depth >= maxDepth {
			return member{}, errJSON
		}
		if tok == json.Delim('{') {
			v.members, err = s.object(depth)
		} else {
			err = s.array(depth)
		}
	default:
		v.str, v.isStr = tok.(string)
	}
	// The text since start may begin with the ':' or ',' before the value.
	v.raw = bytes.TrimLeft(s.data[start:s.dec.InputOffset()], " \t\r\n:,")
	return v, err
}

// object reads the members of an object whose '{' has been read; it keeps
// them only for the scanned object and the objects directly inside it.
func (s *scanner) object(depth int) (object, error) {
	var members object
	if depth <= 1 {
		members = object{}
	}
	seen := map[string]bool{}
	for s.dec.More() {
		key, err := s.dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := key.(string) // an object key is always a string token
		if seen[name] && s.dup == nil {
			s.dup = &name
		}
		seen[name] = true
		v, err := s.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if members != nil {
			members[name] = v
		}
	}
	_, err := s.dec.Token() // '}'
	return members, err
}

func (s *scanner) array(depth int) error {
	for s.dec.More() {
		if _, err := s.value(depth + 1); err != nil {
			return err
		}
	}
	_, err := s.dec.Token() // ']'
	return err
}

// Members reads the JSON text data in one pass. It returns the top-level
// members by exact name when data is an object (nil otherwise), and the
// first member name that appears twice in one object at any depth (nil if
// none). encoding/json keeps the last of duplicate members, so
// {"action":"check","action":"rotate"} would read as rotate while a reviewer
// (or another parser) reads check: every payload and body this function
// reads is refused when it has one. err is set when data is not one valid
// JSON value; a duplicate found before the error is still returned.
func Members(data []byte) (members map[string]json.RawMessage, dup *string, err error) {
	v, dup, err := scan(data)
	if v.members != nil {
		members = make(map[string]json.RawMessage, len(v.members))
		for name, m := range v.members {
			members[name] = m.raw
		}
	}
	return members, dup, err
}

// duplicateError describes a duplicate member by its name only.
func duplicateError(name string) error {
	return fmt.Errorf("member %q appears more than once in one object; send each member once", excerpt.Of(name, 32))
}
