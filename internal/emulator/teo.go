package emulator

import (
	"encoding/base64"
	"strings"
)

// The four TEO multi-path gateway key actions. A zone has at most one key;
// Refresh and Modify replace it under the lock, so a reader sees either the
// old key or the new one, and the old key is gone at once (no grace period,
// like the real service).

func (e *Emulator) teoDescribe(c call) (result, error) {
	zone, err := c.params.required("ZoneId")
	if err != nil {
		return nil, err
	}
	return e.onZoneKey(zone, func(key string) (result, error) {
		return result{"SecretKey": key}, nil
	})
}

func (e *Emulator) teoRefresh(c call) (result, error) {
	zone, err := c.params.required("ZoneId")
	if err != nil {
		return nil, err
	}
	return e.onZoneKey(zone, func(string) (result, error) {
		key := newGatewayKey()
		e.zones[zone] = key
		c.rec.wrote("", key)
		return result{"SecretKey": key}, nil
	})
}

func (e *Emulator) teoModify(c call) (result, error) {
	r := c.params.reader()
	zone := r.required("ZoneId")
	key := r.required("SecretKey")
	r.check(validateGatewayKey(key))
	if r.err != nil {
		return nil, r.err
	}
	return e.onZoneKey(zone, func(string) (result, error) {
		e.zones[zone] = key
		c.rec.wrote("", key)
		return result{}, nil
	})
}

// teoCreate sets the first key of a zone: the caller's SecretKey or, without
// one, a generated key (which the caller reads back with Describe).
func (e *Emulator) teoCreate(c call) (result, error) {
	r := c.params.reader()
	zone := r.required("ZoneId")
	key := r.str("SecretKey")
	if r.err != nil {
		return nil, r.err
	}
	if key == "" {
		key = newGatewayKey()
	} else if err := validateGatewayKey(key); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	current, ok := e.zones[zone]
	if !ok {
		return nil, zoneNotFound(zone)
	}
	if current != "" {
		return nil, apiErrorf("OperationDenied", "The zone `%s` already has a multi-path gateway secret key; use ModifyMultiPathGatewaySecretKey or RefreshMultiPathGatewaySecretKey to change it.", zone)
	}
	e.zones[zone] = key
	c.rec.wrote("", key)
	return result{}, nil
}

// onZoneKey runs fn, under the lock, with the key of a zone that exists
// and has one.
func (e *Emulator) onZoneKey(zone string, fn func(key string) (result, error)) (result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key, ok := e.zones[zone]
	if !ok {
		return nil, zoneNotFound(zone)
	}
	if key == "" {
		return nil, apiErrorf("ResourceNotFound", "The zone `%s` has no multi-path gateway secret key; create one with CreateMultiPathGatewaySecretKey.", zone)
	}
	return fn(key)
}

func zoneNotFound(zone string) error {
	return apiErrorf("ResourceNotFound.ZoneNotFound", "The zone `%s` does not exist or does not belong to this account.", zone)
}

// validateGatewayKey enforces the documented key format: padded standard
// base64 of 32 to 48 bytes. The message never includes the key.
func validateGatewayKey(key string) error {
	// The decoder skips CR and LF; a key containing them is not valid.
	raw, err := base64.StdEncoding.Strict().DecodeString(key)
	if err != nil || strings.ContainsAny(key, "\r\n") || len(raw) < 32 || len(raw) > 48 {
		return apiErrorf("InvalidParameterValue", "The parameter `SecretKey` must be standard base64 (with padding) of 32 to 48 bytes.")
	}
	return nil
}
