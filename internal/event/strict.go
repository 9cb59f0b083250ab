package event

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
)

// DuplicateMember returns the first member name that appears twice in one
// object of the JSON text data, at any depth. encoding/json keeps the last
// of duplicate members, so {"action":"check","action":"rotate"} would read
// as rotate while a reviewer (or another parser) reads check: every payload
// and body this function reads is refused when it has one. In text that is
// not valid JSON, a duplicate before the error is still found; its own
// decoding refuses such text anyway.
func DuplicateMember(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	name, dup, _ := duplicateIn(dec)
	return name, dup
}

// duplicateIn reads one value from dec and looks for a repeated member
// name in it; err is a decoding error, which ends the search.
func duplicateIn(dec *json.Decoder) (name string, dup bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return "", false, err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return "", false, err
			}
			k, _ := key.(string) // an object key is always a string token
			if seen[k] {
				return k, true, nil
			}
			seen[k] = true
			if name, dup, err := duplicateIn(dec); dup || err != nil {
				return name, dup, err
			}
		}
		_, err = dec.Token() // '}'
	case json.Delim('['):
		for dec.More() {
			if name, dup, err := duplicateIn(dec); dup || err != nil {
				return name, dup, err
			}
		}
		_, err = dec.Token() // ']'
	}
	return "", false, err
}

// duplicateError describes a duplicate member by its name only.
func duplicateError(name string) error {
	return fmt.Errorf("member %q appears more than once in one object; send each member once", excerpt.Of(name, 32))
}
