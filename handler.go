// Package keyrotator is the function: it turns an event from any runtime
// (SCF, Lambda, the command line) into an action on a set of zones, runs it
// with the rotation engine, and answers with a report.
//
//	event -> action -> per-zone plan -> TEO call -> sinks -> verify -> report
package keyrotator

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/credentials"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/endpoint"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/httptrigger"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/awssm"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/ssm"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink/webhook"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/stdwebhook"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/tcapi"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/teo"
)

// Handler runs requests. One Handler lives as long as the process: it keeps
// what must survive between invocations (rotation records of this instance,
// webhook-ids already served); configuration and credentials are read
// afresh for every invocation, because SCF renews them through each invoke.
type Handler struct {
	// Getenv reads the configuration; nil = os.Getenv.
	Getenv func(string) string
	// Logger receives one JSON line per event; nil = stderr at LOG_LEVEL.
	Logger *slog.Logger
	// Transport carries API and webhook requests; nil = shared defaults.
	Transport http.RoundTripper
	// Tuning overrides timeouts and retry pacing; zero = production values.
	Tuning Tuning
	// Roles keeps the credentials ROLE_ARN's AssumeRole returned across
	// invocations until shortly before they expire; nil = the Handler's own.
	Roles *credentials.RoleCache

	once   sync.Once
	memory *rotate.Memory
	replay *httptrigger.ReplayGuard
	roles  *credentials.RoleCache

	limitsMu sync.Mutex
	limits   map[limitsKey]*tcapi.Limits
}

// limitsKey names one service's rate limits: a warm instance keeps them
// across invocations, so that invocations in quick succession still never
// exceed the service's limit together.
type limitsKey struct {
	service string
	rate    float64 // the configured per-action rate (TEO)
}

func (h *Handler) limitsFor(key limitsKey, perAction map[string]float64) *tcapi.Limits {
	h.limitsMu.Lock()
	defer h.limitsMu.Unlock()
	if h.limits == nil {
		h.limits = map[limitsKey]*tcapi.Limits{}
	}
	l, ok := h.limits[key]
	if !ok {
		l = tcapi.NewLimits(key.rate, perAction)
		h.limits[key] = l
	}
	return l
}

// ReplayWindow is how long a served webhook-id is remembered: twice the
// Standard Webhooks timestamp tolerance, so a replay is refused for as long
// as its signature could still verify.
const ReplayWindow = 2 * stdwebhook.Tolerance

func (h *Handler) init() {
	h.once.Do(func() {
		h.memory = rotate.NewMemory()
		h.replay = httptrigger.NewReplayGuard(ReplayWindow, 10000)
		h.roles = cmp.Or(h.Roles, &credentials.RoleCache{})
	})
}

func (h *Handler) replayGuard() *httptrigger.ReplayGuard {
	h.init()
	return h.replay
}

// Tuning holds the timing knobs. Tests shrink them; production leaves them zero.
type Tuning struct {
	APITimeout     time.Duration // one Tencent Cloud API request
	APIRetry       retry.Policy  // retries of idempotent API calls
	WebhookRetry   retry.Policy  // webhook attempts
	WebhookTimeout time.Duration // one webhook attempt
	RefreshRetry   retry.Policy  // refresh attempts proven not to have happened
	Workers        int           // zones in flight after the canary
	Margin         time.Duration // kept free before the deadline
}

// New returns a Handler reading the process environment.
func New() *Handler { return &Handler{} }

func (h *Handler) getenv(name string) string {
	if h.Getenv != nil {
		return h.Getenv(name)
	}
	return os.Getenv(name)
}

// Config loads and validates the configuration of the moment.
func (h *Handler) Config() (config.Config, error) { return config.Load(h.getenv) }

// envFor reads the environment of one invocation: the process's, where
// TENCENTCLOUD_REGION falls back to the region SCF names in the invoke (the
// Go1 runtime passes it there, not as a variable).
func (h *Handler) envFor(ctx context.Context) func(string) string {
	inv, ok := scf.FromContext(ctx)
	if !ok || inv.Region == "" {
		return h.getenv
	}
	return func(name string) string {
		if v := h.getenv(name); v != "" || name != "TENCENTCLOUD_REGION" {
			return v
		}
		return inv.Region
	}
}

func (h *Handler) logger(cfg *config.Config) *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	level := slog.LevelInfo
	if cfg != nil {
		level = cfg.LogLevel
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Run executes req with the configuration and credentials of the moment. An
// error means nothing was attempted: bad configuration (config.Error) or no
// credentials; everything else is in the report.
func (h *Handler) Run(ctx context.Context, req rotate.Request) (rotate.Report, error) {
	if req.DryRun && req.Action != rotate.Rotate {
		// The engine would ignore it: sync would write while the report said dry run.
		return rotate.Report{}, &EventError{fmt.Errorf("dryRun is for rotate only: %s has no dry run", req.Action)}
	}
	getenv := h.envFor(ctx)
	cfg, err := config.Load(getenv)
	if err != nil {
		h.logger(nil).Error("configuration", "error", err.Error())
		return rotate.Report{}, err
	}
	return h.run(ctx, cfg, getenv, req)
}

// run is Run with the configuration already loaded through getenv.
func (h *Handler) run(ctx context.Context, cfg config.Config, getenv func(string) string, req rotate.Request) (rotate.Report, error) {
	if req.RequestID == "" {
		req.RequestID = NewRequestID()
	}
	base := h.logger(&cfg)
	if inv, ok := scf.FromContext(ctx); ok {
		base = base.With("functionName", inv.FunctionName, "namespace", inv.Namespace, "region", inv.Region)
	} else if fields, ok := lambdaLogFields(ctx, getenv); ok {
		base = base.With(fields...)
	}
	log := base.With("requestId", req.RequestID)
	if onlyOutside(req.Zones, cfg.Zones) {
		// Building the engine reads credentials (perhaps an AWS secret) and
		// assumes ROLE_ARN; the engine would then refuse every zone anyway.
		// Refuse first, with the engine's own report, calling nothing.
		rep := (&rotate.Engine{Allowed: cfg.Zones, Window: cfg.DeliveryWindow, Margin: h.Tuning.Margin, Logger: base}).Run(ctx, req)
		log.Warn("request refused: no requested zone is in ZONE_IDS", "action", string(req.Action), "zones", req.Zones)
		return rep, nil
	}
	engine, err := h.engine(ctx, cfg, getenv, log)
	if err != nil {
		log.Error("setup", "action", string(req.Action), "error", err.Error())
		return rotate.Report{}, err
	}
	engine.Logger = base // the engine names the request on each line itself
	start := time.Now()
	rep := engine.Run(ctx, req)
	log.Info("request done", "action", string(req.Action), "ok", rep.OK, "zones", len(rep.Zones),
		"rotationId", rep.RotationID, "duration", time.Since(start).String())
	return rep, nil
}

// onlyOutside reports whether zones names zones and none of them is in
// allowed (ZONE_IDS).
func onlyOutside(zones, allowed []string) bool {
	for _, z := range zones {
		if slices.Contains(allowed, z) {
			return false
		}
	}
	return len(zones) > 0
}

// engine assembles the rotation engine for one invocation.
func (h *Handler) engine(ctx context.Context, cfg config.Config, getenv func(string) string, log *slog.Logger) (*rotate.Engine, error) {
	h.init()
	var awsAPI *secretsmanager.Client
	if cfg.AWS != nil || cfg.TencentCredentialsSecret != "" {
		var httpClient aws.HTTPClient // nil: the sink's shared client
		if h.Transport != nil {
			httpClient = &http.Client{Transport: h.Transport}
		}
		var err error
		if awsAPI, err = awssm.NewAPI(getenv, httpClient); err != nil {
			return nil, err
		}
	}
	cred, err := h.credentials(ctx, cfg, getenv, awsAPI)
	if err != nil {
		return nil, err
	}
	t := h.Tuning
	api := func(ep endpoint.Endpoint, limits *tcapi.Limits) *tcapi.Client {
		return &tcapi.Client{Endpoint: ep, Credential: cred, Limits: limits,
			Timeout: t.APITimeout, Retry: t.APIRetry, Transport: h.Transport, Logger: log}
	}
	if cfg.RoleARN != "" {
		sts := api(cfg.STS, nil)
		sts.Region = cfg.Region
		cred, err = h.roles.Get(ctx, sts, cred, cfg.RoleARN, credentials.SessionName(functionName(ctx)))
		if err != nil {
			return nil, err
		}
	}
	var sinks []sink.Sink
	if cfg.SSM != nil {
		s := ssm.New(*cfg.SSM, api(cfg.SSM.Endpoint, h.limitsFor(limitsKey{service: ssm.Service, rate: 20}, ssm.RateLimits())))
		s.Logger = log
		sinks = append(sinks, s)
	}
	if cfg.AWS != nil {
		s := awssm.New(awsAPI, cfg.AWS.SecretID)
		s.Logger = log
		sinks = append(sinks, s)
	}
	if cfg.Webhook != nil {
		w, err := webhook.New(*cfg.Webhook)
		if err != nil {
			return nil, fmt.Errorf("WEBHOOK_SECRET: %w", err)
		}
		w.Logger, w.Retry, w.AttemptTimeout = log, t.WebhookRetry, t.WebhookTimeout
		if h.Transport != nil {
			w.Client = &http.Client{Transport: h.Transport}
		}
		sinks = append(sinks, w)
	}
	teoClient := teo.New(api(cfg.TEO, h.limitsFor(limitsKey{service: teo.Service, rate: cfg.TEORateLimit}, nil)))
	return &rotate.Engine{
		Allowed: cfg.Zones, TEO: teoClient, Sinks: sinks, Memory: h.memory,
		Window: cfg.DeliveryWindow, Workers: cmp.Or(t.Workers, workersFor(cfg.TEORateLimit)), Margin: t.Margin,
		RefreshRetry: t.RefreshRetry, MaxKeyAge: cfg.MaxKeyAge, Staged: cfg.Staged, Logger: log,
	}, nil
}

// credentials are the Tencent Cloud credentials of one invocation: from the
// AWS secret TENCENTCLOUD_CREDENTIALS_SECRET names (on AWS, where no Tencent
// role exists), else from the usual variables and files.
func (h *Handler) credentials(ctx context.Context, cfg config.Config, getenv func(string) string, awsAPI *secretsmanager.Client) (credentials.Credential, error) {
	id := cfg.TencentCredentialsSecret
	if id == "" {
		return credentials.Resolve(getenv)
	}
	value, err := awssm.GetString(ctx, awsAPI, id)
	if err != nil {
		return credentials.Credential{}, fmt.Errorf("reading the Tencent Cloud credentials from TENCENTCLOUD_CREDENTIALS_SECRET: %w", err)
	}
	return credentials.FromSecretValue(id, value)
}

// functionName names the function for the role's session: SCF's
// FunctionName, else Lambda's, else "" (the command line).
func functionName(ctx context.Context) string {
	if inv, ok := scf.FromContext(ctx); ok && inv.FunctionName != "" {
		return inv.FunctionName
	}
	return lambdacontext.FunctionName
}

// workersFor is how many zones a run keeps in flight: two per request a
// second that each TEO action allows, enough to keep every limited action
// busy while the others answer, bounded for small limits and large ones.
func workersFor(teoRate float64) int {
	return min(max(int(math.Ceil(2*teoRate)), 4), 64)
}

// NewRequestID returns a random id for requests the platform did not name.
func NewRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
