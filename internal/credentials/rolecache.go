package credentials

import (
	"context"
	"crypto/sha256"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
)

// AssumeRoleSeconds is the lifetime asked of STS for the role's
// credentials (STS allows 1 to 43200; its default is 7200).
const AssumeRoleSeconds = 3600

// RefreshBefore is how long before their expiry cached role credentials
// are replaced: an invocation that starts with less than this left could
// see them expire halfway through a rotation.
const RefreshBefore = 5 * time.Minute

// maxRoleEntries bounds a RoleCache: each renewal of the base credentials
// (SCF renews the execution role's every few hours) makes a new entry.
const maxRoleEntries = 16

// RoleCache keeps the credentials AssumeRole returned across the
// invocations of a warm instance, one entry per base credential and role,
// until RefreshBefore their expiry; then the next Get assumes the role
// again. It holds a digest of the base credential, never the credential
// itself. The zero value is ready; safe for concurrent use.
type RoleCache struct {
	// Now is the clock expiry is judged by; nil = time.Now.
	Now func() time.Time

	mu      sync.Mutex
	entries map[roleKey]*roleEntry
	assume  func(context.Context, *tcapi.Client, Credential, string, string, time.Time) (Credential, time.Time, error) // nil = assumeRole; tests stub it
}

// roleKey names one entry: which credential assumes which role.
type roleKey struct {
	base [sha256.Size]byte
	role string
}

// roleEntry is one role's credentials; its mutex makes concurrent
// invocations wait for one AssumeRole instead of each making its own.
type roleEntry struct {
	mu      sync.Mutex
	cred    Credential
	expires time.Time // zero: not yet assumed
}

func (c *RoleCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Get returns the credentials of roleARN assumed with base: the cached
// ones while they have more than RefreshBefore left, else fresh ones from
// AssumeRole through client (see AssumeRole for what it takes from client).
// Credentials whose expiry STS did not say are never cached.
func (c *RoleCache) Get(ctx context.Context, client *tcapi.Client, base Credential, roleARN, session string) (Credential, error) {
	e := c.entry(roleKey{tcapi.CredentialDigest(base), roleARN})
	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.now()
	if !e.expires.IsZero() && now.Add(RefreshBefore).Before(e.expires) {
		return e.cred, nil
	}
	assume := c.assume
	if assume == nil {
		assume = assumeRole
	}
	cred, expires, err := assume(ctx, client, base, roleARN, session, now)
	if err != nil {
		return Credential{}, err
	}
	e.cred, e.expires = cred, expires
	return cred, nil
}

// entry returns the entry of key, making room for it if needed.
func (c *RoleCache) entry(key roleKey) *roleEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		return e
	}
	if c.entries == nil {
		c.entries = map[roleKey]*roleEntry{}
	}
	if len(c.entries) >= maxRoleEntries {
		// Entries of base credentials SCF has since renewed are never
		// asked for again: start over rather than track their age.
		clear(c.entries)
	}
	e := &roleEntry{}
	c.entries[key] = e
	return e
}

// DefaultSessionName is the RoleSessionName when the platform names no
// function.
const DefaultSessionName = "mpgw-keyrotator"

var sessionUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// SessionName turns a function name into a RoleSessionName STS accepts
// ([\w+=,.@-], 2 to 64 characters): other characters become '-', a longer
// name is cut, and a name too short after that is DefaultSessionName. The
// same function always assumes the role under the same name, which is
// what CloudAudit shows.
func SessionName(functionName string) string {
	name := sessionUnsafe.ReplaceAllString(strings.TrimSpace(functionName), "-")
	if len(name) > 64 {
		name = name[:64]
	}
	if len(name) < 2 {
		return DefaultSessionName
	}
	return name
}

// assumeRemedy says what to do about an AssumeRole error code, after the
// error itself; "" when the code needs no explanation (transient ones).
func assumeRemedy(code string) string {
	has := func(family string) bool { return code == family || strings.HasPrefix(code, family+".") }
	switch {
	case strings.HasSuffix(code, "RoleNotFound") || strings.HasSuffix(code, "RoleNotExist"):
		return "; the role in ROLE_ARN does not exist: check its UIN and name (qcs::cam::uin/<owner uin>:roleName/<name>)"
	case has("UnauthorizedOperation"), code == "AuthFailure.UnauthorizedOperation", has("OperationDenied"), has("UnsupportedOperation"):
		return "; these credentials may not assume the role: the trust policy (role carrier) of the role in ROLE_ARN must allow their principal " +
			"(the function's execution role, or the sub-account) the action sts:AssumeRole, and their own CAM policy must grant sts:AssumeRole on ROLE_ARN"
	case has("AuthFailure"):
		return "; STS refused the base credentials themselves (not the role): check them, or unset ROLE_ARN"
	case has("InvalidParameter"), has("InvalidParameterValue"):
		return "; check ROLE_ARN (qcs::cam::uin/<owner uin>:roleName/<name> or …:role/<role id>)"
	}
	return ""
}
