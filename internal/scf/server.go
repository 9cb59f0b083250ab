// Package scf runs a Handler as a Tencent SCF Go1 event function. It speaks the
// platform's wire protocol in-tree (net/rpc with the gob codec, service
// "Function", methods Ping and Invoke), compatible with
// github.com/tencentyun/scf-go-lib, which the module proxy does not serve.
package scf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/rpc"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// PortEnv names the variable through which the platform tells a Go1 function
// which TCP port to listen on.
const PortEnv = "_LAMBDA_SERVER_PORT"

// Handler handles one invocation: payload is the event JSON, the result is the
// response JSON.
type Handler interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

// Invoke calls f.
func (f HandlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// Server serves the Go1 runtime protocol for one Handler. A Server must not be
// copied after its first Serve.
type Server struct {
	Handler Handler
	Logger  *slog.Logger                  // nil discards
	Setenv  func(key, value string) error // nil means os.Setenv

	once   sync.Once
	rpc    *rpc.Server
	regErr error

	// mu serialises invocations: an event-function instance handles one call
	// at a time, and the process environment the platform updates per call is
	// shared by all of them.
	mu sync.Mutex
}

// Serve accepts connections on l and serves each one until l fails; it then
// returns the Accept error (net.ErrClosed after l.Close).
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		return errors.New("scf: Server.Handler is nil")
	}
	s.once.Do(func() {
		// A private rpc.Server rather than rpc.DefaultServer, so Servers and
		// tests cannot collide on the name "Function".
		s.rpc = rpc.NewServer()
		s.regErr = s.rpc.RegisterName("Function", &function{s: s})
	})
	if s.regErr != nil {
		return fmt.Errorf("scf: register rpc service: %w", s.regErr)
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		go s.rpc.ServeConn(conn)
	}
}

// ListenAndServe listens where the platform expects (see Addr) and serves h.
func ListenAndServe(h Handler, logger *slog.Logger) error {
	addr, err := Addr(os.Getenv)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("scf: listen: %w", err)
	}
	srv := &Server{Handler: h, Logger: logger}
	srv.logger().Info("scf runtime listening", slog.String("addr", l.Addr().String()))
	return srv.Serve(l)
}

// Addr returns the listen address from the environment: all interfaces, as
// scf-go-lib has used since 2023-09 (it listened on localhost before), on the
// port in _LAMBDA_SERVER_PORT.
func Addr(getenv func(string) string) (string, error) {
	v := getenv(PortEnv)
	if v == "" {
		return "", fmt.Errorf("scf: %s is not set", PortEnv)
	}
	port, err := strconv.ParseUint(v, 10, 16)
	if err != nil || port == 0 {
		return "", fmt.Errorf("scf: %s=%q is not a TCP port (1-65535)", PortEnv, v)
	}
	return net.JoinHostPort("0.0.0.0", strconv.FormatUint(port, 10)), nil
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Server) setenv(key, value string) error {
	if s.Setenv == nil {
		return os.Setenv(key, value)
	}
	return s.Setenv(key, value)
}

// function is the receiver registered as the rpc service "Function"; it has no
// other exported methods because net/rpc would consider them too.
type function struct{ s *Server }

// Ping answers the platform's liveness probe.
func (f *function) Ping(_ *PingRequest, resp *PingResponse) error {
	*resp = PingResponse{}
	return nil
}

// Invoke runs the handler for one event. It always returns nil: as with
// scf-go-lib, the platform reads function failures from resp.Error, and an
// RPC error is reserved for a broken runtime.
func (f *function) Invoke(req *InvokeRequest, resp *InvokeResponse) error {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()

	start := time.Now()
	*resp = s.invoke(req)

	attrs := []slog.Attr{
		slog.String("requestId", req.RequestId),
		slog.String("functionName", req.FunctionName),
		slog.String("namespace", req.Namespace),
		slog.Duration("duration", time.Since(start)),
		slog.Bool("error", resp.Error != nil),
	}
	if resp.Error != nil {
		// The type, not the message: messages may quote upstream responses.
		attrs = append(attrs, slog.String("errorType", resp.Error.Type))
	}
	s.logger().LogAttrs(context.Background(), slog.LevelInfo, "invocation", attrs...)
	return nil
}

func (s *Server) invoke(req *InvokeRequest) InvokeResponse {
	inv := Invocation{
		RequestID:             req.RequestId,
		TraceID:               req.TraceId,
		FunctionName:          req.FunctionName,
		FunctionVersion:       req.FunctionVersion,
		Namespace:             req.Namespace,
		Region:                req.TencentcloudRegion,
		AppID:                 req.TencentcloudAppID,
		Uin:                   req.TencentcloudUin,
		InvokedFunctionUnique: req.InvokedFunctionUnique,
		MemoryLimitInMB:       req.MemoryLimitInMb,
		TimeLimitInMs:         req.TimeLimitInMs,
	}
	if req.Environment != "" {
		if err := json.Unmarshal([]byte(req.Environment), &inv.Environment); err != nil {
			return InvokeResponse{Error: causeError("scf: decode request Environment", err)}
		}
		if e := s.applyEnv(inv.Environment); e != nil {
			return InvokeResponse{Error: e}
		}
	}

	var (
		ctx    context.Context
		cancel context.CancelFunc
	)
	if d := req.Deadline; d == (InvokeRequest_Timestamp{}) {
		ctx, cancel = context.WithCancel(context.Background())
	} else {
		inv.Deadline = time.Unix(d.Seconds, d.Nanos).UTC()
		ctx, cancel = context.WithDeadline(context.Background(), inv.Deadline)
	}
	// Whatever the handler started with ctx must stop once the platform has
	// the answer.
	defer cancel()

	payload, e := call(NewContext(ctx, inv), s.Handler, req.Payload)
	return InvokeResponse{Payload: payload, Error: e}
}

// applyEnv sets the request's variables in a stable order. SCF delivers fresh
// execution-role credentials this way, so they must be in place before every
// call. Only the names are logged: the values are secrets.
func (s *Server) applyEnv(env map[string]string) *InvokeResponse_Error {
	keys := slices.Sorted(maps.Keys(env))
	for _, k := range keys {
		if err := s.setenv(k, env[k]); err != nil {
			return causeError(fmt.Sprintf("scf: set Environment variable %q", k), err)
		}
	}
	s.logger().Debug("applied request environment", slog.Any("names", keys))
	return nil
}
