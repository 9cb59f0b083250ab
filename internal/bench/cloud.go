package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
)

// cloud is the built-in emulator served on loopback behind a counter of
// rate-limited answers.
type cloud struct {
	emu       *emulator.Emulator
	url       string
	server    *http.Server
	throttled *throttleCounter
}

// startCloud serves an emulator holding zones, with its default (documented)
// rate limits, on 127.0.0.1.
func startCloud(zones []string) (*cloud, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	emu := emulator.New(emulator.Options{Zones: zones})
	counter := &throttleCounter{next: emu}
	c := &cloud{
		emu:       emu,
		url:       "http://" + ln.Addr().String(),
		server:    &http.Server{Handler: counter, ReadHeaderTimeout: 10 * time.Second},
		throttled: counter,
	}
	go func() { _ = c.server.Serve(ln) }()
	return c, nil
}

func (c *cloud) close() {
	_ = c.emu.Close()
	_ = c.server.Close()
}

// throttledCount is how many answers carried RequestLimitExceeded.
func (c *cloud) throttledCount() int { return int(c.throttled.n.Load()) }

// resetCounters zeroes the emulator's per-action counters and the
// rate-limited count.
func (c *cloud) resetCounters() {
	c.emu.ResetCounters()
	c.throttled.n.Store(0)
}

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

// throttleCounter counts the API answers whose error code is
// RequestLimitExceeded, whichever side of the emulator produced them.
type throttleCounter struct {
	next http.Handler
	n    atomic.Int64
}

func (t *throttleCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tee := &bodyTee{ResponseWriter: w}
	t.next.ServeHTTP(tee, r)
	var answer struct {
		Response struct{ Error struct{ Code string } }
	}
	if json.Unmarshal(tee.body.Bytes(), &answer) == nil && answer.Response.Error.Code == "RequestLimitExceeded" {
		t.n.Add(1)
	}
}

// bodyTee keeps a copy of the answer's body.
type bodyTee struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (b *bodyTee) Write(p []byte) (int, error) {
	b.body.Write(p)
	return b.ResponseWriter.Write(p)
}
