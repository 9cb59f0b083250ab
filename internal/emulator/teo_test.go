package emulator

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func keyOfBytes(n int) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
}

func TestTEO(t *testing.T) {
	validKey := keyOfBytes(40)
	tests := []struct {
		name   string
		action string
		params map[string]any
		want   string
		// check runs after a successful call; before is the zone-a key
		// before the call.
		check func(t *testing.T, f *fixture, res map[string]any, before string)
	}{
		{name: "refresh returns the new key", action: "RefreshMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a"},
			check: func(t *testing.T, f *fixture, res map[string]any, before string) {
				got := res["SecretKey"].(string)
				now, _ := f.emu.Key("zone-a")
				if got == before || got != now {
					t.Errorf("Refresh returned a key that is not the new current key")
				}
				if raw, err := base64.StdEncoding.DecodeString(got); err != nil || len(raw) != 32 {
					t.Errorf("new key is not base64 of 32 bytes (%d bytes, %v)", len(raw), err)
				}
			}},
		{name: "describe returns the live key", action: "DescribeMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a"},
			check: func(t *testing.T, f *fixture, res map[string]any, before string) {
				if res["SecretKey"] != before {
					t.Errorf("Describe did not return the current key")
				}
			}},
		{name: "modify sets the key", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "SecretKey": validKey},
			check: func(t *testing.T, f *fixture, res map[string]any, _ string) {
				if k, _ := f.emu.Key("zone-a"); k != validKey {
					t.Errorf("Modify did not set the key")
				}
				if _, ok := res["SecretKey"]; ok {
					t.Errorf("Modify returned a key")
				}
			}},
		{name: "create with a key", action: "CreateMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-nokey", "SecretKey": validKey},
			check: func(t *testing.T, f *fixture, _ map[string]any, _ string) {
				if k, _ := f.emu.Key("zone-nokey"); k != validKey {
					t.Errorf("Create did not set the given key")
				}
			}},
		{name: "create generates a key", action: "CreateMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-nokey"},
			check: func(t *testing.T, f *fixture, _ map[string]any, _ string) {
				if _, ok := f.emu.Key("zone-nokey"); !ok {
					t.Errorf("Create did not generate a key")
				}
			}},
		{name: "modify accepts 32 bytes", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "SecretKey": keyOfBytes(32)}},
		{name: "modify accepts 48 bytes", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "SecretKey": keyOfBytes(48)}},

		{name: "unknown zone", action: "RefreshMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-nope"}, want: "ResourceNotFound.ZoneNotFound"},
		{name: "describe unknown zone", action: "DescribeMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-nope"}, want: "ResourceNotFound.ZoneNotFound"},
		{name: "missing ZoneId", action: "RefreshMultiPathGatewaySecretKey", params: map[string]any{}, want: "MissingParameter"},
		{name: "empty ZoneId", action: "DescribeMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": ""}, want: "MissingParameter"},
		{name: "describe zone without key", action: "DescribeMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-nokey"}, want: "ResourceNotFound"},
		{name: "refresh zone without key", action: "RefreshMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-nokey"}, want: "ResourceNotFound"},
		{name: "modify zone without key", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-nokey", "SecretKey": validKey}, want: "ResourceNotFound"},
		{name: "create when a key exists", action: "CreateMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a"}, want: "OperationDenied"},
		{name: "create in unknown zone", action: "CreateMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-nope"}, want: "ResourceNotFound.ZoneNotFound"},
		{name: "modify without key", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a"}, want: "MissingParameter"},
		{name: "key not base64", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "SecretKey": "not base64 at all, not at all!!!!!!!!!!!!!!!"}, want: "InvalidParameterValue"},
		{name: "key of 31 bytes", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "SecretKey": keyOfBytes(31)}, want: "InvalidParameterValue"},
		{name: "key of 49 bytes", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "SecretKey": keyOfBytes(49)}, want: "InvalidParameterValue"},
		{name: "key without padding", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "SecretKey": base64.RawStdEncoding.EncodeToString([]byte(strings.Repeat("k", 40)))}, want: "InvalidParameterValue"},
		{name: "url-safe key", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "SecretKey": base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 16)))}, want: "InvalidParameterValue"},
		{name: "key with newline", action: "ModifyMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-a", "SecretKey": validKey[:20] + "\n" + validKey[20:]}, want: "InvalidParameterValue"},
		{name: "create with invalid key", action: "CreateMultiPathGatewaySecretKey", params: map[string]any{"ZoneId": "zone-nokey", "SecretKey": keyOfBytes(8)}, want: "InvalidParameterValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{Zones: []string{"zone-a"}})
			f.emu.AddZoneWithoutKey("zone-nokey")
			before, _ := f.emu.Key("zone-a")

			res, err := f.call(tt.action, tt.params)
			wantCode(t, err, tt.want)
			if err != nil {
				if k, _ := f.emu.Key("zone-a"); k != before {
					t.Errorf("a failed call changed the key")
				}
				if sk, _ := tt.params["SecretKey"].(string); sk != "" && strings.Contains(errMessage(err), sk) {
					t.Errorf("error message contains the key")
				}
				if strings.Contains(errMessage(err), before) {
					t.Errorf("error message contains the current key")
				}
				if zone, _ := tt.params["ZoneId"].(string); strings.HasSuffix(tt.want, "ZoneNotFound") && !strings.Contains(errMessage(err), zone) {
					t.Errorf("message %q does not name the zone", errMessage(err))
				}
				return
			}
			if tt.check != nil {
				tt.check(t, f, res, before)
			}
		})
	}
}

func TestTEORateLimit(t *testing.T) {
	tests := []struct {
		name    string
		limit   float64
		allowed int
	}{
		{name: "documented 20 per second", limit: 0, allowed: 20},
		{name: "configured 5 per second", limit: 5, allowed: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{Zones: []string{"zone-a"}, TEORateLimit: tt.limit})
			refresh := map[string]any{"ZoneId": "zone-a"}
			for i := range tt.allowed {
				if _, err := f.call("RefreshMultiPathGatewaySecretKey", refresh); err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
			}
			before, _ := f.emu.Key("zone-a")
			_, err := f.call("RefreshMultiPathGatewaySecretKey", refresh)
			wantCode(t, err, "RequestLimitExceeded")
			if k, _ := f.emu.Key("zone-a"); k != before {
				t.Errorf("a rate-limited Refresh changed the key")
			}
			if c, p := f.emu.Calls("RefreshMultiPathGatewaySecretKey"), f.emu.Performed("RefreshMultiPathGatewaySecretKey"); c != tt.allowed+1 || p != tt.allowed {
				t.Errorf("Calls = %d, Performed = %d; want %d, %d", c, p, tt.allowed+1, tt.allowed)
			}

			// The limit is per action.
			if _, err := f.call("DescribeMultiPathGatewaySecretKey", refresh); err != nil {
				t.Errorf("Describe after Refresh hit its limit: %v", err)
			}
			// One second later the window is empty again.
			f.clock.Advance(time.Second)
			if _, err := f.call("RefreshMultiPathGatewaySecretKey", refresh); err != nil {
				t.Errorf("Refresh a second later: %v", err)
			}
		})
	}
}

// TestRateLimitSlidingWindow: the limit holds in any one-second window, not
// just in a refilling bucket: the (N+1)th call is refused until the first
// of the N is a full second old, and every refusal counts in Throttled.
func TestRateLimitSlidingWindow(t *testing.T) {
	type step struct {
		advance time.Duration // before the call
		want    string        // code; "" for success
	}
	ms := time.Millisecond
	tests := []struct {
		name          string
		steps         []step
		wantThrottled int
	}{
		{name: "burst, then one second later",
			steps: []step{{0, ""}, {0, ""}, {0, ""}, {0, ""}, {0, ""},
				{999 * ms, "RequestLimitExceeded"}, {ms, ""}, {0, ""}, {0, ""}, {0, ""}, {0, ""}, {0, "RequestLimitExceeded"}},
			wantThrottled: 2},
		{name: "evenly spread: a bucket would have refilled",
			steps: []step{{0, ""}, {200 * ms, ""}, {200 * ms, ""}, {200 * ms, ""}, {200 * ms, ""},
				{199 * ms, "RequestLimitExceeded"}, {0, "RequestLimitExceeded"}, {ms, ""}, {0, "RequestLimitExceeded"}, {200 * ms, ""}},
			wantThrottled: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{Zones: []string{"zone-a"}, TEORateLimit: 5})
			f.emu.Inject(Fault{Action: "DescribeMultiPathGatewaySecretKey", Code: "RequestLimitExceeded", Times: 1})
			_, err := f.call("DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})
			wantCode(t, err, "RequestLimitExceeded")
			for i, s := range tt.steps {
				f.clock.Advance(s.advance)
				_, err := f.call("RefreshMultiPathGatewaySecretKey", map[string]any{"ZoneId": "zone-a"})
				if code := errCode(err); code != s.want {
					t.Fatalf("call %d: code %q, want %q", i+1, code, s.want)
				}
			}
			if got := f.emu.Throttled(); got != tt.wantThrottled {
				t.Errorf("Throttled = %d, want %d (the injected fault does not count)", got, tt.wantThrottled)
			}
			if state, _ := f.state(t); state.Throttled != tt.wantThrottled {
				t.Errorf("state throttled = %d, want %d", state.Throttled, tt.wantThrottled)
			}
			f.emu.ResetCounters()
			if got := f.emu.Throttled(); got != 0 {
				t.Errorf("Throttled after ResetCounters = %d", got)
			}
		})
	}
}

// TestConcurrentRefreshAndRead runs refreshes, reads and inspection in
// parallel; with -race it checks the locking, and afterwards that every
// Refresh was performed and every read saw a complete key.
func TestConcurrentRefreshAndRead(t *testing.T) {
	f := newFixture(t, Options{Zones: []string{"zone-a", "zone-b"}, Now: time.Now, TEORateLimit: -1})
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, 3*workers*rounds)
	for w := range workers {
		zone := []string{"zone-a", "zone-b"}[w%2]
		client := f.client(f.emu.RoleCredential(), "")
		wg.Go(func() {
			for range rounds {
				if _, err := send(context.Background(), client, "RefreshMultiPathGatewaySecretKey", map[string]any{"ZoneId": zone}); err != nil {
					errs <- err
				}
				res, err := send(context.Background(), client, "DescribeMultiPathGatewaySecretKey", map[string]any{"ZoneId": zone})
				if err != nil {
					errs <- err
				} else if raw, err := base64.StdEncoding.DecodeString(res["SecretKey"].(string)); err != nil || len(raw) != 32 {
					errs <- errors.New("Describe returned a malformed key")
				}
			}
		})
		wg.Go(func() {
			for range rounds {
				f.emu.Key(zone)
				f.emu.allSecrets()
				f.emu.Performed("RefreshMultiPathGatewaySecretKey")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.emu.Performed("RefreshMultiPathGatewaySecretKey"); got != workers*rounds {
		t.Errorf("Performed(Refresh) = %d, want %d", got, workers*rounds)
	}
}
