// Package cli is the command line of the function binary: the same code
// the platforms run, driven by hand (rotate, sync, check, invoke), plus the
// built-in emulator and the demo.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/version"
)

// Exit codes of the contract.
const (
	ExitOK     = 0 // every zone good
	ExitFailed = 1 // a zone failed, was skipped or drifted; an API error
	ExitUsage  = 2 // bad usage or configuration, found before any API call
)

// Env is what a command reads from its surroundings.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Handler runs rotate/sync/check/invoke; nil = one on Getenv.
	Handler *keyrotator.Handler
}

const usage = `usage: main <command> [flags]

  rotate [--zones a,b] [--dry-run]  rotate now, print the report
  sync   [--zones a,b]              deliver the live key to every sink whose copy differs; never rotates
  check  [--zones a,b]              compare the live key with every readable sink; exit 1 on drift
  invoke --event FILE               run the handler once on an event JSON, as the platform would (- = stdin)
  demo   [--json]                   rotate 3 zones on the built-in emulator, end to end, and prove it
  emulator [--addr 127.0.0.1:0]     serve the built-in TEO/SSM/STS emulator
  bench  [--zones 200] [--cold 20]  build with ./build.sh, measure it on the emulator, print a Markdown table
  version                           version, commit, Go version

rotate, sync, check and invoke read the configuration from the environment
(ZONE_IDS, SSM_SECRET_NAME, WEBHOOK_URL, …; see README.md) and take
--timeout (default 10m). Exit codes: 0 ok, 1 a zone failed, was skipped or
drifted, 2 bad usage or configuration.
`

// Main runs the command in args and returns the exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stdin == nil {
		env.Stdin = os.Stdin
	}
	if env.Handler == nil {
		env.Handler = &keyrotator.Handler{Getenv: env.Getenv}
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return ExitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "rotate", "sync", "check":
		return runAction(ctx, rotate.Action(cmd), rest, env)
	case "invoke":
		return invoke(ctx, rest, env)
	case "demo":
		return demo(ctx, rest, env)
	case "emulator":
		return serveEmulator(ctx, rest, env)
	case "bench":
		return runBench(ctx, rest, env)
	case "version", "--version":
		if err := parse(newFlags("version", env), rest); err != nil {
			return ExitUsage
		}
		fmt.Fprintln(env.Stdout, version.String())
		return ExitOK
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "unknown command %q\n\n%s", cmd, usage)
	return ExitUsage
}

func newFlags(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses flags and refuses stray arguments. The flag package has
// already printed its own errors; a stray argument is printed here.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
		fmt.Fprintln(fs.Output(), err)
		return err
	}
	return nil
}

// positive refuses a zero or negative --timeout: it would skip every zone.
func positive(fs *flag.FlagSet, name string, d time.Duration) error {
	if d > 0 {
		return nil
	}
	err := fmt.Errorf("%s: --%s must be positive", fs.Name(), name)
	fmt.Fprintln(fs.Output(), err)
	return err
}

func runAction(ctx context.Context, action rotate.Action, args []string, env Env) int {
	fs := newFlags(string(action), env)
	zones := fs.String("zones", "", "comma separated zone ids (default: all of ZONE_IDS)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	usage := "inspect only: refresh nothing, write nothing"
	if action != rotate.Rotate {
		usage = "refused: rotate only"
	}
	dryRun := fs.Bool("dry-run", false, usage)
	if err := parse(fs, args); err != nil || positive(fs, "timeout", *timeout) != nil {
		return ExitUsage
	}
	if *dryRun && action != rotate.Rotate {
		// Accepted and ignored, sync would write while its report said dry run.
		fmt.Fprintf(env.Stderr, "%s: --dry-run (dryRun) is for rotate only: %s has no dry run (check is already read-only)\n", action, action)
		return ExitUsage
	}
	cfg, err := env.Handler.Config()
	if err != nil {
		fmt.Fprintln(env.Stderr, err)
		return ExitUsage
	}
	req := rotate.Request{Action: action, DryRun: *dryRun}
	if *zones != "" {
		req.Zones, err = config.ParseZones(*zones)
		if err != nil {
			fmt.Fprintf(env.Stderr, "--zones: %v\n", err)
			return ExitUsage
		}
		for _, z := range req.Zones {
			if !slices.Contains(cfg.Zones, z) {
				fmt.Fprintf(env.Stderr, "--zones: %s is not in ZONE_IDS; only allowed zones can be touched\n", z)
				return ExitUsage
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep, err := env.Handler.Run(ctx, req)
	if err != nil {
		fmt.Fprintln(env.Stderr, err)
		if config.IsConfigError(err) {
			return ExitUsage
		}
		return ExitFailed
	}
	if err := writeJSON(env.Stdout, rep); err != nil {
		fmt.Fprintln(env.Stderr, err)
		return ExitFailed
	}
	if !rep.OK {
		return ExitFailed
	}
	return ExitOK
}

func invoke(ctx context.Context, args []string, env Env) int {
	fs := newFlags("invoke", env)
	file := fs.String("event", "", "event JSON file, - for stdin")
	timeout := fs.Duration("timeout", 10*time.Minute, "the invocation deadline")
	if err := parse(fs, args); err != nil || positive(fs, "timeout", *timeout) != nil {
		return ExitUsage
	}
	if *file == "" {
		fmt.Fprintln(env.Stderr, "invoke: --event FILE is required (- reads stdin)")
		return ExitUsage
	}
	var payload []byte
	var err error
	if *file == "-" {
		payload, err = io.ReadAll(io.LimitReader(env.Stdin, 6<<20))
	} else {
		payload, err = os.ReadFile(*file)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "invoke: reading the event: %v\n", err)
		return ExitUsage
	}
	if _, err := env.Handler.Config(); err != nil {
		fmt.Fprintln(env.Stderr, err)
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	out, err := env.Handler.Invoke(ctx, payload)
	if len(out) > 0 {
		fmt.Fprintln(env.Stdout, string(out))
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "invocation error: %v\n", err)
		var bad *keyrotator.EventError
		if errors.As(err, &bad) || config.IsConfigError(err) {
			return ExitUsage
		}
		return ExitFailed
	}
	// An HTTP event always answers; its status says whether the job was done.
	var answer struct {
		StatusCode *int `json:"statusCode"`
	}
	if json.Unmarshal(out, &answer) == nil && answer.StatusCode != nil && *answer.StatusCode >= 300 {
		fmt.Fprintf(env.Stderr, "HTTP answer %d\n", *answer.StatusCode)
		return ExitFailed
	}
	return ExitOK
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
