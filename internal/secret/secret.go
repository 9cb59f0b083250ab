// Package secret holds the gateway key type. A Key refuses to print itself, so
// a key passed by mistake to a logger, an error or a report shows up redacted
// instead of leaking.
package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// Key is a multi-path gateway secret key. Use Reveal only where the value must
// leave the process: the request to a sink.
type Key struct{ value string }

// New wraps a key value.
func New(value string) Key { return Key{value: value} }

// Reveal returns the key value.
func (k Key) Reveal() string { return k.value }

// IsZero reports whether the key is empty.
func (k Key) IsZero() bool { return k.value == "" }

// Equal compares two keys.
func (k Key) Equal(o Key) bool { return k.value == o.value }

// Fingerprint identifies the key without revealing it.
func (k Key) Fingerprint() string { return Fingerprint(k.value) }

const redacted = "[redacted]"

func (k Key) String() string   { return redacted }
func (k Key) GoString() string { return redacted }

// Format covers every verb, %x and %q included.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps slog from reflecting into the struct.
func (k Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps encoders (JSON, YAML) from writing the value.
func (k Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Fingerprint is "sha256:" and the first 16 hex digits of sha256(value): enough
// to tell keys apart in reports and logs, useless for recovering the key.
// The empty value has the empty fingerprint.
func Fingerprint(value string) string {
	if value == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(value))
	return "sha256:" + hex.EncodeToString(sum[:])[:16]
}
