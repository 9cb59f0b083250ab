package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomAlphanumeric returns n characters drawn uniformly from [A-Za-z0-9]
// (bytes at or above 248 = 4*62 are rejected to avoid modulo bias).
func randomAlphanumeric(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out = append(out, alphanumeric[b%62])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

// newGatewayKey returns a multi-path gateway key the way the service makes
// them: padded standard base64 of 32 random bytes.
func newGatewayKey() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// newRequestID returns a random (version 4) UUID, the RequestId format of
// the real API.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newCredential returns a key pair in the shape of real API keys: a SecretId
// of "AKID" and 32 characters, a 32-character SecretKey.
func newCredential() Credential {
	return Credential{SecretID: "AKID" + randomAlphanumeric(32), SecretKey: randomAlphanumeric(32)}
}

// newSessionToken returns an opaque session token for temporary credentials.
func newSessionToken() string { return randomAlphanumeric(128) }
