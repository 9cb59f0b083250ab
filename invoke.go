package keyrotator

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/config"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/event"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/httptrigger"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/rotate"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/scf"
)

// EventError is an event this function does not understand: retrying it
// cannot help, so it is reported as such.
type EventError struct{ Err error }

func (e *EventError) Error() string { return "bad event: " + e.Err.Error() }
func (e *EventError) Unwrap() error { return e.Err }

// Invoke handles one platform invocation: payload is the event JSON, the
// answer is JSON. It serves as the SCF handler (scf.Handler) and the Lambda
// handler alike.
//
// Timer, schedule and direct events answer with the report; a report that
// is not ok is also returned as the error, so that the platform's retry
// applies. HTTP events always answer with an HTTP response in their own
// shape (event.EncodeResponse), never an invocation error.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev, err := event.Parse(payload)
	if err != nil {
		h.logger(nil).Error("event", "error", err.Error())
		var pe *event.Error
		if errors.As(err, &pe) && pe.HTTP() {
			// An HTTP caller always gets an answer in its event's shape.
			return event.EncodeResponse(pe.Shape, httptrigger.Respond(400, httptrigger.ErrorBody(400, err.Error())))
		}
		return nil, &EventError{err}
	}
	requestID := platformRequestID(ctx)
	if ev.Kind == event.HTTP {
		return h.serveHTTP(ctx, ev.HTTP, requestID)
	}
	action, err := rotate.ParseAction(string(ev.Action))
	if err != nil {
		return nil, &EventError{err}
	}
	rep, err := h.Run(ctx, rotate.Request{Action: action, Zones: ev.Zones, RequestID: requestID, RotationID: ev.RotationID, DryRun: ev.DryRun})
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return nil, fmt.Errorf("encoding the report: %w", err)
	}
	return body, rep.Err()
}

// serveHTTP authenticates and routes an HTTP event, then runs the action.
// Every answer, errors included, is an HTTP response in the event's shape.
func (h *Handler) serveHTTP(ctx context.Context, req *event.HTTPRequest, requestID string) ([]byte, error) {
	respond := func(status int, body []byte) ([]byte, error) {
		return event.EncodeResponse(req.Shape, httptrigger.Respond(status, body))
	}
	getenv := h.envFor(ctx)
	cfg, err := config.Load(getenv)
	if err != nil {
		// The details are in the log; an HTTP caller learns only that the
		// function cannot serve.
		h.logger(nil).Error("configuration", "error", err.Error())
		return respond(500, httptrigger.ErrorBody(500, "the function is misconfigured; see its logs"))
	}
	d := httptrigger.Config{
		Token: cfg.TriggerToken, Secret: cfg.TriggerSecret, Allowed: cfg.Zones, Replay: h.replayGuard(), Now: time.Now,
	}.Decide(req)
	if d.Status != 0 {
		h.logger(&cfg).Warn("http request refused", "requestId", requestID, "status", d.Status, "reason", d.Message,
			"method", req.Method, "path", req.Path, "sourceIp", req.SourceIP)
		return event.EncodeResponse(req.Shape, httptrigger.Refusal(d))
	}
	if req.RequestID != "" && requestID == "" {
		requestID = req.RequestID
	}
	// Only HTTP rotations are limited: a leaked trigger token can then churn
	// a zone's key at most once per MIN_ROTATION_INTERVAL.
	rep, err := h.run(ctx, cfg, getenv, rotate.Request{Action: d.Action, Zones: d.Zones, RequestID: requestID, RotationID: d.RotationID,
		MinInterval: cfg.MinRotationInterval})
	if d.RotationID != "" && (err != nil || !rep.OK) {
		// Not served: the sender's retry, with the same webhook-id, must
		// be let through to finish the job.
		h.replayGuard().Release(d.RotationID)
	}
	if err != nil {
		msg := err.Error()
		if config.IsConfigError(err) {
			msg = "the function is misconfigured; see its logs"
		}
		return respond(500, httptrigger.ErrorBody(500, msg))
	}
	if rep.RetryAfterSeconds > 0 {
		resp := httptrigger.Respond(http.StatusTooManyRequests, httptrigger.ErrorBody(http.StatusTooManyRequests, rep.Error))
		resp.Headers["Retry-After"] = strconv.FormatInt(rep.RetryAfterSeconds, 10)
		return event.EncodeResponse(req.Shape, resp)
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return respond(500, httptrigger.ErrorBody(500, "encoding the report failed"))
	}
	status := 200
	if !rep.OK {
		status = 502
	}
	return respond(status, body)
}

// platformRequestID is the id the platform gave this invocation, if any.
func platformRequestID(ctx context.Context) string {
	if inv, ok := scf.FromContext(ctx); ok && inv.RequestID != "" {
		return inv.RequestID
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return ""
}

// lambdaLogFields are the log fields naming the Lambda function that runs
// this invocation, the counterpart of SCF's functionName, namespace and
// region; ok is false outside Lambda.
func lambdaLogFields(ctx context.Context, getenv func(string) string) (fields []any, ok bool) {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return nil, false
	}
	name, region := lambdacontext.FunctionName, getenv("AWS_REGION")
	// arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
	if arn := strings.Split(lc.InvokedFunctionArn, ":"); len(arn) >= 7 && arn[5] == "function" {
		name = cmp.Or(name, arn[6])
		region = cmp.Or(region, arn[3])
	}
	return []any{"functionName", name, "region", region}, true
}

// LambdaHandler is the AWS Lambda handler: the raw event goes to Invoke
// through aws-lambda-go's own handler (its context carries the deadline and
// the request id), and the answer is already JSON.
func (h *Handler) LambdaHandler() lambda.Handler {
	return lambda.NewHandler(func(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
		return h.Invoke(ctx, event)
	})
}
