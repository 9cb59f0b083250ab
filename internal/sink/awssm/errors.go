package awssm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/excerpt"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/retry"
	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/secret"
)

// Codes for failures that carry no AWS error type: the answer never came,
// or could not be read.
const (
	CodeNetwork    = "ClientError.Network"    // no answer: refused, reset, dropped connection
	CodeTimeout    = "ClientError.Timeout"    // no answer within the attempt's timer
	CodeHTTPStatus = "ClientError.HTTPStatus" // an HTTP status without an AWS error type
	CodeUnreadable = "ClientError.Unreadable" // an answer that could not be decoded
	CodeCanceled   = "ClientError.Canceled"   // the invocation is out of time or cancelled
	CodeClient     = "ClientError"            // anything else on our side (signing, credentials)
)

// retryableCodes are the AWS error types worth sending again unchanged.
// Everything else (ResourceNotFoundException, InvalidRequestException,
// InvalidParameterException, AccessDeniedException, ResourceExistsException,
// LimitExceededException, DecryptionFailure, …) needs a person or a
// different request.
var retryableCodes = map[string]bool{
	"ThrottlingException":         true,
	"TooManyRequestsException":    true,
	"RequestLimitExceeded":        true,
	"InternalServiceError":        true,
	"InternalFailure":             true,
	"ServiceUnavailable":          true,
	"ServiceUnavailableException": true,
	"RequestTimeout":              true,
	"RequestTimeoutException":     true,
}

// Error is a failure of one AWS Secrets Manager action on one secret. Its
// message names the secret and the action and never holds a value: AWS's own
// message is quoted (shortened), the SDK's texts, which may quote a response
// body, are not.
type Error struct {
	Secret    string // name or ARN
	Action    string // AWS action, e.g. "PutSecretValue"
	Code      string // AWS error type, e.g. "ResourceNotFoundException", or a Code* constant
	Message   string
	Status    int // HTTP status, when an answer came
	RequestID string
	retryable bool
	cause     error // kept for errors.Is/As; its text is only printed for transport failures
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "aws secret %s: %s: %s", e.Secret, e.Action, e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (RequestId %s)", e.RequestID)
	}
	return b.String()
}

// Unwrap returns the underlying cause (a transport error, a context error).
func (e *Error) Unwrap() error { return e.cause }

// Retryable is the one classification of AWS failures into transient and
// final; retry.IsRetryable asks it.
func (e *Error) Retryable() bool { return e.retryable }

// Operation is the AWS action that failed (for reports).
func (e *Error) Operation() string { return e.Action }

// ErrorCode is the AWS error type (for reports).
func (e *Error) ErrorCode() string { return e.Code }

// Code returns the error code carried by err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func finalError(secret, action, code, message string) *Error {
	return &Error{Secret: secret, Action: action, Code: code, Message: message}
}

// classify converts what the SDK returned for one attempt. ctx is the
// caller's context, actx the attempt's (from retry.Do); written is the key
// the request carried, if any, which AWS's message must not quote.
func classify(ctx, actx context.Context, secretID, action string, written secret.Key, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Secret: secretID, Action: action}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		e.Status = re.HTTPStatusCode()
	}
	var are *awshttp.ResponseError
	if errors.As(err, &are) {
		e.RequestID = are.ServiceRequestID()
	}
	var api smithy.APIError
	var de *smithy.DeserializationError
	switch {
	case ctx.Err() != nil:
		// Out of time or cancelled: final, and the report says so.
		e.Code, e.Message, e.cause = CodeCanceled, "no answer: "+ctx.Err().Error(), ctx.Err()
	case retry.AttemptTimedOut(actx):
		// The attempt's own timer fired; what the transport made of it would
		// only mislead, and a wrapped context error would read as final.
		e.Code, e.Message, e.retryable = CodeTimeout, "no answer within the attempt timeout", true
	case errors.As(err, &api):
		e.Code = api.ErrorCode()
		msg := api.ErrorMessage()
		if !written.IsZero() {
			// Before the excerpt: a cut must not leave part of the key.
			msg = strings.ReplaceAll(msg, written.Reveal(), "[redacted]")
		}
		e.Message = excerpt.Of(msg, 200)
		e.retryable = retryableCodes[e.Code] || e.Status >= 500 || e.Status == http.StatusTooManyRequests
		if e.Code == "" {
			e.Code = CodeHTTPStatus
		}
	case e.Status >= 300:
		// An error status whose body is no AWS error: a proxy's or a load
		// balancer's page.
		e.Code, e.Message = CodeHTTPStatus, fmt.Sprintf("HTTP status %d without an AWS answer", e.Status)
		e.retryable = e.Status >= 500 || e.Status == http.StatusTooManyRequests
	case errors.As(err, &de):
		// Its Snapshot and its decoder's message may quote the body, which
		// for GetSecretValue is the secret: only the type is kept.
		e.Code, e.Message = CodeUnreadable, fmt.Sprintf("unreadable answer (%T)", de.Err)
		e.retryable = true // a truncated answer
	case retry.IsNetwork(err):
		var se *smithyhttp.RequestSendError
		cause := err
		if errors.As(err, &se) && se.Err != nil {
			cause = se.Err
		}
		e.Code, e.Message, e.retryable, e.cause = CodeNetwork, "no answer: "+excerpt.Of(cause.Error(), 200), true, cause
	default:
		// Signing, credential retrieval, a request the SDK refused to build.
		// The SDK's wording is not printed: a credential provider's error can
		// quote what it read (credential_process output, keys included).
		e.Code, e.Message, e.cause = CodeClient,
			fmt.Sprintf("could not build or sign the request, or get the AWS credentials (%T)", unwrapOperation(err)), err
	}
	return e
}

// unwrapOperation drops the SDK's "operation error Secrets Manager: X,"
// prefix: Error already names the action.
func unwrapOperation(err error) error {
	var oe *smithy.OperationError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}
