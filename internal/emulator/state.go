package emulator

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// defaultPendingDeleteWindow is the deletion delay setSecretStatus gives a
// secret it puts into PendingDelete.
const defaultPendingDeleteWindow = 7 * 24 * time.Hour

// Version is one version of a secret.
type Version struct {
	ID    string
	Value string // SecretString, or the base64 SecretBinary when Binary is set
	// Binary says the version was written as SecretBinary.
	Binary  bool
	Created time.Time
}

// SecretState is an SSM secret as the emulator holds it.
type SecretState struct {
	Region, Name, Description string
	Status                    string // StatusEnabled, StatusDisabled or StatusPendingDelete
	Tags                      map[string]string
	Versions                  []Version // in creation order
	Created                   time.Time
	DeleteTime                time.Time // when a PendingDelete secret goes away; zero otherwise
}

func (s *SecretState) clone() SecretState {
	c := *s
	c.Tags = maps.Clone(s.Tags)
	c.Versions = slices.Clone(s.Versions)
	return c
}

// PermanentCredential is the emulator's permanent API key pair.
func (e *Emulator) PermanentCredential() Credential { return e.permanent }

// RoleCredential is the emulator's temporary execution-role credential (with
// a token), like the one SCF gives a function; it expires after
// Options.CredentialTTL.
func (e *Emulator) RoleCredential() Credential { return e.role }

// AddCredential registers a key pair (replacing one with the same SecretId).
// With a Token it is a temporary credential: requests must carry the token,
// and after Expires (if set) it is refused with AuthFailure.TokenFailure.
func (e *Emulator) AddCredential(c Credential) { store(e, e.creds, c.SecretID, c) }

// load reads m[k], one of the emulator's tables, under the lock.
func load[K comparable, V any](e *Emulator, m map[K]V, k K) (V, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := m[k]
	return v, ok
}

// store sets m[k], one of the emulator's tables, under the lock.
func store[K comparable, V any](e *Emulator, m map[K]V, k K, v V) {
	e.mu.Lock()
	m[k] = v
	e.mu.Unlock()
}

// AddZone makes a zone exist with a fresh key, replacing any key it had.
func (e *Emulator) AddZone(zone string) { e.SetKey(zone, newGatewayKey()) }

// AddZoneWithoutKey makes a zone exist without a key, removing any key it had.
func (e *Emulator) AddZoneWithoutKey(zone string) { e.SetKey(zone, "") }

// Key returns the current key of a zone; false if the zone does not exist or
// has no key.
func (e *Emulator) Key(zone string) (string, bool) {
	key, _ := load(e, e.zones, zone)
	return key, key != ""
}

// SetKey replaces a zone's key behind the API's back, as a change in the
// console would; the zone is created if needed. The key is not validated,
// so tests can plant malformed keys; "" leaves the zone without a key.
func (e *Emulator) SetKey(zone, key string) { store(e, e.zones, zone, key) }

// Secret returns a copy of a secret.
func (e *Emulator) Secret(region, name string) (SecretState, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return secretCopy(e.secretsLocked(), secretKey{region, name})
}

// allSecrets returns copies of all SSM secrets, by region and name.
func (e *Emulator) allSecrets() []SecretState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return secretCopies(e.secretsLocked())
}

// setSecretStatus changes a secret's status directly. PendingDelete schedules
// the deletion 7 days ahead on the emulator clock.
func (e *Emulator) setSecretStatus(region, name, status string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.secretsLocked()[secretKey{region, name}]
	if !ok {
		return fmt.Errorf("emulator: no secret %q in region %q", name, region)
	}
	switch status {
	case StatusEnabled, StatusDisabled:
		s.Status, s.DeleteTime = status, time.Time{}
	case StatusPendingDelete:
		s.Status, s.DeleteTime = status, e.now().Add(defaultPendingDeleteWindow)
	default:
		return errors.New("emulator: status must be Enabled, Disabled or PendingDelete")
	}
	return nil
}

// PutSecret seeds (or replaces) a secret without going through the API or
// its validation. An empty Status means Enabled; zero times mean now; a
// PendingDelete secret without DeleteTime is deleted 7 days from now.
func (e *Emulator) PutSecret(s SecretState) {
	now := e.now()
	c := s.clone()
	c.Status = cmp.Or(c.Status, StatusEnabled)
	orTime(&c.Created, now)
	if c.Status == StatusPendingDelete {
		orTime(&c.DeleteTime, now.Add(defaultPendingDeleteWindow))
	}
	for i := range c.Versions {
		orTime(&c.Versions[i].Created, now)
	}
	store(e, e.secrets, secretKey{c.Region, c.Name}, &c)
}

// Calls counts the authenticated requests for an action, including those
// that then failed validation, were faulted or were rate limited.
func (e *Emulator) Calls(action string) int { return e.counter(e.calls, action) }

// Performed counts the times an action's work was actually done: state
// changed or a read served. A call with an After fault counts; one with a
// Before fault does not.
func (e *Emulator) Performed(action string) int { return e.counter(e.performed, action) }

// Signers counts the Tencent Cloud API requests (any service and action)
// whose signature and token verified, by the SecretId that signed them:
// which credentials a client really used.
func (e *Emulator) Signers() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.signedBy)
}

// Credential returns the key pair registered under secretID (the
// permanent one, the execution role's, one AssumeRole issued, or one
// added), so that tests can look for its key and token in outputs.
func (e *Emulator) Credential(secretID string) (Credential, bool) { return load(e, e.creds, secretID) }

func (e *Emulator) counter(counter map[string]int, action string) int {
	n, _ := load(e, counter, action)
	return n
}

// Throttled counts the calls the rate limiter refused with
// RequestLimitExceeded (injected faults with that code do not count).
func (e *Emulator) Throttled() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.throttled
}

// ResetCounters zeroes Calls, Performed, Signers and Throttled and empties
// the call log.
func (e *Emulator) ResetCounters() {
	e.mu.Lock()
	e.callLog = nil
	clear(e.calls)
	clear(e.signedBy)
	clear(e.performed)
	e.throttled = 0
	e.mu.Unlock()
}
