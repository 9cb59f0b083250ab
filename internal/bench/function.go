package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/emulator"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
)

const (
	region     = "ap-guangzhou"
	secretName = "mpgw-key-{zone}"
	versionID  = "current"

	// startTimeout bounds one start of the binary until Ping answers.
	startTimeout = 10 * time.Second
	// dialInterval is the polling step while the binary comes up: small
	// beside a cold start of a few milliseconds.
	dialInterval = 200 * time.Microsecond
	// answerGrace is how long past its deadline an invocation may take to
	// answer before the harness gives up on the process.
	answerGrace = 10 * time.Second
)

// function is the release binary running under the SCF Go1 runtime
// protocol, with a net/rpc client connected to it.
type function struct {
	cmd     *exec.Cmd
	client  *rpc.Client
	stderr  *tailBuffer
	exited  chan struct{} // closed once the process is gone; waitErr is then set
	waitErr error
}

// startFunction starts binary as SCF starts a Go1 function: the port and
// the configuration in its environment, no credentials, a HOME without a
// credentials file. It returns once Function.Ping answers, with the time
// from the process start until then.
func startFunction(ctx context.Context, binary, home string, config map[string]string) (*function, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(binary)
	cmd.Dir = home
	cmd.Env = []string{scf.PortEnv + "=" + port, "HOME=" + home}
	for k, v := range config {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	f := &function{cmd: cmd, stderr: &tailBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = f.stderr

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("starting %s: %w", binary, err)
	}
	go func() {
		f.waitErr = cmd.Wait()
		close(f.exited)
	}()
	if err := f.ping(ctx, net.JoinHostPort("127.0.0.1", port), start.Add(startTimeout)); err != nil {
		f.stop()
		return nil, 0, err
	}
	return f, time.Since(start), nil
}

// ping dials addr until the process accepts, then calls Function.Ping.
func (f *function) ping(ctx context.Context, addr string, deadline time.Time) error {
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			f.client = rpc.NewClient(conn)
			if err := f.client.Call("Function.Ping", scf.PingRequest{}, &scf.PingResponse{}); err != nil {
				return fmt.Errorf("Function.Ping: %w", err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the function did not listen on %s within %s: %w\nstderr: %s", addr, startTimeout, err, f.stderr)
		}
		select {
		case <-f.exited:
			return fmt.Errorf("the function exited before listening: %v\nstderr: %s", f.waitErr, f.stderr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(dialInterval):
		}
	}
}

// stop kills the process and waits until it is gone.
func (f *function) stop() {
	if f.client != nil {
		_ = f.client.Close()
	}
	_ = f.cmd.Process.Kill()
	<-f.exited
}

// invoke sends a direct event through Function.Invoke as SCF does: the role
// credentials in Environment, a deadline timeLimit away. It returns the time
// until the answer, and an error unless the report is ok.
func (f *function) invoke(ctx context.Context, payload string, role emulator.Credential, timeLimit time.Duration) (time.Duration, error) {
	environment, err := json.Marshal(map[string]string{
		"TENCENTCLOUD_SECRETID":     role.SecretID,
		"TENCENTCLOUD_SECRETKEY":    role.SecretKey,
		"TENCENTCLOUD_SESSIONTOKEN": role.Token,
	})
	if err != nil {
		return 0, fmt.Errorf("encoding the invoke's Environment: %w", err)
	}
	start := time.Now()
	deadline := start.Add(timeLimit)
	req := scf.InvokeRequest{
		Payload:            []byte(payload),
		RequestId:          "bench-" + strconv.FormatInt(start.UnixNano(), 36),
		FunctionName:       "mpgw-keyrotator",
		Namespace:          "default",
		Deadline:           scf.InvokeRequest_Timestamp{Seconds: deadline.Unix(), Nanos: int64(deadline.Nanosecond())},
		TimeLimitInMs:      int32(timeLimit / time.Millisecond),
		MemoryLimitInMb:    128,
		Environment:        string(environment),
		TencentcloudRegion: region,
	}
	var resp scf.InvokeResponse
	call := f.client.Go("Function.Invoke", req, &resp, nil)
	select {
	case <-call.Done:
	case <-time.After(timeLimit + answerGrace):
		return 0, fmt.Errorf("Function.Invoke %s: no answer %s after the deadline", payload, answerGrace)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	elapsed := time.Since(start)
	if call.Error != nil {
		return 0, fmt.Errorf("Function.Invoke %s: %w\nstderr: %s", payload, call.Error, f.stderr)
	}
	if resp.Error != nil {
		return 0, fmt.Errorf("Function.Invoke %s: invocation error %s: %s", payload, resp.Error.Type, resp.Error.Message)
	}
	return elapsed, reportOK(resp.Payload)
}

// reportOK reads only what the bench needs from the function's report.
func reportOK(payload []byte) error {
	var rep struct {
		OK    bool
		Zones []struct{ ZoneID, Outcome, Error string }
	}
	if err := json.Unmarshal(payload, &rep); err != nil {
		return fmt.Errorf("decoding the report: %w", err)
	}
	if rep.OK {
		return nil
	}
	for _, z := range rep.Zones {
		if z.Outcome != "rotated" {
			return fmt.Errorf("report not ok: %s %s: %s", z.ZoneID, z.Outcome, z.Error)
		}
	}
	return errors.New("report not ok")
}

// peakRSS is the process's high-water resident set size (VmHWM), in bytes.
func (f *function) peakRSS() (int64, error) {
	path := "/proc/" + strconv.Itoa(f.cmd.Process.Pid) + "/status"
	status, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		kb, found := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !found {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("peak RSS: VmHWM in %s: %w", path, err)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM in %s", path)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// tailBuffer keeps the last tailBytes of the function's log for error
// messages; the function never logs a key.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 4 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if extra := len(b.buf) - tailBytes; extra > 0 {
		b.buf = append(b.buf[:0], b.buf[extra:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
