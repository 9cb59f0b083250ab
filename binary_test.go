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
	"sync"
	"testing"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
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

	// KEYROTATOR_BINARY tests a shipped artifact (CI: dist/main from
	// build.sh); otherwise the run's one build.
	bin := functionBinary(t, "KEYROTATOR_BINARY")
	port := freePort(t)
	p := startProcess(t, bin, []string{
		"_LAMBDA_SERVER_PORT=" + port,
		"ZONE_IDS=" + strings.Join(zones, ","),
		"TEO_ENDPOINT=" + c.Getenv("TEO_ENDPOINT"),
		"SSM_ENDPOINT=" + c.Getenv("SSM_ENDPOINT"),
		"SSM_SECRET_NAME=" + testkit.SecretName,
		"TENCENTCLOUD_REGION=" + testkit.Region,
	})
	stdout, stderr := p.stdout, p.stderr

	addr := net.JoinHostPort("127.0.0.1", port)
	client := dialWhenListening(t, addr, p)
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
	if n := c.Emu.Calls(actionDescribe) + c.Emu.Calls(actionRefresh); n != 0 {
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
		assertRotated(t, c, z, before[z.ZoneID], nil)
	}
	if got := c.Emu.Performed(actionRefresh); got != len(zones) {
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
	p.stop() // every line the answers were written after is in stderr now, and no line half copied
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
func dialWhenListening(t *testing.T, addr string, p *process) *rpc.Client {
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
			t.Fatalf("the function did not listen on %s: %v\nstderr:\n%s", addr, err, p.stderr.String())
		}
		select {
		case <-p.exited:
			t.Fatalf("the function exited before listening: %v\nstderr:\n%s", p.waitErr, p.stderr.String())
		case <-tick.C:
		}
	}
}

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// functionBinary is the function binary the process tests run: the artifact
// envVar names (CI: build.sh's), else the run's one build of ./function
// (removed by TestMain).
func functionBinary(t *testing.T, envVar string) string {
	t.Helper()
	if bin := os.Getenv(envVar); bin != "" {
		return bin
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "keyrotator-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "main")
		build := exec.Command("go", "build", "-o", built.bin, "./function")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		built.out, built.err = build.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build ./function: %v\n%s", built.err, built.out)
	}
	return built.bin
}

func removeBuiltBinary() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// process is the function binary running as the platform starts it.
type process struct {
	stdout, stderr *testkit.Buffer
	exited         chan struct{} // closed once the process is gone; waitErr is then set
	waitErr        error
	kill           func()
}

// startProcess runs bin in a fresh directory with env, PATH and an empty
// HOME (no credentials file to fall back on), until the test ends.
func startProcess(t *testing.T, bin string, env []string) *process {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(env, "PATH="+os.Getenv("PATH"), "HOME="+home)
	p := &process{stdout: &testkit.Buffer{}, stderr: &testkit.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	p.kill = func() { _ = cmd.Process.Kill() }
	t.Cleanup(p.stop)
	return p
}

// stop ends the process and waits until everything it wrote is in stdout
// and stderr: the copying from its pipes ends before Wait returns.
func (p *process) stop() {
	p.kill()
	<-p.exited
}
