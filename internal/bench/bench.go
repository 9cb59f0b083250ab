// Package bench measures the release binary against the built-in emulator on
// loopback: cold start under the SCF runtime protocol, a warm rotation of
// one zone beside a minimal SDK client, a rotation of many zones at the
// documented rate limit, peak memory and artifact sizes.
package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
)

// Options are the repetition counts and pacing of a run.
type Options struct {
	ColdStarts    int // process starts for the cold-start median
	WarmRotations int // warm invocations for the one-zone median
	MinimalRounds int // rounds of the minimal client's three calls
	Zones         int // zones of the large rotation
	LargeRuns     int // steady-state rotations of all Zones
	TEORateLimit  int // TEO_RATE_LIMIT of the large rotation
	// Pace is the least time between the starts of two one-zone rotations,
	// so that the emulator's per-action windows clear and no measured
	// rotation waits for a rate limit it would not meet once a night.
	Pace time.Duration
	// TimeLimit is the deadline of every invocation. The function skips a
	// zone with less than DELIVERY_WINDOW left.
	TimeLimit time.Duration
	Progress  io.Writer // nil discards
}

// DefaultOptions makes a whole run take about a minute on two cores.
func DefaultOptions() Options {
	return Options{
		ColdStarts:    20,
		WarmRotations: 30,
		MinimalRounds: 30,
		Zones:         200,
		LargeRuns:     2,
		TEORateLimit:  20,
		Pace:          150 * time.Millisecond,
		TimeLimit:     120 * time.Second,
	}
}

// Artifacts are what build.sh produced.
type Artifacts struct {
	Binary, Zip string
}

// Build runs root/build.sh and returns its artifacts.
func Build(ctx context.Context, root string, progress io.Writer) (Artifacts, error) {
	// Absolute: the function runs in another directory.
	root, err := filepath.Abs(root)
	if err != nil {
		return Artifacts{}, fmt.Errorf("locating build.sh: %w", err)
	}
	cmd := exec.CommandContext(ctx, "./build.sh")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = progress, progress
	if err := cmd.Run(); err != nil {
		return Artifacts{}, fmt.Errorf("%s: %w", filepath.Join(root, "build.sh"), err)
	}
	return Artifacts{Binary: filepath.Join(root, "dist", "main"), Zip: filepath.Join(root, "dist", "main.zip")}, nil
}

// Run measures a and returns the table's rows.
func Run(ctx context.Context, a Artifacts, o Options) ([]Row, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	home, err := os.MkdirTemp("", "keyrotator-bench-home-")
	if err != nil {
		return nil, fmt.Errorf("creating an empty HOME: %w", err)
	}
	defer os.RemoveAll(home)
	r := &runner{binary: a.Binary, home: home, o: o}

	cold, err := r.coldStart(ctx)
	if err != nil {
		return nil, fmt.Errorf("cold start: %w", err)
	}
	warm, err := r.warmRotation(ctx)
	if err != nil {
		return nil, fmt.Errorf("warm rotation: %w", err)
	}
	large, err := r.largeRotation(ctx)
	if err != nil {
		return nil, fmt.Errorf("%d-zone rotation: %w", o.Zones, err)
	}
	sizes, err := artifactSizes(a)
	if err != nil {
		return nil, err
	}
	return rows(o, cold, warm, large, sizes), nil
}

type runner struct {
	binary, home string
	o            Options
}

func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.o.Progress, "bench: "+format+"\n", args...)
}

// config is the function's environment for zones on c, as a deploy file
// sets it: no credentials, those come with each invoke.
func config(c *cloud, zones []string, teoRateLimit int) map[string]string {
	return map[string]string{
		"ZONE_IDS":            strings.Join(zones, ","),
		"TEO_ENDPOINT":        c.url,
		"SSM_ENDPOINT":        c.url,
		"SSM_SECRET_NAME":     secretName,
		"SSM_VERSION_ID":      versionID,
		"TENCENTCLOUD_REGION": region,
		"TEO_RATE_LIMIT":      strconv.Itoa(teoRateLimit),
	}
}

func zoneIDs(n int) []string {
	zones := make([]string, n)
	for i := range zones {
		zones[i] = fmt.Sprintf("zone-bench%04d", i+1)
	}
	return zones
}

// coldStart is the median time from the process start to the first answer
// of Function.Ping.
func (r *runner) coldStart(ctx context.Context) (time.Duration, error) {
	r.progress("cold start: %d starts", r.o.ColdStarts)
	// The configuration is the warm rotation's; nothing is called at start.
	zones := zoneIDs(1)
	c, err := startCloud(zones)
	if err != nil {
		return 0, err
	}
	defer c.close()
	cfg := config(c, zones, r.o.TEORateLimit)
	times := make([]time.Duration, 0, r.o.ColdStarts)
	for range r.o.ColdStarts {
		f, took, err := startFunction(ctx, r.binary, r.home, cfg)
		if err != nil {
			return 0, err
		}
		f.stop()
		times = append(times, took)
	}
	return Median(times), nil
}

// warmResult is the one-zone measurement.
type warmResult struct {
	rotation  time.Duration  // median time of one warm invocation
	minimal   time.Duration  // median time of the minimal client's three calls
	calls     map[string]int // API calls per action over all measured rotations
	rotations int
	throttled int // RequestLimitExceeded answers during the measured rotations
	peakRSS   int64
}

func (w warmResult) callsPerRotation() float64 {
	total := 0
	for _, n := range w.calls {
		total += n
	}
	return float64(total) / float64(w.rotations)
}

// warmRotation rotates one zone once so that its secret and version exist,
// then times paced warm invocations of the same running binary and, on the
// same zone, the minimal client.
func (r *runner) warmRotation(ctx context.Context) (warmResult, error) {
	zones := zoneIDs(1)
	s, _, err := r.startRotated(ctx, zones, "bench-first")
	if err != nil {
		return warmResult{}, err
	}
	defer s.stop()

	r.progress("warm rotation: %d invocations of 1 zone, one every %s at least", r.o.WarmRotations, r.o.Pace)
	times := make([]time.Duration, 0, r.o.WarmRotations)
	err = paced(ctx, r.o.WarmRotations, r.o.Pace, func(i int) error {
		took, err := s.rotate(ctx, fmt.Sprintf("bench-%d", i+1))
		times = append(times, took)
		return err
	})
	if err != nil {
		return warmResult{}, err
	}
	w := warmResult{rotation: Median(times), rotations: r.o.WarmRotations, throttled: s.c.throttledCount()}
	if w.calls, err = s.c.calls(); err != nil {
		return warmResult{}, err
	}
	if w.peakRSS, err = s.f.peakRSS(); err != nil {
		return warmResult{}, err
	}

	r.progress("minimal client: %d rounds of %d calls", r.o.MinimalRounds, minimalCalls)
	m := newMinimalClient(s.c.url, s.role, zones[0])
	times = times[:0]
	err = paced(ctx, r.o.MinimalRounds, r.o.Pace, func(int) error {
		start := time.Now()
		err := m.rotate(ctx)
		times = append(times, time.Since(start))
		return err
	})
	if err != nil {
		return warmResult{}, err
	}
	w.minimal = Median(times)
	return w, nil
}

// largeResult is the many-zone measurement.
type largeResult struct {
	first     time.Duration // the rotation that created every secret
	steady    time.Duration // median of the steady-state rotations
	throttled int           // RequestLimitExceeded answers in the steady-state rotations
	peakRSS   int64
}

// largeRotation rotates Zones zones once to create their secrets, then times
// LargeRuns steady-state rotations, each one invocation of the running
// binary.
func (r *runner) largeRotation(ctx context.Context) (largeResult, error) {
	r.progress("%d zones at TEO_RATE_LIMIT=%d: first rotation (creates the secrets)", r.o.Zones, r.o.TEORateLimit)
	var res largeResult
	s, first, err := r.startRotated(ctx, zoneIDs(r.o.Zones), "bench-large-first")
	if err != nil {
		return largeResult{}, err
	}
	defer s.stop()
	res.first = first
	r.progress("%d zones: %s; now %d steady-state rotations", r.o.Zones, duration(res.first), r.o.LargeRuns)
	times := make([]time.Duration, 0, r.o.LargeRuns)
	for i := range r.o.LargeRuns {
		// A second's rest refills the emulator's buckets, which hold one
		// second's worth, as the hours between two nightly runs would.
		if err := retry.Sleep(ctx, time.Second); err != nil {
			return largeResult{}, err
		}
		took, err := s.rotate(ctx, fmt.Sprintf("bench-large-%d", i+1))
		if err != nil {
			return largeResult{}, err
		}
		times = append(times, took)
		r.progress("%d zones: run %d took %s", r.o.Zones, i+1, duration(took))
	}
	res.steady = Median(times)
	res.throttled = s.c.throttledCount()
	if res.peakRSS, err = s.f.peakRSS(); err != nil {
		return largeResult{}, err
	}
	return res, nil
}

// session is an emulator and the function binary pointed at it, invoked
// with the emulator's role credential.
type session struct {
	c         *cloud
	f         *function
	role      emulator.Credential
	timeLimit time.Duration
}

// startRotated starts a session on an emulator holding zones and runs its
// first rotation, the one that creates every secret, under the name
// firstID. It returns the time that rotation took; the emulator's counters
// start after it.
func (r *runner) startRotated(ctx context.Context, zones []string, firstID string) (*session, time.Duration, error) {
	c, err := startCloud(zones)
	if err != nil {
		return nil, 0, err
	}
	f, _, err := startFunction(ctx, r.binary, r.home, config(c, zones, r.o.TEORateLimit))
	if err != nil {
		c.close()
		return nil, 0, err
	}
	s := &session{c: c, f: f, role: c.emu.RoleCredential(), timeLimit: r.o.TimeLimit}
	took, err := s.rotate(ctx, firstID)
	if err != nil {
		s.stop()
		return nil, 0, fmt.Errorf("first rotation: %w", err)
	}
	c.resetCounters()
	return s, took, nil
}

// rotate invokes the function once with a rotate event named rotationID.
func (s *session) rotate(ctx context.Context, rotationID string) (time.Duration, error) {
	return s.f.invoke(ctx, rotateEvent(rotationID), s.role, s.timeLimit)
}

// stop stops the function, then the emulator.
func (s *session) stop() {
	s.f.stop()
	s.c.close()
}

func rotateEvent(rotationID string) string {
	return fmt.Sprintf(`{"action":"rotate","rotationId":%q}`, rotationID)
}

// paced runs fn n times, starting each at least pace after the previous
// start.
func paced(ctx context.Context, n int, pace time.Duration, fn func(i int) error) error {
	for i := range n {
		start := time.Now()
		if err := fn(i); err != nil {
			return err
		}
		if i < n-1 {
			if err := retry.Sleep(ctx, pace-time.Since(start)); err != nil {
				return err
			}
		}
	}
	return nil
}

type sizes struct{ binary, zip int64 }

func artifactSizes(a Artifacts) (sizes, error) {
	bin, err := os.Stat(a.Binary)
	if err != nil {
		return sizes{}, fmt.Errorf("binary size: %w", err)
	}
	zip, err := os.Stat(a.Zip)
	if err != nil {
		return sizes{}, fmt.Errorf("zip size: %w", err)
	}
	return sizes{binary: bin.Size(), zip: zip.Size()}, nil
}

// rows lays the measurements out for the table.
func rows(o Options, cold time.Duration, w warmResult, l largeResult, s sizes) []Row {
	perCall := w.minimal / minimalCalls
	ratio := float64(w.rotation) / (float64(perCall) * w.callsPerRotation())
	var perAction []string
	for _, action := range slices.Sorted(maps.Keys(w.calls)) {
		perAction = append(perAction, fmt.Sprintf("%s %g", action, float64(w.calls[action])/float64(w.rotations)))
	}
	floor := time.Duration(float64(o.Zones) / float64(o.TEORateLimit) * float64(time.Second))
	return []Row{
		{fmt.Sprintf("cold start of dist/main to Function.Ping (median of %d)", o.ColdStarts), duration(cold), ""},
		{fmt.Sprintf("warm rotation, 1 zone, SSM sink (median of %d invokes)", o.WarmRotations), duration(w.rotation), ""},
		{"API calls per warm rotation", fmt.Sprintf("%g", w.callsPerRotation()), ""},
		{"API calls per warm rotation, by action", strings.Join(perAction, ", "), ""},
		{"RequestLimitExceeded during the warm rotations", strconv.Itoa(w.throttled), "0"},
		{fmt.Sprintf("minimal SDK client, Refresh + UpdateSecret + Describe (median of %d)", o.MinimalRounds), duration(w.minimal), ""},
		{"ratio: warm rotation / (minimal time per call × calls per rotation)", fmt.Sprintf("%.2f", ratio), "≤ 1.5"},
		{fmt.Sprintf("first rotation of %d zones at TEO_RATE_LIMIT=%d (creates the secrets)", o.Zones, o.TEORateLimit), duration(l.first), ""},
		{fmt.Sprintf("rotation of %d zones at TEO_RATE_LIMIT=%d (median of %d)", o.Zones, o.TEORateLimit, o.LargeRuns),
			fmt.Sprintf("%s = %.2f × floor %s", duration(l.steady), float64(l.steady)/float64(floor), duration(floor)), "≤ 1.1 × floor"},
		{fmt.Sprintf("RequestLimitExceeded during the %d-zone rotations", o.Zones), strconv.Itoa(l.throttled), "0"},
		{"peak RSS (VmHWM), 1 zone", mebibytes(w.peakRSS), ""},
		{fmt.Sprintf("peak RSS (VmHWM), %d zones", o.Zones), mebibytes(l.peakRSS), ""},
		{"dist/main", mebibytes(s.binary), ""},
		{"dist/main.zip", mebibytes(s.zip), ""},
	}
}

// Machine describes where the numbers were taken.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}
