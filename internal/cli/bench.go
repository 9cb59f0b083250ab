package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/bench"
)

// runBench builds the release binary with ./build.sh and measures it on the
// built-in emulator: a Markdown table on stdout, progress on stderr.
func runBench(ctx context.Context, args []string, env Env) int {
	fs := newFlags("bench", env)
	o := bench.DefaultOptions()
	fs.IntVar(&o.ColdStarts, "cold", o.ColdStarts, "process starts for the cold-start median")
	fs.IntVar(&o.WarmRotations, "warm", o.WarmRotations, "warm one-zone invocations for their median")
	fs.IntVar(&o.MinimalRounds, "minimal", o.MinimalRounds, "rounds of the minimal SDK client for its median")
	fs.IntVar(&o.Zones, "zones", o.Zones, "zones of the large rotation")
	fs.IntVar(&o.LargeRuns, "large-runs", o.LargeRuns, "steady-state rotations of all zones for their median")
	fs.DurationVar(&o.Pace, "pace", o.Pace, "least time between the starts of two one-zone rotations")
	if err := parse(fs, args); err != nil {
		return ExitUsage
	}
	counts := []struct {
		flag string
		n    int
	}{{"cold", o.ColdStarts}, {"warm", o.WarmRotations}, {"minimal", o.MinimalRounds}, {"zones", o.Zones}, {"large-runs", o.LargeRuns}}
	for _, c := range counts {
		if c.n <= 0 {
			fmt.Fprintf(env.Stderr, "bench: --%s must be positive\n", c.flag)
			return ExitUsage
		}
	}
	if _, err := os.Stat("build.sh"); err != nil {
		fmt.Fprintf(env.Stderr, "bench: run from the repository root (./build.sh): %v\n", err)
		return ExitUsage
	}
	o.Progress = env.Stderr
	artifacts, err := bench.Build(ctx, ".", env.Stderr)
	if err != nil {
		fmt.Fprintf(env.Stderr, "bench: %v\n", err)
		return ExitFailed
	}
	rows, err := bench.Run(ctx, artifacts, o)
	if err != nil {
		fmt.Fprintf(env.Stderr, "bench: %v\n", err)
		return ExitFailed
	}
	fmt.Fprintf(env.Stdout, "mpgw-keyrotator bench on %s, emulator on loopback\n\n%s", bench.Machine(), bench.Markdown(rows))
	return ExitOK
}
