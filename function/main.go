// Command main is the function binary. It picks its runtime from the
// environment: AWS Lambda when AWS_LAMBDA_RUNTIME_API is set, the Tencent
// SCF Go1 runtime when _LAMBDA_SERVER_PORT is set, else the command line.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/cli"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
)

func main() {
	switch {
	case os.Getenv("AWS_LAMBDA_RUNTIME_API") != "":
		startLambda(keyrotator.New())
	case os.Getenv(scf.PortEnv) != "":
		logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
		// ListenAndServe returns only when serving has failed; SCF then
		// starts a new instance.
		err := scf.ListenAndServe(keyrotator.New(), logger)
		fmt.Fprintf(os.Stderr, "scf runtime: %v\n", err)
		os.Exit(1)
	default:
		os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr}))
	}
}
