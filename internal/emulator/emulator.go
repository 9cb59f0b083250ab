package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
)

const (
	maxBodyBytes      = 1 << 20
	defaultTEORate    = 20
	defaultRoleTTL    = 12 * time.Hour
	controlPathPrefix = "/_emulator/"
)

// Options configure an Emulator. The zero value is usable.
type Options struct {
	// Zones that exist from the start, each with a fresh key.
	Zones []string
	// Now is the emulator clock: signature skew, token expiry, rate limits,
	// CreateTime and scheduled deletions follow it. Default time.Now. The
	// SDK stamps requests with the real time, so a test clock must stay
	// within 5 minutes of it unless the test wants AuthFailure.SignatureExpire.
	Now func() time.Time
	// TEORateLimit is the per-action limit of the TEO key APIs in requests
	// per second. 0 means the documented 20; a negative value turns the
	// limit off (load tests).
	TEORateLimit float64
	// CredentialTTL is the lifetime of RoleCredential and AWSCredential.
	// Default 12h.
	CredentialTTL time.Duration
	// Roles, if not empty, are the only RoleArns AssumeRole accepts.
	Roles []string
	// Logger gets one line per API call (action, target, code, duration).
	// It never sees a key, token or signature. Default: no logging.
	Logger *slog.Logger
}

// Emulator is an http.Handler answering the Tencent Cloud API 3.0 for TEO,
// SSM and STS, AWS Secrets Manager (requests with an X-Amz-Target of
// "secretsmanager.<Action>"), plus the /_emulator/ control surface. All methods are safe
// for concurrent use.
type Emulator struct {
	now        func() time.Time
	logger     *slog.Logger
	roles      map[string]bool // nil: every well-formed RoleArn is accepted
	endpoints  map[string]*endpoint
	permanent  Credential
	role       Credential
	control    http.Handler
	life       context.Context // ended by Close; ends injected delays
	end        context.CancelFunc
	server     *http.Server // set by Start
	listenAddr string       // set by Start
	awsCred    AWSCredential
	awsSigner  *v4.Signer

	mu        sync.Mutex
	creds     map[string]Credential // by SecretId
	zones     map[string]string     // zone → key; "" when the zone has no key
	secrets   map[secretKey]*SecretState
	faults    []*activeFault // in injection order; the first match wins
	calls     map[string]int
	performed map[string]int
	signedBy  map[string]int // authenticated API 3.0 requests by SecretId
	throttled int            // calls the rate limiter refused
	callLog   []*LoggedCall

	awsCreds   map[string]AWSCredential // by AccessKeyID
	awsSecrets map[secretKey]*AWSSecretState
}

// New returns an emulator with a fresh permanent key pair and a fresh
// execution-role credential. It does not listen: serve it with
// httptest.NewServer or an http.Server, or use Start.
func New(opts Options) *Emulator {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	teoRate := opts.TEORateLimit
	if teoRate == 0 {
		teoRate = defaultTEORate
	}
	ttl := opts.CredentialTTL
	if ttl <= 0 {
		ttl = defaultRoleTTL
	}
	e := &Emulator{
		now:        now,
		logger:     logger,
		endpoints:  newEndpoints(teoRate),
		creds:      map[string]Credential{},
		zones:      map[string]string{},
		secrets:    map[secretKey]*SecretState{},
		calls:      map[string]int{},
		performed:  map[string]int{},
		signedBy:   map[string]int{},
		awsSigner:  v4.NewSigner(),
		awsCreds:   map[string]AWSCredential{},
		awsSecrets: map[secretKey]*AWSSecretState{},
	}
	if len(opts.Roles) > 0 {
		e.roles = make(map[string]bool, len(opts.Roles))
		for _, r := range opts.Roles {
			e.roles[r] = true
		}
	}
	e.permanent = newCredential()
	e.role = newCredential()
	e.role.Token = newSessionToken()
	e.role.Expires = now().Add(ttl)
	e.creds[e.permanent.SecretID] = e.permanent
	e.creds[e.role.SecretID] = e.role
	e.awsCred = newAWSCredential(now().Add(ttl))
	e.awsCreds[e.awsCred.AccessKeyID] = e.awsCred
	for _, z := range opts.Zones {
		e.zones[z] = newGatewayKey()
	}
	e.control = e.controlHandler()
	e.life, e.end = context.WithCancel(context.Background())
	return e
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves the emulator in the
// background until Close.
func Start(addr string, opts Options) (*Emulator, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen: %w", err)
	}
	e := New(opts)
	e.listenAddr = ln.Addr().String()
	e.server = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := e.server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			e.logger.Error("emulator server stopped", slog.String("error", err.Error()))
		}
	}()
	return e, nil
}

// URL is the base URL ("http://127.0.0.1:port") of a started emulator, ""
// if it was not started with Start. The SDK wants the host:port part as
// HttpProfile.Endpoint, with Scheme "HTTP".
func (e *Emulator) URL() string {
	if e.listenAddr == "" {
		return ""
	}
	return "http://" + e.listenAddr
}

// Close ends pending injected delays and, for a started emulator, stops the
// server and closes its connections.
func (e *Emulator) Close() error {
	e.end()
	if e.server == nil {
		return nil
	}
	return e.server.Close()
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPathPrefix) {
		e.control.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	requestID := newRequestID()
	pr := &tc3Protocol
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), awsTargetPrefix) {
		pr = &awsProtocol
	}
	out := e.serve(w, r, requestID, pr)
	code := out.code
	if code == "" {
		code = "OK"
	}
	attrs := []slog.Attr{
		slog.String("action", out.action),
		slog.String("target", out.target),
		slog.String("code", code),
		slog.Duration("duration", time.Since(start)),
		slog.String("request_id", requestID),
	}
	if out.fault != "" {
		attrs = append(attrs, slog.String("fault", out.fault))
	}
	e.logger.LogAttrs(r.Context(), slog.LevelInfo, pr.logMessage, attrs...)
}

// outcome is what gets logged about a call.
type outcome struct {
	action, target string
	code           string // "" for success
	fault          string // phase of the injected fault that applied, if any
}

// protocol is what the Tencent Cloud API 3.0 and the AWS JSON 1.1 requests
// differ in; serve runs the same steps for both.
type protocol struct {
	logMessage   string // of the log line of a call
	actionHeader string // the header that names the action
	// The answers to a method other than POST, a body over maxBodyBytes
	// and a body that cannot be read; internal stands in for an error that
	// is not an *apiError.
	notPost, tooBig, unreadable, internal *apiError
	// authenticate verifies the signature of r, whose body has been read,
	// and returns what the credential scope names: the service (TC3) or
	// the region (AWS).
	authenticate func(e *Emulator, r *http.Request, body []byte) (scope string, err error)
	// resolve finds the endpoint of the action; from then on the request
	// counts in Calls.
	resolve func(e *Emulator, r *http.Request, scope, action string) (*endpoint, error)
	// parse reads the body into the action's parameters.
	parse func(body []byte) (params, error)
	// target is what a Fault.Target and the call log name.
	target func(params) string
	// throttled is the answer to a call the rate limiter refuses.
	throttled func(ep *endpoint) error
	// region is the region the action runs in, checked after the rate
	// limiter.
	region func(ep *endpoint, r *http.Request, scope string) (string, error)
	// writeResult and writeError answer in the protocol's format.
	writeResult func(w http.ResponseWriter, requestID string, res result)
	writeError  func(w http.ResponseWriter, requestID string, ae *apiError)
}

// code is the code err is answered with; "" for nil.
func (pr *protocol) code(err error) string {
	if err == nil {
		return ""
	}
	return pr.asAPIError(err).Code
}

func (pr *protocol) asAPIError(err error) *apiError {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae
	}
	return pr.internal
}

// fail answers err and returns the code it used.
func (pr *protocol) fail(w http.ResponseWriter, requestID string, err error) string {
	ae := pr.asAPIError(err)
	pr.writeError(w, requestID, ae)
	return ae.Code
}

// tc3Protocol is the Tencent Cloud API 3.0: TC3-HMAC-SHA256, the
// {"Response":{...}} envelope.
var tc3Protocol = protocol{
	logMessage:   "tencentcloud api call",
	actionHeader: "X-TC-Action",
	notPost:      apiErrorf("UnsupportedProtocol", "Only POST requests with a JSON body are supported."),
	tooBig:       apiErrorf("RequestSizeLimitExceeded", "The request body exceeds %d bytes.", maxBodyBytes),
	unreadable:   apiErrorf("InvalidRequest", "The request body could not be read."),
	internal:     apiErrorf("InternalError", "An internal error has occurred."),
	authenticate: (*Emulator).authenticate,
	resolve: func(e *Emulator, r *http.Request, svc, action string) (*endpoint, error) {
		return resolve(e.endpoints, svc, r.Header.Get("X-TC-Version"), action)
	},
	parse:  parseParams,
	target: params.target,
	throttled: func(ep *endpoint) error {
		return apiErrorf("RequestLimitExceeded",
			"Your request rate for `%s` exceeds the frequency limit of %g requests per second. Please reduce the frequency of calls.",
			ep.action, ep.perSecond)
	},
	region: func(ep *endpoint, r *http.Request, _ string) (string, error) {
		region := r.Header.Get("X-TC-Region")
		if services[ep.service].regional && region == "" {
			return "", missingParameter("Region")
		}
		return region, nil
	},
	writeResult: writeResult,
	writeError:  writeError,
}

// serve runs the processing order described in the package comment.
func (e *Emulator) serve(w http.ResponseWriter, r *http.Request, requestID string, pr *protocol) outcome {
	out := outcome{action: r.Header.Get(pr.actionHeader)}
	fail := func(err error) outcome {
		out.code = pr.fail(w, requestID, err)
		return out
	}
	if r.Method != http.MethodPost {
		return fail(pr.notPost)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		return fail(pr.tooBig)
	} else if err != nil {
		return fail(pr.unreadable)
	}

	scope, err := pr.authenticate(e, r, body)
	if err != nil {
		return fail(err)
	}
	ep, err := pr.resolve(e, r, scope, out.action)
	if err != nil {
		return fail(err)
	}
	e.count(e.calls, ep.action)

	p, err := pr.parse(body)
	if err != nil {
		e.logCall(ep, "", false, nil, pr.code(err))
		return fail(err)
	}
	out.target = pr.target(p)

	f, faulted := e.takeFault(ep.action, out.target)
	if faulted && f.Phase == Before {
		out.fault = f.Phase.String()
		var entry *LoggedCall
		if code, answers := faultCode(f); answers {
			entry = e.logCall(ep, out.target, false, nil, code)
		}
		if code, done := e.applyFault(w, r, requestID, pr, f); done {
			// "canceled" if the client left during a delay; a delay-only
			// fault logged nothing yet, and every counted call is logged.
			if entry == nil {
				e.logCall(ep, out.target, false, nil, code)
			} else {
				e.setLogCode(entry, code)
			}
			out.code = code
			return out
		}
	}

	rec := &callRecord{}
	res, err := e.perform(pr, ep, r, scope, p, rec)
	entry := e.logCall(ep, out.target, err == nil, rec, pr.code(err))

	if faulted && f.Phase == After {
		out.fault = f.Phase.String()
		if code, answers := faultCode(f); answers {
			e.setLogCode(entry, code)
		}
		if code, done := e.applyFault(w, r, requestID, pr, f); done {
			e.setLogCode(entry, code)
			out.code = code
			return out
		}
	}
	if err != nil {
		return fail(err)
	}
	pr.writeResult(w, requestID, res)
	return out
}

// resolve finds the endpoint of a request whose credential scope named svc.
func resolve(endpoints map[string]*endpoint, svc, version, action string) (*endpoint, error) {
	spec, ok := services[svc]
	if !ok {
		return nil, apiErrorf("NoSuchProduct", "The product `%s` does not exist.", svc)
	}
	if version == "" {
		return nil, missingParameter("Version")
	}
	if version != spec.version {
		return nil, apiErrorf("NoSuchVersion", "The API version `%s` does not exist for `%s`.", version, svc)
	}
	if action == "" {
		return nil, missingParameter("Action")
	}
	ep, ok := endpoints[action]
	if !ok || ep.service != svc {
		return nil, apiErrorf("InvalidAction", "The API `%s` does not exist for `%s`.", action, svc)
	}
	return ep, nil
}

// perform runs the rate limiter, the region check and the action, and
// counts the action as performed if it succeeded.
func (e *Emulator) perform(pr *protocol, ep *endpoint, r *http.Request, scope string, p params, rec *callRecord) (result, error) {
	now := e.now()
	if ep.window != nil && !ep.window.Allow(now) {
		e.mu.Lock()
		e.throttled++
		e.mu.Unlock()
		return nil, pr.throttled(ep)
	}
	region, err := pr.region(ep, r, scope)
	if err != nil {
		return nil, err
	}
	res, err := ep.handle(e, call{now: now, region: region, params: p, rec: rec})
	if err != nil {
		return nil, err
	}
	e.count(e.performed, ep.action)
	return res, nil
}

func (e *Emulator) count(counter map[string]int, action string) {
	e.mu.Lock()
	counter[action]++
	e.mu.Unlock()
}

// sleep waits d unless the client goes away or the emulator is closed first;
// it reports whether the full delay elapsed.
func (e *Emulator) sleep(ctx context.Context, d time.Duration) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.life, cancel)()
	return retry.Sleep(ctx, d) == nil
}
