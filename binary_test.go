package keyrotator_test

import (
	"encoding/json"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/testkit"
)

// TestBuiltBinaryServesSCF builds the function binary and starts it as SCF
// starts a Go1 function: _LAMBDA_SERVER_PORT and the function's
// configuration in its environment, no credentials. The platform's side is
// played over net/rpc with the local wire types: Ping, then Invoke with a
// timer event and the role credentials in Environment.
func TestBuiltBinaryServesSCF(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the function binary")
	}
	t.Parallel()
	zones := []string{"zone-bin1", "zone-bin2"}
	c := testkit.NewCloud(t, zones)
	before := map[string]string{}
	for _, z := range zones {
		before[z] = c.Live(z)
	}

	dir := t.TempDir()
	// KEYROTATOR_BINARY tests a shipped artifact (CI: dist/main from
	// build.sh); otherwise the test builds one.
	bin := os.Getenv("KEYROTATOR_BINARY")
	if bin == "" {
		bin = filepath.Join(dir, "main")
		build := exec.Command("go", "build", "-o", bin, "./function")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build ./function: %v\n%s", err, out)
		}
	}

	port := freePort(t)
	home := filepath.Join(dir, "home") // empty: no credentials file to fall back on
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = []string{
		"_LAMBDA_SERVER_PORT=" + port,
		"ZONE_IDS=" + strings.Join(zones, ","),
		"TEO_ENDPOINT=" + c.Getenv("TEO_ENDPOINT"),
		"SSM_ENDPOINT=" + c.Getenv("SSM_ENDPOINT"),
		"SSM_SECRET_NAME=" + testkit.SecretName,
		"TENCENTCLOUD_REGION=" + testkit.Region,
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
	}
	var stdout, stderr testkit.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed once the process is gone; waitErr is then set.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	addr := net.JoinHostPort("127.0.0.1", port)
	client := dialWhenListening(t, addr, exited, func() error { return waitErr }, &stderr)
	defer client.Close()
	if err := client.Call("Function.Ping", scf.PingRequest{}, &scf.PingResponse{}); err != nil {
		t.Fatalf("Function.Ping: %v", err)
	}

	secrets := append([]string{c.Emu.RoleCredential().SecretKey, c.Emu.RoleCredential().Token}, c.Keys(zones)...)
	for _, k := range before {
		secrets = append(secrets, k)
	}
	call := func(payload []byte, environment string) scf.InvokeResponse {
		t.Helper()
		// Production timing: the delivery budget is well under SCF's 900s.
		req := invokeRequest(payload, time.Now().Add(10*time.Minute), environment)
		var resp scf.InvokeResponse
		if err := client.Call("Function.Invoke", req, &resp); err != nil {
			t.Fatalf("Function.Invoke: %v\nstderr:\n%s", err, stderr.String())
		}
		secrets = append(secrets, c.Keys(zones)...)
		out := []string{string(resp.Payload), stdout.String(), stderr.String(), c.Logs.String()}
		if resp.Error != nil {
			out = append(out, resp.Error.Message)
		}
		testkit.AssertNoLeak(t, secrets, out...)
		return resp
	}
	timer := timerEvent(t, "nightly-rotate", time.Now().UTC().Format(time.RFC3339), "scheduled")

	// Without Environment the process has no credentials at all.
	resp := call(timer, "")
	if resp.Error == nil || !strings.Contains(resp.Error.Message, "TENCENTCLOUD_SECRETID") {
		t.Fatalf("invoke without credentials: payload %q, error %+v", resp.Payload, resp.Error)
	}
	if n := c.Emu.Calls(scfDescribe) + c.Emu.Calls(scfRefresh); n != 0 {
		t.Fatalf("%d TEO calls without credentials", n)
	}

	resp = call(timer, roleEnvironment(c))
	if resp.Error != nil {
		t.Fatalf("timer invoke: %+v\nstderr:\n%s", resp.Error, stderr.String())
	}
	rep := decodeReport(t, resp.Payload)
	if !rep.OK || len(rep.Zones) != len(zones) {
		t.Fatalf("report: %s", resp.Payload)
	}
	for _, z := range rep.Zones {
		live := c.Live(z.ZoneID)
		switch {
		case z.Outcome != rotate.Rotated:
			t.Errorf("%s: %s (%s)", z.ZoneID, z.Outcome, z.Error)
		case live == before[z.ZoneID]:
			t.Errorf("%s: key not changed", z.ZoneID)
		case c.SSMValue(z.ZoneID) != live:
			t.Errorf("%s: SSM holds %s, live is %s", z.ZoneID, secret.Fingerprint(c.SSMValue(z.ZoneID)), secret.Fingerprint(live))
		case z.Fingerprint != secret.Fingerprint(live):
			t.Errorf("%s: report fingerprint %s, live %s", z.ZoneID, z.Fingerprint, secret.Fingerprint(live))
		}
	}
	if got := c.Emu.Performed(scfRefresh); got != len(zones) {
		t.Errorf("%d refreshes, want %d", got, len(zones))
	}

	// The binary's own check agrees, and its log is JSON lines on stderr.
	resp = call([]byte(`{"action":"check"}`), roleEnvironment(c))
	if resp.Error != nil {
		t.Fatalf("check invoke: %+v", resp.Error)
	}
	if rep := decodeReport(t, resp.Payload); !rep.OK || outcomes(rep)[zones[0]] != rotate.InSync || outcomes(rep)[zones[1]] != rotate.InSync {
		t.Errorf("check report: %s", resp.Payload)
	}
	if !strings.Contains(stderr.String(), `"msg":"zone done"`) || !strings.Contains(stderr.String(), `"msg":"scf runtime listening"`) {
		t.Errorf("stderr lacks the runtime's and the zones' log lines:\n%s", stderr.String())
	}
	for line := range strings.Lines(stderr.String()) {
		if !json.Valid([]byte(line)) {
			t.Errorf("stderr line is not JSON: %q", line)
		}
	}
	if stdout.String() != "" {
		t.Errorf("the SCF runtime wrote to stdout: %q", stdout.String())
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// dialWhenListening waits, up to a deadline, for the process to accept on
// addr: polling for a server to come up, failing at once if it exits.
func dialWhenListening(t *testing.T, addr string, exited <-chan struct{}, waitErr func() error, stderr *testkit.Buffer) *rpc.Client {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return rpc.NewClient(conn)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the function did not listen on %s: %v\nstderr:\n%s", addr, err, stderr.String())
		}
		select {
		case <-exited:
			t.Fatalf("the function exited before listening: %v\nstderr:\n%s", waitErr(), stderr.String())
		case <-tick.C:
		}
	}
}
