package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/rpc"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/envmap"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
)

var demoZones = []string{"zone-demo01", "zone-demo02", "zone-demo03"}

const (
	demoRegion     = "ap-guangzhou"
	demoSecretName = "mpgw-key-{zone}"
	demoVersion    = "current"
	demoAWSRegion  = "us-east-1"
	demoAWSSecret  = "mpgw/{zone}"
)

// demo rotates three zones against the built-in emulator through the real
// SCF runtime path (net/rpc Function.Invoke with a timer event and the role
// credentials in the invoke's Environment), then proves from the emulator's
// and the webhook receiver's own state that every sink holds the live key.
func demo(ctx context.Context, args []string, env Env) int {
	fs := newFlags("demo", env)
	asJSON := fs.Bool("json", false, "print only the report")
	if err := parse(fs, args); err != nil {
		return ExitUsage
	}
	out := env.Stdout
	if *asJSON {
		out = io.Discard
	}
	d, err := startDemo()
	if err != nil {
		fmt.Fprintf(env.Stderr, "demo: %v\n", err)
		return ExitFailed
	}
	defer d.close()

	fmt.Fprintf(out, "mpgw-keyrotator demo\n")
	fmt.Fprintf(out, "  cloud emulator (TEO, SSM, STS with TC3 signatures; AWS Secrets Manager with SigV4): %s\n", d.emu.URL())
	fmt.Fprintf(out, "  Standard Webhooks receiver: %s\n", d.hookURL)
	fmt.Fprintf(out, "  function: SCF Go1 runtime on %s, invoked over net/rpc with a timer event;\n", d.rpcAddr)
	fmt.Fprintf(out, "  the execution-role credentials arrive in the invoke's Environment, as on SCF.\n\n")

	before := map[string]string{}
	for _, z := range demoZones {
		k, _ := d.emu.Key(z)
		before[z] = secret.Fingerprint(k)
	}
	timer := fmt.Sprintf(`{"Type":"Timer","TriggerName":"daily-rotation","Time":%q,"Message":"scheduled"}`, time.Now().UTC().Format(time.RFC3339))
	start := time.Now()
	rep, invokeErr := d.invoke(ctx, timer)
	elapsed := time.Since(start)
	if rep == nil {
		fmt.Fprintf(env.Stderr, "demo: invocation failed: %v\n", invokeErr)
		return ExitFailed
	}
	if *asJSON {
		if err := writeJSON(env.Stdout, rep); err != nil {
			return ExitFailed
		}
	}

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "zone\toutcome\told key\tnew key\tsinks\ttime")
	for _, z := range rep.Zones {
		var sinks []string
		for _, s := range z.Sinks {
			sinks = append(sinks, s.Name+" "+string(s.Outcome))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%dms\n", z.ZoneID, z.Outcome, before[z.ZoneID], z.Fingerprint, strings.Join(sinks, ", "), z.DurationMs)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nreport ok=%v in %s (Refresh calls made: %d)\n\n", rep.OK, elapsed.Round(time.Millisecond), d.emu.Performed("RefreshMultiPathGatewaySecretKey"))

	proven := d.prove(out)
	check, checkErr := d.invoke(ctx, `{"action":"check"}`)
	if check != nil {
		inSync := 0
		for _, z := range check.Zones {
			if z.Outcome == rotate.InSync {
				inSync++
			}
		}
		fmt.Fprintf(out, "\nthe function's own check (direct invoke {\"action\":\"check\"}): %d of %d zones in-sync\n", inSync, len(check.Zones))
	}
	ok := rep.OK && invokeErr == nil && proven && check != nil && check.OK && checkErr == nil
	if ok {
		fmt.Fprintln(out, "\nOK: every zone rotated, and every sink holds the live key.")
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "demo: not every zone was rotated and delivered (invoke: %v, check: %v)\n", invokeErr, checkErr)
	return ExitFailed
}

type demoRun struct {
	emu      *emulator.Emulator
	receiver *webhook.Receiver
	hookSrv  *http.Server
	hookURL  string
	rpcLis   net.Listener
	rpcAddr  string
	client   *rpc.Client
	env      *envmap.Env
}

func startDemo() (*demoRun, error) {
	d := &demoRun{}
	var err error
	if d.emu, err = emulator.Start("127.0.0.1:0", emulator.Options{Zones: demoZones}); err != nil {
		return nil, err
	}
	whsec := stdwebhook.NewSecret()
	if d.receiver, err = webhook.NewReceiver(whsec); err != nil {
		d.close()
		return nil, err
	}
	hookLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.close()
		return nil, err
	}
	d.hookSrv = &http.Server{Handler: d.receiver, ReadHeaderTimeout: 5 * time.Second}
	go d.hookSrv.Serve(hookLis)
	d.hookURL = "http://" + hookLis.Addr().String() + "/teo-key"

	// The function's configuration, as a deploy file would set it. No
	// credentials here: they come with each invoke.
	aws := d.emu.AWSCredential()
	d.env = envmap.New(map[string]string{
		// AWS Secrets Manager too, through the AWS SDK's own variables (on
		// Lambda the role's keys arrive the same way).
		"AWS_SECRET_ID":                    demoAWSSecret,
		"AWS_REGION":                       demoAWSRegion,
		"AWS_ACCESS_KEY_ID":                aws.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":            aws.SecretAccessKey,
		"AWS_SESSION_TOKEN":                aws.SessionToken,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": d.emu.URL(),
		"ZONE_IDS":                         strings.Join(demoZones, ","),
		"TEO_ENDPOINT":                     d.emu.URL(),
		"SSM_ENDPOINT":                     d.emu.URL(),
		"SSM_SECRET_NAME":                  demoSecretName,
		"SSM_VERSION_ID":                   demoVersion,
		"TENCENTCLOUD_REGION":              demoRegion,
		"WEBHOOK_URL":                      d.hookURL,
		"WEBHOOK_SECRET":                   whsec,
	})
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := &keyrotator.Handler{Getenv: d.env.Get, Logger: logger}
	srv := &scf.Server{Handler: h, Setenv: d.env.Set, Logger: logger}
	if d.rpcLis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		d.close()
		return nil, err
	}
	go srv.Serve(d.rpcLis)
	d.rpcAddr = d.rpcLis.Addr().String()
	if d.client, err = rpc.Dial("tcp", d.rpcAddr); err != nil {
		d.close()
		return nil, err
	}
	if err := d.client.Call("Function.Ping", scf.PingRequest{}, &scf.PingResponse{}); err != nil {
		d.close()
		return nil, fmt.Errorf("ping: %w", err)
	}
	return d, nil
}

// invoke sends one event through Function.Invoke as SCF would.
const demoTimeout = 10 * time.Second

func (d *demoRun) invoke(ctx context.Context, payload string) (*rotate.Report, error) {
	role := d.emu.RoleCredential()
	environment, _ := json.Marshal(map[string]string{
		"TENCENTCLOUD_SECRETID":     role.SecretID,
		"TENCENTCLOUD_SECRETKEY":    role.SecretKey,
		"TENCENTCLOUD_SESSIONTOKEN": role.Token,
	})
	// A common SCF function timeout: the demo runs with the platform's timing.
	deadline := time.Now().Add(demoTimeout)
	req := scf.InvokeRequest{
		Payload: []byte(payload), RequestId: keyrotator.NewRequestID(), FunctionName: "mpgw-keyrotator", Namespace: "default",
		Deadline:    scf.InvokeRequest_Timestamp{Seconds: deadline.Unix(), Nanos: int64(deadline.Nanosecond())},
		Environment: string(environment), TencentcloudRegion: demoRegion, TimeLimitInMs: int32(demoTimeout / time.Millisecond), MemoryLimitInMb: 128,
	}
	var resp scf.InvokeResponse
	call := d.client.Go("Function.Invoke", req, &resp, nil)
	select {
	case <-call.Done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if call.Error != nil {
		return nil, call.Error
	}
	var invokeErr error
	if resp.Error != nil {
		invokeErr = errors.New(resp.Error.Message)
		// A failed rotation still has a report: it is in the message's
		// place only when the payload is empty, so run check to show state.
		if len(resp.Payload) == 0 {
			return &rotate.Report{}, invokeErr
		}
	}
	var rep rotate.Report
	if err := json.Unmarshal(resp.Payload, &rep); err != nil {
		return nil, fmt.Errorf("unreadable report: %w", err)
	}
	return &rep, invokeErr
}

// prove compares, zone by zone, the key TEO has live with what SSM, AWS
// Secrets Manager and the webhook receiver hold, reading their own state.
func (d *demoRun) prove(out io.Writer) bool {
	fmt.Fprintln(out, "proof, read from the emulator's and the receiver's own state (fingerprints; keys never printed):")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "zone\tTEO live key\tSSM "+demoSecretName+"@"+demoVersion+"\tAWS "+demoAWSSecret+"@AWSCURRENT\twebhook receiver\t")
	all := true
	for _, z := range demoZones {
		live, _ := d.emu.Key(z)
		ssmValue := ""
		if s, ok := d.emu.Secret(demoRegion, config.ForZone(demoSecretName, z)); ok {
			for _, v := range s.Versions {
				if v.ID == demoVersion {
					ssmValue = v.Value
				}
			}
		}
		awsValue := ""
		if s, ok := d.emu.AWSSecret(demoAWSRegion, config.ForZone(demoAWSSecret, z)); ok {
			for _, v := range s.Versions {
				if slices.Contains(v.Stages, emulator.StageCurrent) {
					awsValue = v.Value
				}
			}
		}
		hooked, _ := d.receiver.Key(z)
		ok := live != "" && ssmValue == live && awsValue == live && hooked.Reveal() == live
		all = all && ok
		mark := "holds the live key"
		if !ok {
			mark = "MISMATCH"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", z, secret.Fingerprint(live), secret.Fingerprint(ssmValue), secret.Fingerprint(awsValue), hooked.Fingerprint(), mark)
	}
	tw.Flush()
	return all
}

func (d *demoRun) close() {
	if d.client != nil {
		d.client.Close()
	}
	if d.rpcLis != nil {
		d.rpcLis.Close()
	}
	if d.hookSrv != nil {
		d.hookSrv.Close()
	}
	if d.emu != nil {
		d.emu.Close()
	}
}
