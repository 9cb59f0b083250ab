package bench

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
)

// cloud is the built-in emulator served on loopback.
type cloud struct {
	emu *emulator.Emulator
	url string
}

// startCloud serves an emulator holding zones, with its default (documented)
// rate limits, on 127.0.0.1.
func startCloud(zones []string) (*cloud, error) {
	emu, err := emulator.Start("127.0.0.1:0", emulator.Options{Zones: zones})
	if err != nil {
		return nil, err
	}
	return &cloud{emu: emu, url: emu.URL()}, nil
}

func (c *cloud) close() { _ = c.emu.Close() }

// throttledCount is how many calls the emulator's rate limiter refused.
func (c *cloud) throttledCount() int { return c.emu.Throttled() }

// resetCounters zeroes the emulator's per-action and rate-limit counters.
func (c *cloud) resetCounters() { c.emu.ResetCounters() }

// calls returns the emulator's count of authenticated requests per action,
// from its state dump: the only place that lists every action called.
func (c *cloud) calls() (map[string]int, error) {
	resp, err := http.Get(c.url + "/_emulator/state")
	if err != nil {
		return nil, fmt.Errorf("emulator state: %w", err)
	}
	defer resp.Body.Close()
	var state struct{ Calls map[string]int }
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		return nil, fmt.Errorf("emulator state: decoding: %w", err)
	}
	return state.Calls, nil
}
