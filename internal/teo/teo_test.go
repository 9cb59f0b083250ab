package teo_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/teo"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

func newClient(t *testing.T, zones ...string) (*emulator.Emulator, *teo.Client) {
	t.Helper()
	emu, ep := testkit.StartEmulator(t, emulator.Options{Zones: zones})
	return emu, teo.New(&tcapi.Client{Endpoint: ep, Credential: testkit.RoleCredential(emu), Retry: testkit.FastRetry})
}

func newKey(t *testing.T) secret.Key {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return secret.New(base64.StdEncoding.EncodeToString(b))
}

// TestKeyAPIs: the four TEO key APIs, each against the emulator.
func TestKeyAPIs(t *testing.T) {
	ctx := context.Background()
	emu, c := newClient(t, "zone-api")

	live, err := c.Describe(ctx, "zone-api")
	if k, _ := emu.Key("zone-api"); err != nil || live.Reveal() != k {
		t.Fatalf("Describe = %s, %v", live.Fingerprint(), err)
	}
	fresh, err := c.Refresh(ctx, "zone-api")
	if k, _ := emu.Key("zone-api"); err != nil || fresh.Reveal() != k || fresh.Equal(live) {
		t.Fatalf("Refresh = %s, %v (was %s)", fresh.Fingerprint(), err, live.Fingerprint())
	}
	chosen := newKey(t)
	if err := c.Modify(ctx, "zone-api", chosen); err != nil {
		t.Fatal(err)
	}
	if k, _ := emu.Key("zone-api"); k != chosen.Reveal() {
		t.Error("Modify did not set the key")
	}

	emu.AddZoneWithoutKey("zone-new")
	if err := c.Create(ctx, "zone-new", secret.Key{}); err != nil {
		t.Fatalf("Create with a generated key: %v", err)
	}
	if k, ok := emu.Key("zone-new"); !ok || k == "" {
		t.Error("Create made no key")
	}
	err = c.Create(ctx, "zone-new", newKey(t))
	if tcapi.Code(err) != "OperationDenied" || !strings.Contains(err.Error(), "zone zone-new") {
		t.Errorf("Create over an existing key: %v", err)
	}
	err = c.Modify(ctx, "zone-api", secret.New("not base64!"))
	if tcapi.Code(err) != "InvalidParameterValue" || strings.Contains(err.Error(), "not base64!") {
		t.Errorf("Modify with a bad key: %v", err)
	}
	_, err = c.Refresh(ctx, "zone-ghost")
	if tcapi.Code(err) != "ResourceNotFound.ZoneNotFound" || !strings.Contains(err.Error(), "zone-ghost") {
		t.Errorf("Refresh of an unknown zone: %v", err)
	}
}

// TestNewLeavesItsInput: New takes api's settings, not api itself.
func TestNewLeavesItsInput(t *testing.T) {
	api := &tcapi.Client{Region: "ap-guangzhou"}
	c := teo.New(api)
	if api.Service != "" || api.Version != "" {
		t.Errorf("New changed its input: %q %q", api.Service, api.Version)
	}
	if c.API == api || c.API.Service != teo.Service || c.API.Version != teo.Version || c.API.Region != "ap-guangzhou" {
		t.Errorf("client API = %+v", c.API)
	}
}
