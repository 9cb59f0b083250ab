package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
)

// serveEmulator runs the built-in cloud emulator until interrupted, after
// printing, as shell exports, everything a client needs to use it.
func serveEmulator(ctx context.Context, args []string, env Env) int {
	fs := newFlags("emulator", env)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	zonesFlag := fs.String("zones", "", "zones that exist, comma separated (default: ZONE_IDS, else three demo zones)")
	if err := parse(fs, args); err != nil {
		return ExitUsage
	}
	zoneList := *zonesFlag
	if zoneList == "" {
		zoneList = env.Getenv("ZONE_IDS")
	}
	zones := demoZones
	if strings.TrimSpace(zoneList) != "" {
		var err error
		if zones, err = config.ParseZones(zoneList); err != nil {
			fmt.Fprintf(env.Stderr, "emulator: --zones: %v\n", err)
			return ExitUsage
		}
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil || !endpoint.IsLoopback(host) {
		// The control surface has no authentication and the credentials
		// are printed: say so when the emulator is reachable from outside.
		fmt.Fprintf(env.Stderr, "emulator: warning: %s is not a loopback address; anyone who can reach it can read its state and inject faults\n", *addr)
	}
	logger := slog.New(slog.NewJSONHandler(env.Stderr, nil))
	emu, err := emulator.Start(*addr, emulator.Options{Zones: zones, Logger: logger})
	if err != nil {
		fmt.Fprintf(env.Stderr, "emulator: %v\n", err)
		return ExitFailed
	}
	defer emu.Close()

	perm, role, awsCred := emu.PermanentCredential(), emu.RoleCredential(), emu.AWSCredential()
	fmt.Fprintf(env.Stdout, `# mpgw-keyrotator cloud emulator (TEO, SSM, STS, AWS Secrets Manager) listening on %[1]s
# state: curl %[1]s/_emulator/state    faults: POST %[1]s/_emulator/faults
export TEO_ENDPOINT=%[1]s
export SSM_ENDPOINT=%[1]s
export STS_ENDPOINT=%[1]s
export SSM_REGION=ap-guangzhou
export ZONE_IDS=%[2]s
# permanent key (CLI use):
export TENCENTCLOUD_SECRET_ID=%[3]s
export TENCENTCLOUD_SECRET_KEY=%[4]s
# temporary execution-role credentials (as SCF sets them), valid until %[8]s:
# TENCENTCLOUD_SECRETID=%[5]s
# TENCENTCLOUD_SECRETKEY=%[6]s
# TENCENTCLOUD_SESSIONTOKEN=%[7]s
# AWS Secrets Manager (temporary credentials, as Lambda sets them), valid until %[12]s:
export AWS_ACCESS_KEY_ID=%[9]s
export AWS_SECRET_ACCESS_KEY=%[10]s
export AWS_SESSION_TOKEN=%[11]s
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_SECRETS_MANAGER=%[1]s
`, emu.URL(), strings.Join(zones, ","), perm.SecretID, perm.SecretKey, role.SecretID, role.SecretKey, role.Token, role.Expires.UTC().Format("2006-01-02T15:04:05Z"),
		awsCred.AccessKeyID, awsCred.SecretAccessKey, awsCred.SessionToken, awsCred.Expires.UTC().Format("2006-01-02T15:04:05Z"))

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return ExitOK
}
